import { jetstream } from "@nats-io/jetstream";
import { readCommonConfig } from "../common/config.ts";
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

interface DeadLetter {
  id: number;
  stream: string;
  stream_seq: number;
  item_index: number;
  subject: string;
  raw: Buffer;
  error: string;
  /** invalid | store_failed | max_deliveries (migration 007). */
  reason: string;
  deliveries: number;
  first_seen: Date;
  /** Set again each time the same message (msg_id, item_index: migration 015) is dead-lettered. */
  last_seen: Date;
  replayed_at: Date | null;
}

try {
  if (command === "list") {
    const { rows } = await pool.query<DeadLetter>(
      `select * from dead_letters ${values.all ? "" : "where replayed_at is null"} order by id`,
    );
    if (rows.length === 0) process.stdout.write("no dead letters\n");
    for (const r of rows) {
      const preview = r.raw.toString("utf8").slice(0, 120).replace(/\s+/g, " ");
      process.stdout.write(
        `#${r.id}  ${r.first_seen.toISOString()}  ${r.subject}  seq=${r.stream_seq}` +
          `${r.item_index >= 0 ? ` item=${r.item_index}` : ""}  deliveries=${r.deliveries}` +
          `  reason=${r.reason}` +
          `${r.replayed_at ? `  replayed=${r.replayed_at.toISOString()}` : ""}\n` +
          `    error: ${r.error}\n    raw:   ${preview}\n`,
      );
    }
  } else {
    const { rows } = values.all
      ? await pool.query<DeadLetter>(
          "select * from dead_letters where replayed_at is null order by id",
        )
      : await pool.query<DeadLetter>("select * from dead_letters where id = $1", [idArg]);
    if (rows.length === 0)
      throw new Error(values.all ? "nothing to replay" : `no dead letter #${idArg}`);
    const nc = await connectNats(config.natsUrl, "dlq", natsAuth, logger);
    try {
      const js = jetstream(nc);
      for (const r of rows) {
        const data =
          r.item_index >= 0 ? Buffer.from(`{"v":1,"votes":[${r.raw.toString("utf8")}]}`) : r.raw;
        // One message id per dead letter and sighting: a repeated replay (a crash before
        // replayed_at was set) is dropped by JetStream; the same message dead-lettered
        // again (last_seen moved) is published anew.
        const msgID = `dlq-${r.id}-${r.last_seen.getTime()}`;
        const ack = await js.publish(r.subject, data, { msgID });
        await pool.query("update dead_letters set replayed_at = now() where id = $1", [r.id]);
        process.stdout.write(
          `#${r.id} replayed as stream seq ${ack.seq}${ack.duplicate ? " (already replayed)" : ""}\n`,
        );
      }
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
