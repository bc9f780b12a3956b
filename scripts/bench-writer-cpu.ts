import { readFileSync } from "node:fs";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { generateVotes } from "./bench/vote-data.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:writer-cpu [-- --batches 200 --votes 500]`
// The batch writer's statements alone, in this process on one connection: storeBatch on
// the direct path (COPY into votes, rollups and change markers from the batch) and on the
// staging path (one-vote-per-voter polls, a vote repeated in each batch), timed per batch
// and in CPU seconds of the Postgres backend that ran them (from /proc/<pid>/stat: what the statements cost,
// whatever else the machine is doing) and of this process. No NATS, no child: for
// comparing two versions of the writer's SQL on a shared machine (run each on its own
// database, alternately).

const USAGE = `usage: npm run bench:writer-cpu -- [--batches N] [--votes N] [--db NAME]
  --batches N  batches per path (default 200)
  --votes N    votes per batch (default 500)
  --db NAME    scratch database, dropped at the end (default tallyflow_bench_writer_cpu)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432)`;

const { BATCHES, VOTES, DB } = readCli(
  {
    usage: USAGE,
    options: {
      batches: { type: "string", default: "200" },
      votes: { type: "string", default: "500" },
      db: { type: "string", default: "tallyflow_bench_writer_cpu" },
    },
  },
  ({ values }) => ({
    BATCHES: intFlag("batches", values.batches, { min: 1 }),
    VOTES: intFlag("votes", values.votes, { min: 1 }),
    DB: values.db,
  }),
);

const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const DB_URL = `${PG}/${DB}`;
const POLLS = 20;
const logger = createLogger("warn");

/** CPU seconds (user + system) of a process, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface PathResult {
  msPerBatch: number;
  backendCpuS: number;
  nodeCpuS: number;
  wallS: number;
}

async function runPath(pool: Pool, staging: boolean, seed: number): Promise<PathResult> {
  await pool.query("update polls set one_vote_per_voter = $1", [staging]);
  // One connection (max 1): every batch runs on this backend.
  const { rows } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
  const pid = rows[0]!.pid;
  let streamSeq = seed * 10_000_000;
  const batches = Array.from({ length: BATCHES }, (_, b) =>
    generateVotes({
      votes: VOTES,
      polls: POLLS,
      optionsPerPoll: 8,
      kiosks: 500,
      days: 1,
      voterShare: staging ? 0.3 : 0,
      seed: seed * 100_000 + b,
    }).map((v) => ({ ...v, streamSeq: ++streamSeq })),
  );
  // The staging path: since 2026-12-08 a batch of first votes in one-vote-per-voter polls is
  // stored directly (ballots claimed first); one vote repeated in each batch sends it
  // through staging, as a redelivery does.
  if (staging) for (const batch of batches) batch.push({ ...batch[0]!, streamSeq: ++streamSeq });
  const ms: number[] = [];
  const backend0 = cpuSeconds(pid);
  const node0 = process.cpuUsage();
  const wall0 = performance.now();
  for (const batch of batches) {
    const t = performance.now();
    await storeBatch(pool, "BENCH", batch, []);
    ms.push(performance.now() - t);
  }
  const wallS = (performance.now() - wall0) / 1000;
  const node = process.cpuUsage(node0);
  const { rows: after } = await pool.query<{ pid: number }>("select pg_backend_pid() as pid");
  if (after[0]!.pid !== pid) throw new Error("the connection was replaced mid-run");
  return {
    msPerBatch: median(ms),
    backendCpuS: cpuSeconds(pid) - backend0,
    nodeCpuS: (node.user + node.system) / 1e6,
    wallS,
  };
}

const started = new Date();
await dropDatabase(DB_URL);
await ensureDatabase(DB_URL);
const pool = createPool(DB_URL, logger, { max: 1, applicationName: "bench-writer-cpu" });
let direct: PathResult;
let staging: PathResult;
try {
  await migrate(pool, logger);
  await pool.query(
    `insert into polls (id, slug, title)
     select 'poll-' || lpad(i::text, 2, '0'), 'poll-' || lpad(i::text, 2, '0'), 'Poll ' || i from generate_series(1, $1::int) i`,
    [POLLS],
  );
  await pool.query(`insert into poll_options (poll_id, id, label, position)
    select p.id, 'opt-' || o, 'Option ' || o, o from polls p, generate_series(1, 8) o`);
  await runPath(pool, false, 1); // warm-up: caches, plans, the first rollup rows
  direct = await runPath(pool, false, 2);
  staging = await runPath(pool, true, 3);
} finally {
  await pool.end();
  await dropDatabase(DB_URL);
}
const row = (what: string, r: PathResult) =>
  `| ${what} | ${r.msPerBatch.toFixed(1)} | ${r.backendCpuS.toFixed(2)} | ${r.nodeCpuS.toFixed(2)} | ${r.wallS.toFixed(1)} |`;
process.stdout.write(
  `${[
    machineLine(started),
    `Command: \`${benchCommand("bench:writer-cpu", process.env, ["--batches", String(BATCHES), "--votes", String(VOTES)])}\``,
    "",
    `${BATCHES} batches of ${VOTES} votes per path, ${POLLS} polls × 8 options, one connection:`,
    "",
    "| path | median ms a batch | Postgres backend CPU s | this process CPU s | wall s |",
    "| --- | ---: | ---: | ---: | ---: |",
    row("direct (COPY into votes)", direct),
    row(
      "staging (one-vote-per-voter polls, 30 % with a voter id, one vote repeated a batch)",
      staging,
    ),
  ].join("\n")}\n`,
);
