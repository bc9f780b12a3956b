import { loadavg } from "node:os";
import { createLogger } from "../common/logger.ts";
import { createPool, dropDatabase, type Pool } from "../common/postgres.ts";
import { REFERENCE_MIX } from "./bench/history-votes.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog } from "./bench/progress.ts";
import { median } from "./bench/report-cases.ts";
import { generateVotes } from "./bench/vote-data.ts";
import {
  copyReference,
  deleteStream,
  drainWithWriter,
  fillStream,
  type WriterBench,
} from "./bench/writer-run.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:history-ab -- --db tallyflow_bench_history_<pid>` (issue #29): does the
// history itself slow the writer down? bench:history's curve compares steps measured minutes
// apart, each right after a month was loaded, so the machine's moment moves with it. This
// takes a database bench:history kept (`--keep`) and a copy of it holding only its last
// month (the other months' partitions dropped: the same last partition, byte for byte, the
// same rollups and registry), and runs the real writer on each in turn, alternating which
// goes first, storing the same number of new votes of the last month's last day into that
// month's partition. Each run's rate is also read over one COPY of the same rows into an
// empty copy of `votes` right after it (bench:writer's reference), which cancels the rest of
// the machine. The ratio of the two databases' medians is the history's cost to the writer.

const USAGE = `usage: npm run bench:history-ab -- --db NAME [--runs N] [--step-votes N] [--keep]
  --db NAME           a database bench:history kept (--keep); it is not changed except for
                      the writer's new votes
  --runs N            writer runs on each database, alternated (default 4)
  --step-votes N      votes each writer run stores (default 200000)
  --keep              keep the copy with one month at the end (its name is printed)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL`;

const { values, RUNS, STEP_VOTES } = readCli(
  {
    usage: USAGE,
    options: {
      db: { type: "string" },
      runs: { type: "string", default: "4" },
      "step-votes": { type: "string", default: "200000" },
      keep: { type: "boolean", default: false },
    },
  },
  ({ values }) => ({
    values,
    RUNS: intFlag("runs", values.runs, { min: 1 }),
    STEP_VOTES: intFlag("step-votes", values["step-votes"], { min: 1_000 }),
  }),
);
if (values.db === undefined || !/^[a-z0-9_]+$/.test(values.db)) {
  process.stderr.write(`--db NAME is required (lower-case letters, digits, _)\n${USAGE}\n`);
  process.exit(2);
}
const HISTORY_DB = values.db;
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const ONE_MONTH_DB = `${HISTORY_DB}_one_month`;
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const VOTES_PER_MESSAGE = 100;
const BATCH_MESSAGES = 100;
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface Side {
  label: string;
  db: string;
  pool: Pool;
  bench: WriterBench;
  runs: { rate: number; reference: number }[];
}

/**
 * The votes partitions by month, oldest first (votes_pYYYY_MM; not the default or legacy),
 * and whether each holds a row (those made ahead are empty).
 */
async function monthPartitions(pool: Pool): Promise<{ name: string; rows: boolean }[]> {
  const { rows } = await pool.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
     where i.inhparent = 'votes'::regclass and c.relname ~ '^votes_p[0-9]{4}_[0-9]{2}$'
     order by c.relname`,
  );
  const months: { name: string; rows: boolean }[] = [];
  for (const { name } of rows) {
    const held = await pool.query(`select 1 from ${name} limit 1`);
    months.push({ name, rows: held.rows.length > 0 });
  }
  return months;
}

const logger = createLogger("warn");
const started = new Date();
const admin = createPool(`${PG}/postgres`, logger, { max: 1 });
await admin.query(`drop database if exists ${ONE_MONTH_DB}`);
benchLog(`copying ${HISTORY_DB} to ${ONE_MONTH_DB} (a file copy of the whole database)...`);
const copyStart = performance.now();
await admin.query(`create database ${ONE_MONTH_DB} template ${HISTORY_DB}`);
benchLog(`copied in ${fmt((performance.now() - copyStart) / 1000, 1)} s`);

const sides: Side[] = [HISTORY_DB, ONE_MONTH_DB].map((db, i) => ({
  label: i === 0 ? "whole history" : "last month only",
  db,
  pool: createPool(`${PG}/${db}`, logger, { max: 2 }),
  bench: {
    dbUrl: `${PG}/${db}`,
    natsUrl: NATS_URL,
    stream: `BENCH_HISTORY_AB_${process.pid}_${i}`,
    subjectPrefix: `benchhistab${process.pid}x${i}`,
  },
  runs: [],
}));
const [history, oneMonth] = sides as [Side, Side];
// The history's last month (the newest partition holding votes; those made ahead stay,
// empty, in both), and every month before it dropped from the copy.
const partitions = await monthPartitions(oneMonth.pool);
const lastIndex = partitions.findLastIndex((p) => p.rows);
const last = partitions[lastIndex]?.name;
if (last === undefined) throw new Error(`${HISTORY_DB} has no votes_pYYYY_MM partition with votes`);
for (const p of partitions.slice(0, lastIndex)) await oneMonth.pool.query(`drop table ${p.name}`);
const rowsIn = async (side: Side) =>
  Number((await side.pool.query<{ n: string }>("select count(*) as n from votes")).rows[0]!.n);
const rowsBefore = [await rowsIn(history), await rowsIn(oneMonth)];
for (const side of sides) await side.pool.query("checkpoint");
benchLog(
  `${last}: the writer's month; ${HISTORY_DB} ${fmt(rowsBefore[0]!)} rows in votes, ` +
    `${ONE_MONTH_DB} ${fmt(rowsBefore[1]!)} (${lastIndex} months before it dropped)`,
);

