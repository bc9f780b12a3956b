import { jetstream } from "@nats-io/jetstream";
import { readCommonConfig } from "../common/config.ts";
import {
  findDeadLetter,
  listDeadLetters,
  type PublishMessage,
  replayDeadLetter,
  replayPending,
} from "../common/dead-letters.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { closeNats, connectNats } from "../common/nats.ts";
import { readNatsAuth } from "../common/nats-auth.ts";
import { createPool } from "../common/postgres.ts";
import { CliError, readCli } from "./cli.ts";

// `npm run dlq -- list [--all]`: dead letters not yet replayed (--all: every one), with
// why each is there (invalid data, store_failed after bounded retries, max_deliveries).
// `npm run dlq -- replay <id> | replay --all`: publish them to the stream again after a
// fix. A whole message is re-published as it was; a single vote from a batch message is
// wrapped in a message of its own. Replays are safe to repeat: votes are deduplicated.
// The listing and the replay are common/dead-letters.ts's, which the console's routes use too.

const USAGE = `usage: npm run dlq -- list [--all] | replay <id> | replay --all
  list           dead letters not yet replayed
  list --all     every dead letter, replayed or not
  replay <id>    publish dead letter <id> to the stream again
  replay --all   publish every dead letter not yet replayed
env: DATABASE_URL, NATS_URL, and the migration's NATS user (NATS_MIGRATE_USER,
  NATS_MIGRATE_PASSWORD): the operator's, allowed to publish votes`;

const { command, idArg, values } = readCli(
  {
    usage: USAGE,
    allowPositionals: true,
    options: { all: { type: "boolean", default: false } },
  },
  ({ positionals, values }) => {
    const [command, idArg, ...rest] = positionals;
    if (command !== "list" && command !== "replay")
      throw new CliError(
        command === undefined ? "a command is needed" : `unknown command "${command}"`,
      );
    const extra = command === "list" ? positionals.slice(1) : rest;
    if (extra.length > 0) throw new CliError(`unexpected argument "${extra[0]}"`);
    if (command === "replay" && values.all === (idArg !== undefined))
      throw new CliError("replay wants either a dead letter id or --all");
    if (idArg !== undefined && !/^\d+$/.test(idArg))
      throw new CliError(`not a dead letter id: ${idArg}`);
    return { command, idArg, values };
  },
);
const config = configOrExit(() => readCommonConfig(process.env));
const natsAuth = configOrExit(() => readNatsAuth(process.env, "migrate"));
const logger = createLogger(config.logLevel === "info" ? "warn" : config.logLevel, {
  service: "dlq",
});
const pool = createPool(config.databaseUrl, logger, { max: 2, applicationName: "dlq" });

try {
  if (command === "list") {
    const rows = await listDeadLetters(pool, { state: values.all ? "all" : "pending" });
    if (rows.length === 0) process.stdout.write("no dead letters\n");
    for (const r of rows) {
      const preview = r.raw.toString("utf8").slice(0, 120).replace(/\s+/g, " ");
      process.stdout.write(
        `#${r.id}  ${r.firstSeen.toISOString()}  ${r.subject}  seq=${r.streamSeq}` +
          `${r.itemIndex >= 0 ? ` item=${r.itemIndex}` : ""}  deliveries=${r.deliveries}` +
          `  reason=${r.reason}` +
          `${r.replayedAt ? `  replayed=${r.replayedAt.toISOString()}` : ""}\n` +
          `    error: ${r.error}\n    raw:   ${preview}\n`,
      );
    }
  } else {
    const one = values.all ? undefined : await findDeadLetter(pool, Number(idArg));
    if (!values.all && one === undefined) throw new Error(`no dead letter #${idArg}`);
    const nc = await connectNats(config.natsUrl, "dlq", natsAuth, logger);
    try {
      const js = jetstream(nc);
      const publish: PublishMessage = (subject, data, msgID) =>
        js.publish(subject, data, { msgID });
      const replayed =
        one === undefined
          ? await replayPending(pool, publish, {})
          : [await replayDeadLetter(pool, publish, one)];
      if (replayed.length === 0) throw new Error("nothing to replay");
      for (const r of replayed)
        process.stdout.write(
          `#${r.id} replayed as stream seq ${r.seq}${r.duplicate ? " (already replayed)" : ""}\n`,
        );
    } finally {
      await closeNats(nc);
    }
  }
} catch (err) {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  await pool.end();
}
