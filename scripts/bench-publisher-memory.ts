import { LOG_POLL_CHANGES } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { BUCKET_MS } from "../common/rollup-buckets.ts";
import { asWriterBatch } from "../harness/writer-rollups.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "../result-publisher/config.ts";
import { benchCommand } from "./bench/command-line.ts";
import { historyPublisher } from "./bench/history-publisher.ts";
import { machineLine } from "./bench/machine.ts";
import { unlinkKeysUnder } from "./bench/run-cleanup.ts";
import { ratioVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:publisher-memory [-- --polls 1000 --months 12]`
// The result publisher's memory against history: a year of rollups for 1,000 polls, written
// straight into a scratch database a month at a time (generate_series, as the batch writer
// would have left them), each month followed by publishing rounds; the publisher's heap and
// RSS are printed after each month, after a full GC. Flat is the outcome: a publisher keeps
// each poll's totals and its distribution window, not its history.

const USAGE = `usage: npm run bench:publisher-memory -- [--polls N] [--options N] [--months N] [--month-days N] [--peaks H,H] [--rounds N]
  --polls N       polls (default 1000)
  --options N     options per poll (default 4)
  --months N      simulated months (default 12)
  --month-days N  days of 10-minute buckets per month (default 30; smaller for a smoke run)
  --peaks H,H     UTC hours whose buckets hold votes, one hour each (default: every hour);
                  the reference day is two one-hour peaks: --peaks 8,15
  --rounds N      publishing rounds per month, each after new votes in the latest bucket (default 3)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), REDIS_URL (default redis://127.0.0.1:6379)`;

const { POLLS, OPTIONS, MONTHS, MONTH_DAYS, ROUNDS, PEAK_HOURS } = readCli(
  {
    usage: USAGE,
    options: {
      polls: { type: "string", default: "1000" },
      options: { type: "string", default: "4" },
      months: { type: "string", default: "12" },
      "month-days": { type: "string", default: "30" },
      rounds: { type: "string", default: "3" },
      peaks: { type: "string", default: "" },
    },
  },
  ({ values }) => ({
    POLLS: intFlag("polls", values.polls, { min: 1 }),
    OPTIONS: intFlag("options", values.options, { min: 1 }),
    MONTHS: intFlag("months", values.months, { min: 1 }),
    MONTH_DAYS: intFlag("month-days", values["month-days"], { min: 1 }),
    ROUNDS: intFlag("rounds", values.rounds, { min: 1 }),
    PEAK_HOURS:
      values.peaks === ""
        ? Array.from({ length: 24 }, (_, h) => h)
        : values.peaks.split(",").map((h) => intFlag("peaks", h, { min: 0, max: 23 })),
  }),
);
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DB_URL = `${PG}/tallyflow_bench_publisher_memory`;
const PREFIX = "benchpubmem:";
const DAY_MS = 86_400_000;
const logger = createLogger("warn");
const mb = (bytes: number) => (bytes / 1_048_576).toFixed(1).padStart(8);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write("run with --expose-gc (npm run bench:publisher-memory does)\n");
  process.exit(2);
}

