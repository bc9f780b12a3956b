import { mkdtemp, rm, statfs } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { archiveExpiredPartitions } from "../batch-writer/votes-archive.ts";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { benchCommand } from "./bench/command-line.ts";
import { historyPublisher } from "./bench/history-publisher.ts";
import {
  DAY_MS,
  daysIn,
  fitLine,
  type HistoryMix,
  historyMonths,
  insertVotesParams,
  insertVotesSql,
  PEAK_HOURS,
  partitionOf,
  REFERENCE_MIX,
  rollupsOfPartitionSql,
  rowsPerMonth,
  uuidV7Sql,
} from "./bench/history-votes.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog } from "./bench/progress.ts";
import { median, REPORT_ZONES, reportCases, timeReports } from "./bench/report-cases.ts";
import { ratioVerdict, verdictLines, verdictWord } from "./bench/verdict.ts";
import { generateVotes } from "./bench/vote-data.ts";
import { votesSizes } from "./bench/votes-keys.ts";
import {
  copyReference,
  deleteStream,
  drainWithWriter,
  fillStream,
  type WriterBench,
} from "./bench/writer-run.ts";
import { intFlag, readCli } from "./cli.ts";
import { findReport, listReports } from "./report.ts";

// `npm run bench:history [-- --rows 100000000 --months 12]` (issue #29, "Years of votes"):
// `votes` with a history of --months months, loaded inside Postgres a month per step (the
// reference day's two peaks at bench:reports' mix, UUIDv7 ids carrying each vote's time so
// that each month lands in its own partition), and after each step the real batch writer
// (NATS stream → writer → Postgres, bench:writer's run) stores the same --step-votes new
// votes of the month just loaded, in the same batches: its COPY rate against the history's
// size is the curve, flat as the goal (the last step within 0.9× of the first). A
// ResultsPublisher runs after each step in this process (bench:publisher-memory's way: its
// heap after a full GC). At the full size: every analyst report through psql
// (bench:reports' cases), the retention job (archive-then-drop of the oldest month, VOTES_ARCHIVE_DIR's
// path) and dropping a month (votes_drop_expired_partitions), each with a writer's insert
// and a reader's query running beside it to show what their locks hold up. Its own database,
// stream and Redis prefix, removed at the end unless --keep. The disk is checked first from
// a sample of the rows: a size that would not fit is refused, with the size that would.

const USAGE = `usage: npm run bench:history -- [--rows N] [--months N] [--step-votes N]
                                [--batch-messages N] [--step-runs N] [--runs N]
                                [--report-timeout S] [--keep]
  --rows N            history rows loaded in Postgres (default 100000000)
  --months N          whole months they span, ending with last month; one step each
                      (default 12, at least 4)
  --step-votes N      votes the writer stores after each step (default 200000)
  --batch-messages N  the writer's BATCH_MAX_MESSAGES, 100 votes a message (default 100)
  --step-runs N       writer runs after each step, each storing --step-votes; the median
                      rate is the step's (default 1)
  --runs N            timed runs of each report; the median is shown (default 3)
  --report-timeout S  statement_timeout of each report run, in seconds (default 0: none); a
                      report cancelled by it is shown as over it
  --keep              keep the database at the end (its name is printed)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL`;

const { values, ROWS, MONTHS, STEP_VOTES, BATCH_MESSAGES, STEP_RUNS, RUNS, REPORT_TIMEOUT_S } =
  readCli(
    {
      usage: USAGE,
      options: {
        rows: { type: "string", default: "100000000" },
        months: { type: "string", default: "12" },
        "step-votes": { type: "string", default: "200000" },
        "batch-messages": { type: "string", default: "100" },
        "step-runs": { type: "string", default: "1" },
        runs: { type: "string", default: "3" },
        "report-timeout": { type: "string", default: "0" },
        keep: { type: "boolean", default: false },
      },
    },
    ({ values }) => ({
      values,
      ROWS: intFlag("rows", values.rows, { min: 1_000 }),
      MONTHS: intFlag("months", values.months, { min: 4, max: 120 }),
      STEP_VOTES: intFlag("step-votes", values["step-votes"], { min: 1_000 }),
      BATCH_MESSAGES: intFlag("batch-messages", values["batch-messages"], { min: 1 }),
      STEP_RUNS: intFlag("step-runs", values["step-runs"], { min: 1 }),
      RUNS: intFlag("runs", values.runs, { min: 1 }),
      REPORT_TIMEOUT_S: intFlag("report-timeout", values["report-timeout"], { min: 0 }),
    }),
  );