// The last month's last day, as bench:history's writer steps store them.
const year = Number(last.slice(7, 11));
const month = Number(last.slice(12, 14));
const monthEnd = Date.UTC(year, month, 1);
const loads: number[] = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const order = r % 2 === 0 ? [history, oneMonth] : [oneMonth, history];
    for (const [k, side] of order.entries()) {
      const votes = generateVotes(
        {
          votes: STEP_VOTES,
          polls: REFERENCE_MIX.polls,
          optionsPerPoll: REFERENCE_MIX.optionsPerPoll,
          kiosks: REFERENCE_MIX.kiosks,
          days: 1,
          voterShare: 0.3,
          seed: 1_000 + r * 2 + k,
        },
        monthEnd - 1,
      );
      loads.push(loadavg()[0]!);
      const messages = await fillStream(side.bench, votes, VOTES_PER_MESSAGE);
      const run = await drainWithWriter(side.bench, {
        messages,
        batchMaxMessages: BATCH_MESSAGES,
        consumer: "history-ab",
      });
      const reference = await copyReference(side.pool, votes);
      const rate = STEP_VOTES / run.seconds;
      side.runs.push({ rate, reference });
      benchLog(
        `run ${r + 1}, ${side.label}: writer ${fmt(rate)} votes/s, reference COPY ${fmt(reference)} rows/s, ` +
          `writer × reference ${(rate / reference).toFixed(4)}`,
      );
    }
  }
} finally {
  for (const side of sides) await deleteStream(side.bench);
}

const med = (side: Side, f: (run: Side["runs"][number]) => number) => median(side.runs.map(f));
const lines = [
  machineLine(started),
  `Command: \`npm run bench:history-ab -- --db ${HISTORY_DB} --runs ${RUNS} --step-votes ${STEP_VOTES}\``,
  "",
  `The writer stores ${fmt(STEP_VOTES)} votes of ${last}'s last day a run (100 a message, BATCH_MAX_MESSAGES=${BATCH_MESSAGES}) into ${last}, on the kept history and on a copy holding only ${last}, alternately (${RUNS} runs each); load average ${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)} at the runs' starts.`,
  "",
  "| run | database | rows in votes before | writer votes/s | reference COPY rows/s | writer × reference |",
  "| ---: | --- | ---: | ---: | ---: | ---: |",
];
for (let r = 0; r < RUNS; r++)
  for (const [i, side] of sides.entries()) {
    const run = side.runs[r]!;
    lines.push(
      `| ${r + 1} | ${side.label} | ${fmt(rowsBefore[i]! + r * STEP_VOTES)} | ${fmt(run.rate)} | ${fmt(run.reference)} | ${(run.rate / run.reference).toFixed(4)} |`,
    );
  }
const rate = (s: Side) => med(s, (run) => run.rate);
const relative = (s: Side) => med(s, (run) => run.rate / run.reference);
lines.push(
  "",
  `Medians: writer ${fmt(rate(history))} votes/s over the whole history against ${fmt(rate(oneMonth))} over its last month alone: **${(rate(history) / rate(oneMonth)).toFixed(4)}**; writer × reference ${relative(history).toFixed(4)} against ${relative(oneMonth).toFixed(4)}: **${(relative(history) / relative(oneMonth)).toFixed(4)}** (1.0: the history costs the writer nothing).`,
);
process.stdout.write(`${lines.join("\n")}\n`);

for (const side of sides) await side.pool.end();
if (values.keep) benchLog(`kept ${ONE_MONTH_DB}`);
else await dropDatabase(`${PG}/${ONE_MONTH_DB}`);
await admin.end();