await dropDatabase(DB_URL);
await ensureDatabase(DB_URL);
const pool = createPool(DB_URL, logger, { max: 4, applicationName: "bench-publisher-memory" });
const redis = await connectRedis(REDIS_URL, logger, "bench-publisher-memory");
try {
  await migrate(pool, logger);
  await pool.query(
    `insert into polls (id, slug, title) select 'p' || i, 'p' || i, 'Poll ' || i from generate_series(1, $1::int) i`,
    [POLLS],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select 'p' || i, 'o' || o, 'Option ' || o, o
     from generate_series(1, $1::int) i, generate_series(1, $2::int) o`,
    [POLLS, OPTIONS],
  );
  const publisher = historyPublisher(pool, redis, PREFIX, logger);
  // The simulated history ends now; the poll changes carry the time of their last bucket.
  const monthMs = MONTH_DAYS * DAY_MS;
  const startMs = Math.floor((Date.now() - MONTHS * monthMs) / BUCKET_MS) * BUCKET_MS;
  const measure = () => {
    gc();
    return process.memoryUsage();
  };
  const base = measure();
  process.stdout.write(
    `# Publisher memory against history\n\n${machineLine(new Date())}\n` +
      `Command: \`${benchCommand("bench:publisher-memory")}\`\n\n`,
  );
  process.stdout.write(
    `${POLLS} polls × ${OPTIONS} options, ${MONTHS} months of ${MONTH_DAYS} days ` +
      `(votes in the UTC hours ${PEAK_HOURS.join(",")}; window ${DEFAULT_DISTRIBUTION_WINDOW_HOURS} h), ` +
      `${ROUNDS} rounds a month\n` +
      `start: heap ${mb(base.heapUsed)} MB, rss ${mb(base.rss)} MB\n` +
      "month  rollup rows  insert s   rounds s   heap MB    rss MB\n",
  );
  let rows = 0;
  const heapByMonth: number[] = [];
  for (let month = 0; month < MONTHS; month++) {
    const from = new Date(startMs + month * monthMs);
    const to = new Date(startMs + (month + 1) * monthMs - BUCKET_MS);
    const inserting = performance.now();
    // One statement a month: every bucket of the peak hours, of every option of every
    // poll has votes. Written as a writer's batch is (change marker first, its log row, the
    // rollups stamped with its change_seq: harness/writer-rollups.ts), the rows made
    // from the markers so that the month's rows are not held twice in a CTE.
    const inserted = await pool.query(
      `with changed as (
         insert into poll_changes as c (poll_id, change_seq, last_stream_seq, changed_at)
         select 'p' || i, 1, 1, $4::timestamptz from generate_series(1, $1::int) i order by 1
         on conflict (poll_id) do update set change_seq = c.change_seq + 1,
           changed_at = excluded.changed_at
         returning poll_id, change_seq
       ), logged as (
         ${LOG_POLL_CHANGES}
       )
       insert into vote_rollups (poll_id, option_id, bucket_start, count, change_seq)
       select c.poll_id, 'o' || o, b,
              1 + (substr(c.poll_id, 2)::int * 7 + o * 13 + extract(epoch from b)::bigint) % 50,
              c.change_seq
       from changed c, generate_series(1, $2::int) o,
            generate_series($3::timestamptz, $4::timestamptz, rollup_bucket_width()) b
       where extract(hour from b at time zone 'UTC')::int = any($5::int[])`,
      [POLLS, OPTIONS, from, to, PEAK_HOURS],
    );
    rows += inserted.rowCount ?? 0;
    const insertS = (performance.now() - inserting) / 1000;
    const publishing = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      // New votes in the month's last bucket of every poll, as a writer's batch leaves them.
      await pool.query(
        asWriterBatch(
          `select 'p' || i as poll_id, 'o1' as option_id, $2::timestamptz as bucket_start,
                  1::bigint as count
           from generate_series(1, $1::int) i`,
          "$2::timestamptz",
        ),
        [POLLS, to],
      );
      await publisher.run();
    }
    const publishS = (performance.now() - publishing) / 1000;
    const m = measure();
    heapByMonth.push(m.heapUsed);
    process.stdout.write(
      `${String(month + 1).padStart(5)} ${String(rows).padStart(12)} ${insertS.toFixed(1).padStart(9)} ` +
        `${publishS.toFixed(1).padStart(10)} ${mb(m.heapUsed)} ${mb(m.rss)}\n`,
    );
  }
  // Flat: the last month's heap against the first's, after a full GC each (the history
  // grew MONTHS-fold in between). 1.1 leaves room for the V8 heap's own noise.
  const growth = heapByMonth.at(-1)! / heapByMonth[0]!;
  process.stdout.write(
    `\n${verdictLines([
      ratioVerdict(
        `publisher heap after month ${MONTHS} / after month 1 (history ${MONTHS}× longer)`,
        growth,
        "≤",
        1.1,
      ),
    ]).join("\n")}\n`,
  );
} finally {
  await unlinkKeysUnder(redis, PREFIX);
  await redis.close();
  await pool.end();
  await dropDatabase(DB_URL);
}