const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
/** Retention passes at most for the archive and for the drop (each gives up at a 1 s lock wait). */
const RETENTION_PASSES = 10;
const passes = (n: number) =>
  n === 1 ? "1 pass" : `${n} passes: the earlier gave up at the lock_timeout`;
const RUN = `${process.pid}`;
const DB_NAME = `tallyflow_bench_history_${RUN}`;
const DB_URL = `${PG}/${DB_NAME}`;
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const PREFIX = `benchhistory:${RUN}:`;
const BENCH: WriterBench = {
  dbUrl: DB_URL,
  natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  stream: `BENCH_HISTORY_${RUN}`,
  subjectPrefix: `benchhist${RUN}`,
};
const MIX: HistoryMix = REFERENCE_MIX;
const VOTES_PER_MESSAGE = 100;
const CHUNK = 1_000_000;
const SAMPLE_ROWS = 100_000;
/** Beside the rows: WAL (max_wal_size and what a checkpoint lags), sorts, the archive file. */
const HEADROOM_BYTES = 4 * 2 ** 30;
const logger = createLogger("warn");

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write("run with --expose-gc (npm run bench:history does)\n");
  process.exit(2);
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const gb = (bytes: number) => `${fmt(bytes / 2 ** 30, 1)} GB`;
const mb = (bytes: number) => fmt(bytes / 2 ** 20, 1);
const seconds = (ms: number) => fmt(ms / 1000, 1);

async function timed<T>(work: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await work();
  return { result, ms: performance.now() - start };
}

/** Free bytes of the file system holding Postgres's data (the nearest directory we may stat). */
async function freeDiskBytes(pool: Pool): Promise<{ bytes: number; path: string }> {
  const { rows } = await pool.query<{ dir: string }>(
    "select current_setting('data_directory') as dir",
  );
  for (let path = rows[0]!.dir; ; path = dirname(path)) {
    try {
      const s = await statfs(path);
      return { bytes: s.bavail * s.bsize, path };
    } catch (err) {
      if (path === dirname(path)) throw err;
    }
  }
}

/**
 * A month's rows through `votes`, with its indexes in place, in chunks: Postgres routes each
 * to the month's partition by its id. (Loading each month into a table of its own, indexing
 * it after and attaching it was slower here: ATTACH checks every row's event_id_time again.)
 */
async function loadMonth(pool: Pool, month: { start: Date; firstRow: number; rows: number }) {
  const partition = partitionOf(month.start);
  const end = month.firstRow + month.rows - 1;
  for (let first = month.firstRow; first <= end; first += CHUNK)
    await pool.query(
      insertVotesSql("votes"),
      insertVotesParams({ first, last: Math.min(end, first + CHUNK - 1) }, month, MIX),
    );
  await pool.query(rollupsOfPartitionSql(partition));
  await pool.query(`analyze ${partition}`);
}

/**
 * Bytes a history row takes with its indexes: SAMPLE_ROWS rows of the first month loaded
 * into a copy of its partition (its indexes and key included), measured, dropped.
 */
async function bytesPerRow(pool: Pool, first: Date): Promise<number> {
  await pool.query(`create table bench_sample (like ${partitionOf(first)} including all)`);
  try {
    await pool.query(
      insertVotesSql("bench_sample"),
      insertVotesParams(
        { first: 1, last: SAMPLE_ROWS },
        { start: first, firstRow: 1, rows: SAMPLE_ROWS },
        MIX,
      ),
    );
    const { rows } = await pool.query<{ bytes: string }>(
      "select pg_total_relation_size('bench_sample') as bytes",
    );
    return Number(rows[0]!.bytes) / SAMPLE_ROWS;
  } finally {
    await pool.query("drop table bench_sample");
  }
}

async function setUp(pool: Pool, months: readonly Date[]): Promise<void> {
  await migrate(pool, logger);
  const from = months[0]!;
  const to = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + months.length, 1));
  await pool.query(
    `insert into polls (id, slug, title, time_zone, opens_at, closes_at, one_vote_per_voter)
     select 'poll-' || lpad(p::text, 2, '0'), 'poll-' || lpad(p::text, 2, '0'), 'History poll ' || p, ($1::text[])[1 + (p - 1) % $2],
            $3, $4, false
     from generate_series(1, $5::int) p`,
    [REPORT_ZONES, REPORT_ZONES.length, from, to, MIX.polls],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p.id, 'opt-' || o, 'Option ' || o, o from polls p, generate_series(1, $1::int) o`,
    [MIX.optionsPerPoll],
  );
  await pool.query(
    `insert into kiosks (id, slug, name, token_hash)
     select 'kiosk-' || k, 'kiosk-' || k, 'Kiosk ' || k, sha256(k::text::bytea) from generate_series(1, $1::int) k`,
    [MIX.kiosks],
  );
  // Each month's partition, as the writers' maintenance makes the month's (migration 033).
  for (const m of months)
    await pool.query("select * from votes_ensure_partitions(interval '0', $1)", [m]);
}

interface Step {
  month: Date;
  /** Rows in votes before the writer's votes of this step (history and earlier steps'). */
  historyRows: number;
  loadMs: number;
  writerSeconds: number;
  writerRate: number;
  /** rows/s of one COPY of the step's votes into an empty copy of votes, right after. */
  reference: number;
  writerRssMb: number;
  heapBytes: number;
  rssBytes: number;
}

interface ProbeSample {
  at: number;
  ms: number;
}

/**
 * What an operation's locks hold up: a writer's insert of 1,000 votes (into the last month)
 * and a reader's query (one poll's last day) each run in a loop on a connection of its own,
 * from 2 s before `work` until it ends. Resolves to `work`'s time, and for each probe the
 * median latency before it and the slowest one overlapping it.
 */
async function withProbes<T>(
  pool: Pool,
  lastMonth: Date,
  work: () => Promise<T>,
): Promise<{
  result: T;
  ms: number;
  writer: { before: number; worst: number };
  reader: { before: number; worst: number };
}> {
  let stop = false;
  let seq = 2 ** 50 + Math.floor(Math.random() * 2 ** 40);
  const lastDay = new Date(lastMonth.getTime() + (daysIn(lastMonth) - 1) * DAY_MS);
  const writerSamples: ProbeSample[] = [];
  const readerSamples: ProbeSample[] = [];
  const loop = async (
    samples: ProbeSample[],
    query: (client: import("pg").PoolClient) => Promise<unknown>,
  ) => {
    const client = await pool.connect();
    try {
      while (!stop) {
        const at = performance.now();
        await query(client);
        samples.push({ at, ms: performance.now() - at });
      }
    } finally {
      client.release();
    }
    return samples;
  };
  const writer = loop(writerSamples, (c) => {
    seq += 1_000;
    return c.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stored_at, stream_seq)
       select ${uuidV7Sql("t", "g")}, 'poll-01', 'opt-1', 'kiosk-1', t, t, now(), g
       from (select g, $2::timestamptz + make_interval(secs => (g - $1) * 0.01) as t
             from generate_series($1::bigint, $1::bigint + 999) g) x`,
      [seq, lastDay],
    );
  });
  const reader = loop(readerSamples, (c) =>
    c.query("select count(*) from votes where poll_id = 'poll-01' and cast_at >= $1", [lastDay]),
  );
  // At least 2 s of each probe before the operation, and one probe done (the reader's query
  // takes over a second at 100 million rows: with none done, "before" had no sample).
  const probesBefore = performance.now();
  await new Promise((r) => setTimeout(r, 2_000));
  while (
    (writerSamples.length === 0 || readerSamples.length === 0) &&
    performance.now() - probesBefore < 30_000
  )
    await new Promise((r) => setTimeout(r, 100));
  const start = performance.now();
  let result: T;
  try {
    result = await work();
  } finally {
    stop = true;
  }
  const end = performance.now();
  const [w, r] = await Promise.all([writer, reader]);
  const judge = (samples: ProbeSample[]) => ({
    before: median(samples.filter((s) => s.at + s.ms < start).map((s) => s.ms)),
    worst: Math.max(
      0,
      ...samples.filter((s) => s.at < end && s.at + s.ms > start).map((s) => s.ms),
    ),
  });
  return { result, ms: end - start, writer: judge(w), reader: judge(r) };
}

const started = new Date();
const months = historyMonths(MONTHS, started.getTime());
const historyEnd = new Date(Date.UTC(started.getUTCFullYear(), started.getUTCMonth(), 1)).getTime();
const perMonth = rowsPerMonth(ROWS, months);
const loadBefore = loadavg()[0]!;
const machine = machineLine(started);

await dropDatabase(DB_URL);
await ensureDatabase(DB_URL);
const pool = createPool(DB_URL, logger, { max: 6, applicationName: "bench-history" });
const redis = await connectRedis(REDIS_URL, logger, "bench-history");
const archiveDir = await mkdtemp(join(tmpdir(), "bench-history-"));
let exitCode = 0;
try {
  await setUp(pool, months);
  const perRow = await bytesPerRow(pool, months[0]!);
  const writerRows = MONTHS * STEP_RUNS * STEP_VOTES;
  const need = perRow * (ROWS + writerRows) + HEADROOM_BYTES;
  const free = await freeDiskBytes(pool);
  benchLog(
    `${fmt(perRow)} bytes a row with its indexes (a sample of ${fmt(SAMPLE_ROWS)}): ` +
      `${fmt(ROWS)} rows and the writer's ${fmt(writerRows)} need ${gb(need)} with ` +
      `${gb(HEADROOM_BYTES)} headroom; ${gb(free.bytes)} free on ${free.path}`,
  );
  if (need > free.bytes) {
    const fits = Math.max(0, Math.floor((free.bytes - HEADROOM_BYTES) / perRow) - writerRows);
    process.stderr.write(
      `bench:history: ${fmt(ROWS)} rows will not fit: they need ${gb(need)} ` +
        `(${fmt(perRow)} bytes a row with its indexes, measured on a sample, + ${gb(HEADROOM_BYTES)} ` +
        `for WAL and the archive), ${gb(free.bytes)} are free on ${free.path}. ` +
        `About ${fmt(fits)} rows fit: --rows ${Math.floor(fits / 1_000_000) * 1_000_000}\n`,
    );
    exitCode = 2;
  } else {
    const publisher = historyPublisher(pool, redis, PREFIX, logger);
    const steps: Step[] = [];
    let firstRow = 1;
    let stored = 0;
    for (const [i, month] of months.entries()) {
      const rows = perMonth[i]!;
      const partition = partitionOf(month);
      const load = await timed(() => loadMonth(pool, { start: month, firstRow, rows }));
      firstRow += rows;
      stored += rows;
      const historyRows = stored;
      // The writer's votes of the month's last day, ids carrying their time: they go into
      // the month's partition, full, as a month's last votes do.
      const monthEnd = Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1);
      const runs: { seconds: number; peakRssMb: number; reference: number }[] = [];
      for (let r = 0; r < STEP_RUNS; r++) {
        const votes = generateVotes(
          {
            votes: STEP_VOTES,
            polls: MIX.polls,
            optionsPerPoll: MIX.optionsPerPoll,
            kiosks: MIX.kiosks,
            days: 1,
            voterShare: 0.3,
            seed: 1 + i * STEP_RUNS + r,
          },
          monthEnd - 1,
        );
        const messages = await fillStream(BENCH, votes, VOTES_PER_MESSAGE);
        const run = await drainWithWriter(BENCH, {
          messages,
          batchMaxMessages: BATCH_MESSAGES,
          consumer: "history",
        });
        // The same rows COPYed into an empty copy of votes right after: what the machine
        // gives a COPY at this moment, so that other work on it cancels out of the ratio.
        runs.push({ ...run, reference: await copyReference(pool, votes) });
        stored += STEP_VOTES;
      }
      const { rows: count } = await pool.query<{ n: string }>(
        `select count(*) as n from ${partition}`,
      );
      if (Number(count[0]!.n) !== rows + STEP_RUNS * STEP_VOTES)
        throw new Error(
          `${partition}: ${count[0]!.n} rows after the writer, expected ${fmt(rows + STEP_RUNS * STEP_VOTES)}`,
        );
      await publisher.run();
      gc();
      const memory = process.memoryUsage();
      const writerSeconds = median(runs.map((r) => r.seconds));
      const reference = median(runs.map((r) => r.reference));
      steps.push({
        month,
        historyRows,
        loadMs: load.ms,
        writerSeconds,
        writerRate: STEP_VOTES / writerSeconds,
        reference,
        writerRssMb: Math.max(...runs.map((r) => r.peakRssMb)),
        heapBytes: memory.heapUsed,
        rssBytes: memory.rss,
      });
      benchLog(
        `${partition}: ${fmt(rows)} rows in ${seconds(load.ms)} s; writer ${fmt(STEP_VOTES / writerSeconds)} votes/s ` +
          `over ${fmt(historyRows)} rows (reference COPY ${fmt(reference)} rows/s, writer × reference ` +
          `${(STEP_VOTES / writerSeconds / reference).toFixed(4)}); publisher heap ${mb(memory.heapUsed)} MB`,
      );
    }

    const vacuum = await timed(() => pool.query("vacuum analyze votes"));
    benchLog(`vacuum analyze: ${seconds(vacuum.ms)} s`);
    const reportsUrl =
      REPORT_TIMEOUT_S > 0
        ? `${DB_URL}?options=${encodeURIComponent(`-c statement_timeout=${REPORT_TIMEOUT_S * 1000}`)}`
        : DB_URL;
    const reports = await timeReports(
      reportsUrl,
      reportCases(MIX.polls, historyEnd),
      RUNS,
      benchLog,
    );
    const sizes = await votesSizes(pool);

    // The retention job with nothing to drop (every pass but one a month), then the pass
    // that archives and drops the oldest month (VOTES_ARCHIVE_DIR, migration 040), then
    // dropping the next month without archive (migration 035's pass).
    const keepDaysFor = (nextMonth: Date) =>
      Math.floor((started.getTime() - nextMonth.getTime()) / DAY_MS) - 1;
    const lastMonth = months.at(-1)!;
    const idle = await timed(() =>
      pool.query("select * from votes_drop_expired_partitions(interval '3650 days')"),
    );
    // A pass whose drop waits past its 1 s lock_timeout (a probe's statement, slower on a
    // loaded machine at this size, holds its lock) gives up and leaves the month to the next
    // pass, as a writer's would: the next passes here, a second apart, until one drops it.
    const untilDone = async <T>(pass: () => Promise<T>, done: (r: T) => boolean) => {
      let passes = 0;
      for (;;) {
        passes++;
        const result = await pass();
        if (done(result) || passes >= RETENTION_PASSES) return { result, passes };
        await new Promise((r) => setTimeout(r, 1_000));
      }
    };
    const archived = await withProbes(pool, lastMonth, () =>
      untilDone(
        () => archiveExpiredPartitions(pool, keepDaysFor(months[1]!), archiveDir, logger),
        (r) => r.length > 0,
      ),
    );
    const dropped = await withProbes(pool, lastMonth, () =>
      untilDone(
        () =>
          pool.query<{ partition_name: string }>(
            "select * from votes_drop_expired_partitions(make_interval(days => $1))",
            [keepDaysFor(months[2]!)],
          ),
        (r) => r.rows.length > 0,
      ),
    );
    // Behind a transaction that has read votes (a long report, an analyst's open session):
    // the drop queues for ACCESS EXCLUSIVE, everything over votes queues behind it, until
    // its lock_timeout (1 s, migration 035) gives up and the next pass tries again.
    const holder = await pool.connect();
    let held: Promise<unknown> = Promise.resolve();
    let blocked: Awaited<ReturnType<typeof withProbes<{ rows: { partition_name: string }[] }>>>;
    try {
      await holder.query("begin");
      await holder.query("select count(*) from votes where poll_id = 'poll-01'");
      held = holder.query("select pg_sleep(4)");
      blocked = await withProbes(pool, lastMonth, () =>
        pool.query<{ partition_name: string }>(
          "select * from votes_drop_expired_partitions(make_interval(days => $1))",
          [keepDaysFor(months[3]!)],
        ),
      );
    } finally {
      await held;
      await holder.query("rollback");
      holder.release();
    }
    const archivedParts = archived.result.result;
    const droppedRows = dropped.result.result.rows;
    if (archivedParts.length !== 1 || archivedParts[0]!.partition !== partitionOf(months[0]!))
      throw new Error(
        `archive after ${archived.result.passes} passes: ${JSON.stringify(archivedParts)}, expected ${partitionOf(months[0]!)}`,
      );
    if (droppedRows.map((r) => r.partition_name).join() !== partitionOf(months[1]!))
      throw new Error(
        `drop after ${dropped.result.passes} passes: ${JSON.stringify(droppedRows)}, expected ${partitionOf(months[1]!)}`,
      );

    // The report.
    const first = steps[0]!;
    const last = steps.at(-1)!;
    const flat = last.writerRate / first.writerRate;
    const ofReference = (s: Step) => s.writerRate / s.reference;
    const flatOfReference = ofReference(last) / ofReference(first);
    const heapGrowth = last.heapBytes / first.heapBytes;
    // Against log10 of the rows: what grows with the rows a writer's insert meets is a
    // B-tree's depth (and the partitions to route among), logarithmic; a straight line in
    // the rows, extrapolated a thousandfold, would say more about this run's noise.
    const fit = fitLine(
      steps.map((s) => Math.log10(s.historyRows)),
      steps.map((s) => s.writerRate),
    );
    const at = (rows: number) => fit.intercept + fit.slope * Math.log10(rows);
    // A line through noisy steps can cross zero before 3.65 billion: say so, not "−2 M/s".
    const extrapolated = (rows: number) =>
      at(rows) > 0
        ? `${fmt(at(rows))} votes/s (${(at(rows) / first.writerRate).toFixed(2)}× step 1)`
        : `no rate (the fitted line reaches 0 votes/s at ${(10 ** (-fit.intercept / fit.slope)).toExponential(2)} rows)`;
    const loadRate = ROWS / (steps.reduce((a, s) => a + s.loadMs, 0) / 1000);
    const reportList = listReports();
    const missed = reports.filter(({ t, c }) => !(t.wallMs < c.targetMs));
    const timeoutMs = REPORT_TIMEOUT_S * 1000;
    const out: string[] = [
      machine,
      `Command: \`${benchCommand("bench:history")}\``,
      "",
      `${fmt(ROWS)} votes over the ${MONTHS} months ${partitionOf(months[0]!).slice(7)} – ${partitionOf(lastMonth).slice(7)} ` +
        `(${fmt(ROWS / ((historyEnd - months[0]!.getTime()) / DAY_MS))} a day, each day in two one-hour peaks at ` +
        `${PEAK_HOURS.map((h) => `${String(h).padStart(2, "0")}:00`).join(" and ")} UTC; ${MIX.polls} polls × ${MIX.optionsPerPoll} options, ` +
        `${fmt(MIX.kiosks)} kiosks, the last ${MIX.checkinPolls} polls check-ins with ${fmt(MIX.voters)} voters: bench:reports' mix), ` +
        `generated in Postgres a month per step (${fmt(loadRate)} rows/s through \`votes\`, its indexes in place), UUIDv7 ids ` +
        `carrying each vote's time. After each step the batch writer (NATS stream → writer → Postgres, as ` +
        `bench:writer runs it) stores ${STEP_RUNS > 1 ? `${STEP_RUNS} × ` : ""}${fmt(STEP_VOTES)} new votes of that month's last day, ${VOTES_PER_MESSAGE} a ` +
        `message, \`BATCH_MAX_MESSAGES=${BATCH_MESSAGES}\` (${fmt(BATCH_MESSAGES * VOTES_PER_MESSAGE)} votes a ` +
        `batch), into the month's full partition${STEP_RUNS > 1 ? " (the step's rate: the median of its runs)" : ""}; ` +
        `the reference is one COPY FROM STDIN of the same rows into an empty copy of \`votes\` with the same ` +
        `indexes right after (bench:writer's), so that the writer × reference column cancels what the rest of the ` +
        `machine's load does to both; then a ResultsPublisher in this process publishes, and its heap ` +
        `is read after a full GC. Load average ${fmt(loadBefore, 2)} at start, ${fmt(loadavg()[0]!, 2)} at the end.`,
      "",
      "| step | month | rows in votes before the step's writer votes | load s | writer votes/s | × step 1 | writer s | reference COPY rows/s | writer × reference | × step 1's | writer peak RSS MB | publisher heap MB | publisher RSS MB |",
      "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...steps.map(
        (s, i) =>
          `| ${i + 1} | ${partitionOf(s.month).slice(7)} | ${fmt(s.historyRows)} | ${seconds(s.loadMs)} | ` +
          `${fmt(s.writerRate)} | ${(s.writerRate / first.writerRate).toFixed(4)} | ${s.writerSeconds.toFixed(1)} | ` +
          `${fmt(s.reference)} | ${ofReference(s).toFixed(4)} | ${(ofReference(s) / ofReference(first)).toFixed(4)} | ` +
          `${fmt(s.writerRssMb)} | ${mb(s.heapBytes)} | ${mb(s.rssBytes)} |`,
      ),
      "",
      `Sizes at the end: votes ${sizes.table}, its indexes ${sizes.indexes} ` +
        `(${sizes.each.map((x) => `${x.name} ${x.size}`).join(", ")}); ${fmt(perRow)} bytes a row with ` +
        `its indexes (the sample the disk check used).`,
      "",
      `**Extrapolated** (not measured): the writer's rate against the rows already in \`votes\`, fitted ` +
        `by least squares on log10 of the rows over the ${steps.length} steps, is ${fmt(at(1e6))} votes/s at a ` +
        `million rows ${fit.slope >= 0 ? "+" : "−"} ${fmt(Math.abs(fit.slope))} for each tenfold (the line, which ` +
        `uses every step and so less of one step's noise, puts the last step at ` +
        `${(at(last.historyRows) / at(first.historyRows)).toFixed(4)}× the first): ${extrapolated(100e6)} at 100 million rows and ` +
        `${extrapolated(3.65e9)} at 3.65 billion (a year at the reference rate). Each step's votes go into one ` +
        `month's partition of ${fmt(ROWS / MONTHS)} rows whatever the history before it, so the curve is the cost ` +
        `of the history itself; a month at the reference rate holds ~300 million rows, a partition ` +
        `${fmt(300e6 / (ROWS / MONTHS))}× this run's, which this run does not measure. At ${fmt(perRow)} bytes ` +
        `a row with its indexes a year takes ${gb(perRow * 3.65e9)}, 100 million rows ${gb(perRow * 100e6)}; ` +
        `generated at this run's rate a year loads in ${fmt(3.65e9 / loadRate / 3600, 1)} h.`,
      "",
      `Reports at ${fmt(ROWS)} rows (bench:reports' cases on poll-01, poll-02 and ${`poll-${MIX.polls}`}; ` +
        `psql, one warm-up, the median of ${RUNS}; the day cases 10 days before the history's end; after ` +
        `\`vacuum analyze votes\`, ${seconds(vacuum.ms)} s${
          timeoutMs > 0
            ? `; each run under statement_timeout ${fmt(timeoutMs)} ms, a case cancelled by it shown as over it`
            : ""
        }):`,
      "",
      "| # | report | case | reads | rows out | wall ms | SQL ms | target | |",
      "|---|---|---|---|---:|---:|---:|---:|---|",
      ...reports.map(({ c, t, rows, timedOut }) => {
        const report = findReport(reportList, c.report)!;
        return (
          `| ${report.number} | ${c.report} | ${c.label} | ${c.reads} | ${timedOut ? "–" : fmt(rows)} | ` +
          `${timedOut ? `> ${fmt(timeoutMs)} (timeout)` : fmt(t.wallMs)} | ${timedOut ? "–" : fmt(t.sqlMs, 1)} | < ${fmt(c.targetMs)} | ${t.wallMs < c.targetMs ? verdictWord(true) : `**${verdictWord(false)}**`} |`
        );
      }),
      "",
      `Retention and dropping a month, each with a probe writer (1,000-vote inserts into the last month) ` +
        `and a probe reader (one poll's last day) looping beside it on connections of their own: their ` +
        `median latency in the 2 s before, and the slowest one overlapping the operation.`,
      "",
      "| operation | time | probe writer: before → worst | probe reader: before → worst |",
      "|---|---:|---:|---:|",
      `| retention pass, nothing expired (\`votes_drop_expired_partitions\`) | ${fmt(idle.ms, 1)} ms | – | – |`,
      `| retention with archive (VOTES_ARCHIVE_DIR): ${partitionOf(months[0]!)}, ${fmt(archivedParts[0]!.rows)} rows → ` +
        `${mb(archivedParts[0]!.bytes)} MB gzip'd CSV, then dropped (${passes(archived.result.passes)}) | ${seconds(archived.ms)} s | ` +
        `${fmt(archived.writer.before, 1)} → ${fmt(archived.writer.worst, 1)} ms | ${fmt(archived.reader.before, 1)} → ${fmt(archived.reader.worst, 1)} ms |`,
      `| dropping a month: ${partitionOf(months[1]!)} (${fmt(perMonth[1]! + STEP_RUNS * STEP_VOTES)} rows, \`votes_drop_expired_partitions\`, ${passes(dropped.result.passes)}) | ` +
        `${fmt(dropped.ms, 1)} ms | ${fmt(dropped.writer.before, 1)} → ${fmt(dropped.writer.worst, 1)} ms | ` +
        `${fmt(dropped.reader.before, 1)} → ${fmt(dropped.reader.worst, 1)} ms |`,
      `| dropping ${partitionOf(months[2]!)} behind an open transaction that has read votes: ` +
        `${blocked.result.rows.length === 0 ? "gave up at its lock_timeout, nothing dropped (the next pass retries)" : `dropped ${blocked.result.rows.map((r) => r.partition_name).join(", ")}`} | ` +
        `${fmt(blocked.ms, 1)} ms | ${fmt(blocked.writer.before, 1)} → ${fmt(blocked.writer.worst, 1)} ms | ` +
        `${fmt(blocked.reader.before, 1)} → ${fmt(blocked.reader.worst, 1)} ms |`,
      "",
      ...verdictLines([
        ratioVerdict(
          `writer COPY rate, the last step (the history's last ${fmt(100 / MONTHS, 1)} %) / the first step (votes/s)`,
          flat,
          "≥",
          0.9,
        ),
        ratioVerdict(
          "the same, each step's writer rate over its reference COPY (the machine's load cancelled)",
          flatOfReference,
          "≥",
          0.9,
        ),
        ratioVerdict(
          `publisher heap after step ${MONTHS} / after step 1 (history ${MONTHS}× longer)`,
          heapGrowth,
          "≤",
          1.1,
        ),
        {
          what: "reports within their target at this size, wall ms (< 100 for those the rollups answer, < 5,000 for the rest)",
          measured:
            `${reports.length - missed.length} of ${reports.length}` +
            (missed.length > 0
              ? `; over: ${missed.map(({ c, t, timedOut }) => `${findReport(reportList, c.report)!.number} ${c.report}${c.label ? ` (${c.label})` : ""} ${timedOut ? `> ${fmt(timeoutMs)}` : fmt(t.wallMs)} ms`).join(", ")}`
              : ""),
          target: "every one",
          met: missed.length === 0,
        },
      ]),
    ];
    process.stdout.write(`${out.join("\n")}\n`);
  }
} finally {
  for await (const keys of redis.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis.close();
  await pool.end();
  await deleteStream(BENCH);
  await rm(archiveDir, { recursive: true, force: true });
  if (values.keep) benchLog(`kept ${DB_URL}`);
  else await dropDatabase(DB_URL);
}
process.exitCode = exitCode;
