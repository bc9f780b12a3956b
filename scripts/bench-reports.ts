import { readFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { LOG_POLL_CHANGES } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { migrate, migrationsDir } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { bucketStartSql, rollupsFromVotes } from "../common/rollup-buckets.ts";
import { benchCommand } from "./bench/command-line.ts";
import {
  type Case,
  median,
  reportCases,
  type Timing,
  timeReports,
  REPORT_ZONES as ZONES,
} from "./bench/report-cases.ts";
import { verdictLines, verdictWord } from "./bench/verdict.ts";
import {
  buildVotesIndexes,
  dropVotesIndexes,
  dropVotesKeys,
  restoreVotesKeys,
  votesSizes,
} from "./bench/votes-keys.ts";
import { intFlag, readCli } from "./cli.ts";
import { findReport, listReports } from "./report.ts";

// `npm run bench:reports [-- --votes 10000000 --days 30 --polls 20 --runs 3]`
// Builds tallyflow_bench_reports: N votes over D days in P polls (a 1,000-school day),
// generated server-side (insert ... select from generate_series, indexes built after the
// load), rollups and change markers built from them with the writer's bucketing, a few
// refusals; VACUUM ANALYZE. Then runs every report through psql (one warm-up, median of
// --runs) and prints a Markdown table. --reuse keeps a database of the same shape from an
// earlier --keep run; --without-report-indexes drops migration 006's indexes first (to see
// what they buy). Finally measures what those indexes cost the writer: 200,000 more votes
// inserted with and without them, rolled back. --index-audit (issue #29: "each index on
// votes is there for a named query; the rest go") then takes each index of votes but the
// event id keys (exactly-once needs those) in turn: drops it, runs every report again,
// measures the writer's 200,000 votes without it, builds it again; and prints which reports
// it serves and what it costs the writer.

const USAGE = `usage: npm run bench:reports -- [--votes N] [--days N] [--polls N] [--kiosks N]
                                [--runs N] [--reuse] [--keep] [--without-report-indexes]
                                [--index-audit]
  --votes N                  stored votes (default 10000000)
  --days N                   days they span (default 30)
  --polls N                  polls they are spread over (default 20)
  --kiosks N                 kiosks that cast them (default 2000)
  --runs N                   timed runs of each report; the median is shown (default 3)
  --reuse                    keep a database of the same shape from an earlier --keep run
  --keep                     do not drop the database at the end
  --without-report-indexes   drop migration 006's indexes first (to see what they buy)
  --index-audit              then, for each index of votes but the event id keys: every report
                             without it, and what the writer gains without it
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), PSQL (default psql)`;

const { values, VOTES, DAYS, POLLS, KIOSKS, RUNS } = readCli(
  {
    usage: USAGE,
    options: {
      votes: { type: "string", default: "10000000" },
      days: { type: "string", default: "30" },
      polls: { type: "string", default: "20" },
      kiosks: { type: "string", default: "2000" },
      runs: { type: "string", default: "3" },
      reuse: { type: "boolean", default: false },
      keep: { type: "boolean", default: false },
      "without-report-indexes": { type: "boolean", default: false },
      "index-audit": { type: "boolean", default: false },
    },
  },
  ({ values }) => ({
    values,
    VOTES: intFlag("votes", values.votes, { min: 1 }),
    DAYS: intFlag("days", values.days, { min: 1 }),
    POLLS: intFlag("polls", values.polls, { min: 1 }),
    KIOSKS: intFlag("kiosks", values.kiosks, { min: 1 }),
    RUNS: intFlag("runs", values.runs, { min: 1 }),
  }),
);
const OPTIONS = 5;
const CHECKIN_POLLS = 2;
const VOTERS = 20_000;
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const DB_URL = `${PG}/tallyflow_bench_reports`;
const logger = createLogger("warn");

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const progress = (text: string) => process.stderr.write(`${new Date().toISOString()} ${text}\n`);
const pollId = (n: number) => `poll-${String(n).padStart(2, "0")}`;

async function timed<T>(label: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  const result = await work();
  progress(`${label}: ${fmt((performance.now() - start) / 1000, 1)} s`);
  return result;
}

// A uniform number in [0, 1) from the row number and a salt: deterministic, no state.
const rand = (salt: number) => `((hashint8extended(g, ${salt}) & 1048575)::float8 / 1048576)`;

async function build(pool: Pool): Promise<void> {
  await pool.query(`create table bench_meta (votes bigint, days int, polls int, kiosks int)`);
  await pool.query(
    `insert into polls (id, slug, title, time_zone, opens_at, closes_at, one_vote_per_voter)
     select 'poll-' || lpad(p::text, 2, '0'), 'poll-' || lpad(p::text, 2, '0'), 'Bench poll ' || p, ($1::text[])[1 + (p - 1) % $2],
            date_trunc('day', now()) - make_interval(days => $3),
            date_trunc('day', now()), false
     from generate_series(1, $4::int) p`,
    [ZONES, ZONES.length, DAYS, POLLS],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p.id, 'opt-' || o, 'Option ' || o, o from polls p, generate_series(1, $1::int) o`,
    [OPTIONS],
  );
  await pool.query(
    `insert into kiosks (id, slug, name, token_hash)
     select 'kiosk-' || k, 'kiosk-' || k, 'Kiosk ' || k, sha256(k::text::bytea) from generate_series(1, $1::int) k`,
    [KIOSKS],
  );

  // Load without indexes, then build them (sorted, parallel): much faster than maintaining
  // four indexes row by row. The definitions are the migrations' own.
  const indexes = await dropVotesIndexes(pool);
  await dropVotesKeys(pool);

  const span = DAYS * 86_400;
  const chunk = 1_000_000;
  await timed(`votes: ${fmt(VOTES)} rows`, async () => {
    for (let first = 1; first <= VOTES; first += chunk) {
      const last = Math.min(VOTES, first + chunk - 1);
      // Rows in cast order (as the writer stores them), polls and kiosks interleaved. Poll
      // and kiosk popularity skewed; 0.1% of votes arrive up to 6 hours late; the last
      // CHECKIN_POLLS polls are check-ins whose votes carry one of VOTERS voter ids.
      await pool.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                            received_at, stored_at, stream_seq)
         select lpad(to_hex(g), 32, '0')::uuid, 'poll-' || lpad(poll::text, 2, '0'),
                'opt-' || (1 + floor(${rand(2)} ^ 1.6 * $5)::int),
                'kiosk-' || (1 + floor(${rand(3)} ^ 1.3 * $6)::int),
                case when poll > $4 - $7 then 'voter-' || floor(${rand(4)} * $8)::int end,
                cast_at, cast_at + delay, cast_at + delay + make_interval(secs => 0.05 + ${rand(7)}), g
         from (
           select g, 1 + floor(${rand(1)} * $4)::int as poll,
                  date_trunc('day', now()) - make_interval(days => $3)
                    + make_interval(secs => (g - 1 + ${rand(5)}) * $9 / $10) as cast_at,
                  case when ${rand(6)} < 0.001 then make_interval(secs => ${rand(8)} * 21600)
                       else make_interval(secs => ${rand(8)} * 0.8) end as delay
           from generate_series($1::bigint, $2::bigint) g
         ) v`,
        [first, last, DAYS, POLLS, OPTIONS, KIOSKS, CHECKIN_POLLS, VOTERS, span, VOTES],
      );
      progress(`  ${fmt(last)} votes`);
    }
  });
  await pool.query("set maintenance_work_mem = '1GB'");
  await timed("unique event_id keys", () => restoreVotesKeys(pool));
  await buildVotesIndexes(pool, indexes, timed);

  await timed("vote_rollups and poll_changes", async () => {
    await rollupsFromVotes(pool);
    await pool.query(`
      insert into poll_changes (poll_id, change_seq, last_stream_seq, changed_at)
      select poll_id, count(*), max(stream_seq), max(stored_at) from votes group by poll_id`);
  });
  // Refusals at the scale a deployment sees: resends, second votes, a few dead letters.
  await pool.query(
    `insert into duplicate_counts (poll_id, kiosk_id, day, count)
     select 'poll-' || lpad((1 + g % $1)::text, 2, '0'), 'kiosk-' || (1 + g % 500),
            (now() at time zone 'UTC')::date - (g % $2), 1 + g % 7
     from generate_series(1, 20000) g on conflict do nothing`,
    [POLLS, DAYS],
  );
  await pool.query(
    `insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                                 received_at, stream_seq, reason, rejected_at)
     select lpad(to_hex(1000000000000 + g), 32, '0')::uuid, 'poll-' || lpad($1::text, 2, '0'),
            'opt-1', 'kiosk-' || (1 + g % 300), 'voter-' || g, now() - make_interval(mins => g),
            now() - make_interval(mins => g), g, 'voter_already_voted', now() - make_interval(mins => g)
     from generate_series(1, 5000) g`,
    [POLLS],
  );
  await pool.query(
    `insert into dead_letters (stream, stream_seq, msg_id, item_index, subject, raw, error,
                               deliveries)
     select 'VOTES', g, 'bench-' || g, case when g % 10 = 0 then -1 else 0 end,
            'votes.poll-' || lpad((1 + g % $1)::text, 2, '0'),
            convert_to(case when g % 10 = 0 then 'not json'
                            else json_build_object('eventId', 'x', 'kioskId', 'kiosk-' || (g % 50),
                                                   'optionId', 'bad id')::text end, 'UTF8'),
            case when g % 10 = 0 then 'not JSON' else 'optionId: must be 1-64 letters' end, 5
     from generate_series(1, 1000) g`,
    [POLLS],
  );
  await timed("vacuum analyze", () => pool.query("vacuum analyze"));
  await pool.query("insert into bench_meta values ($1, $2, $3, $4)", [VOTES, DAYS, POLLS, KIOSKS]);
}

async function prepare(): Promise<Pool> {
  if (values.reuse) {
    try {
      const pool = createPool(DB_URL, logger, { max: 2 });
      const { rows } = await pool.query<{ votes: number; days: number; polls: number }>(
        "select votes, days, polls from bench_meta",
      );
      const meta = rows[0];
      if (meta && meta.votes === VOTES && meta.days === DAYS && meta.polls === POLLS) {
        progress(`reusing ${DB_URL}`);
        return pool;
      }
      await pool.end();
    } catch {
      // no usable database: build one
    }
  }
  await dropDatabase(DB_URL);
  await ensureDatabase(DB_URL);
  const pool = createPool(DB_URL, logger, { max: 2 });
  await migrate(pool, logger);
  await timed("build", () => build(pool));
  return pool;
}

// Migration 006's indexes, as written there; "if not exists" to restore them after a
// --without-report-indexes run of a kept database.
const REPORT_INDEXES = readFileSync(join(migrationsDir, "006_report_indexes.sql"), "utf8");
const REPORT_INDEX_NAMES = [...REPORT_INDEXES.matchAll(/create index (\w+)/g)].map((m) => m[1]!);
const REPORT_STATISTICS = [...REPORT_INDEXES.matchAll(/create statistics (\w+)/g)].map(
  (m) => m[1]!,
);

/**
 * What migration 006's indexes cost the writer: batches of 2,000 votes, each inserted with
 * its rollup upsert in one statement (as batch-writer/store-batch.ts does), 100 batches in a
 * transaction that is rolled back; with the indexes, and with them dropped (in the same
 * rolled-back transaction).
 */
async function writerCost(
  pool: Pool,
  dropped: readonly string[] = REPORT_INDEX_NAMES,
): Promise<{ withMs: number; withoutMs: number; rows: number }> {
  const batch = 2_000;
  const batches = 100;
  const statement = `
    with ins as (
      insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                         stored_at, stream_seq)
      select lpad(to_hex(2000000000000 + g), 32, '0')::uuid,
             'poll-' || lpad((1 + floor(${rand(1)} * ${POLLS})::int)::text, 2, '0'),
             'opt-' || (1 + floor(${rand(2)} * ${OPTIONS})::int),
             'kiosk-' || (1 + floor(${rand(3)} * ${KIOSKS})::int), null,
             now() - make_interval(secs => ${rand(4)} * 600), now(), now(), g
      from generate_series($1::bigint, $2::bigint) g
      returning poll_id, option_id, cast_at, stream_seq
    ), changed as (
      -- The writer's order (batch-writer/store-batch.ts): change markers, their log, rollups.
      insert into poll_changes as c (poll_id, change_seq, last_stream_seq, changed_at)
      select poll_id, 1, max(stream_seq), clock_timestamp()
      from ins group by poll_id order by poll_id
      on conflict (poll_id) do update set change_seq = c.change_seq + 1,
        last_stream_seq = greatest(c.last_stream_seq, excluded.last_stream_seq),
        changed_at = excluded.changed_at
      returning poll_id, change_seq
    ), logged as (
      ${LOG_POLL_CHANGES}
    )
    insert into vote_rollups as r (poll_id, option_id, bucket_start, count, change_seq)
    select i.poll_id, i.option_id,
           ${bucketStartSql("i.cast_at")}, count(*), c.change_seq
    from ins i join changed c on c.poll_id = i.poll_id
    group by 1, 2, 3, 5 order by 1, 2, 3
    on conflict (poll_id, option_id, bucket_start)
      do update set count = r.count + excluded.count, change_seq = excluded.change_seq`;
  const once = async (dropIndexes: boolean) => {
    const client = await pool.connect();
    try {
      await client.query("begin");
      if (dropIndexes)
        for (const name of dropped) await client.query(`drop index if exists ${name}`);
      const start = performance.now();
      for (let b = 0; b < batches; b++)
        await client.query(statement, [b * batch + 1, (b + 1) * batch]);
      const ms = performance.now() - start;
      await client.query("rollback");
      return ms;
    } finally {
      client.release();
    }
  };
  const withMs: number[] = [];
  const withoutMs: number[] = [];
  await once(false); // warm-up
  for (let r = 0; r < RUNS; r++) {
    withMs.push(await once(false));
    withoutMs.push(await once(true));
  }
  await pool.query("vacuum votes, vote_rollups");
  return { withMs: median(withMs), withoutMs: median(withoutMs), rows: batch * batches };
}

/** Every case: one warm-up, the median of RUNS, and the rows it prints. */
const runCases = () => timeReports(DB_URL, reportCases(POLLS), RUNS, progress);

/** A case slower by this much without an index is one the index serves. */
const SERVES_RATIO = 1.5;
const SERVES_MIN_MS = 20;

/**
 * --index-audit: each index of votes but the event id keys, dropped in turn (for real: psql
 * runs the reports in sessions of its own), every case run again, the writer's 200,000
 * votes without it, then built again as it was. Markdown lines.
 */
async function indexAudit(pool: Pool, withAll: { c: Case; t: Timing }[]): Promise<string[]> {
  const reports = listReports();
  const { rows: indexes } = await pool.query<{ name: string; def: string; size: string }>(`
    select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def,
           pg_size_pretty((select sum(pg_relation_size(t.relid))
                           from pg_partition_tree(i.indexrelid) t)) as size
    from pg_index i where i.indrelid = 'votes'::regclass and not i.indisunique order by 1`);
  const out = [
    "",
    `Index audit (\`--index-audit\`): each index of votes but the event id keys dropped in turn; ` +
      `"serves" lists the cases at least ${SERVES_RATIO}× and ${SERVES_MIN_MS} ms slower without it ` +
      `(wall ms with every index → without this one); the writer's cost is ${fmt(200_000)} votes ` +
      `with their rollup upserts, with every index against without this one (rolled back, median of ${RUNS}).`,
    "",
    "| index | size | serves | writer: with every index → without it |",
    "|---|---:|---|---:|",
  ];
  for (const index of indexes) {
    const cost = await writerCost(pool, [index.name]);
    await pool.query(`drop index ${index.name}`);
    progress(`index audit: ${index.name} dropped`);
    let without: { c: Case; t: Timing }[];
    try {
      without = await runCases();
    } finally {
      // pg_get_indexdef of a partitioned index says ON ONLY: built on every partition here.
      await buildVotesIndexes(pool, [index]);
      await pool.query("analyze votes");
      progress(`index audit: ${index.name} built again`);
    }
    const serves = without
      .map((w, i) => ({ c: w.c, before: withAll[i]!.t.wallMs, after: w.t.wallMs }))
      .filter((x) => x.after >= SERVES_RATIO * x.before && x.after - x.before >= SERVES_MIN_MS)
      .map(
        (x) =>
          `${findReport(reports, x.c.report)!.number} ${x.c.report}${x.c.label ? ` (${x.c.label})` : ""} ` +
          `${fmt(x.before)} → ${fmt(x.after)}`,
      );
    out.push(
      `| ${index.name} | ${index.size} | ${serves.length > 0 ? serves.join("; ") : "no report"} | ` +
        `${fmt(cost.rows / (cost.withMs / 1000))} → ${fmt(cost.rows / (cost.withoutMs / 1000))} votes/s ` +
        `(+${fmt((100 * (cost.withMs - cost.withoutMs)) / cost.withoutMs)}% with it) |`,
    );
  }
  return out;
}

const pool = await prepare();
const loadBefore = loadavg()[0]!;
try {
  if (values["without-report-indexes"]) {
    for (const name of REPORT_INDEX_NAMES) await pool.query(`drop index if exists ${name}`);
    for (const name of REPORT_STATISTICS) await pool.query(`drop statistics if exists ${name}`);
    progress("report indexes dropped");
  } else {
    await pool.query(
      REPORT_INDEXES.replaceAll("create index ", "create index if not exists ").replaceAll(
        "create statistics ",
        "create statistics if not exists ",
      ),
    );
  }
  await pool.query("analyze votes");
  const reports = listReports();
  const results = await runCases();
  const { rows: pg } = await pool.query<{ version: string }>("select version()");
  const votesSize = await votesSizes(pool);
  const { rows: rollupSizes } = await pool.query<{ rollups: string }>(
    "select pg_size_pretty(pg_total_relation_size('vote_rollups')) as rollups",
  );
  const sizes = [{ votes: votesSize.table, total: votesSize.indexes, ...rollupSizes[0]! }];
  const ixSizes = votesSize.each;
  const { rows: perPoll } = await pool.query<{ n: number }>(
    "select count(*)::int as n from votes where poll_id = $1",
    [pollId(1)],
  );
  const cost = values["without-report-indexes"] ? null : await writerCost(pool);
  const audit = values["index-audit"] ? await indexAudit(pool, results) : [];

  const out: string[] = [];
  out.push(
    `${fmt(VOTES)} votes over ${DAYS} days in ${POLLS} polls (${fmt(KIOSKS)} kiosks, ${OPTIONS} options each; ` +
      `polls cycle through ${ZONES.join(", ")}; the last ${CHECKIN_POLLS} are check-in polls with ` +
      `${fmt(VOTERS)} voters). Per-poll reports run on ${pollId(1)} (Europe/London, ` +
      `${fmt(perPoll[0]?.n ?? 0)} votes), the Kathmandu cases on ${pollId(2)}, attendance on ` +
      `${pollId(POLLS)}. Each report runs through psql (\`psql -X --csv -o /dev/null -f …\`): one ` +
      `warm-up, then the median of ${RUNS} runs. **wall** is the psql process from start to exit ` +
      `(connect, the report's checks, the query, output); **SQL** is the sum of its statements' ` +
      `\`\\timing\`.${values["without-report-indexes"] ? " **Without migration 006's indexes.**" : ""}`,
    "",
    "| # | report | case | reads | rows out | wall ms | SQL ms | target | |",
    "|---|---|---|---|---:|---:|---:|---:|---|",
  );
  for (const { c, t, rows } of results) {
    const report = findReport(reports, c.report)!;
    out.push(
      `| ${report.number} | ${c.report} | ${c.label} | ${c.reads} | ${fmt(rows)} | ${fmt(t.wallMs)} | ` +
        `${fmt(t.sqlMs, 1)} | < ${fmt(c.targetMs)} | ${t.wallMs < c.targetMs ? verdictWord(true) : `**${verdictWord(false)}**`} |`,
    );
  }
  out.push(
    "",
    `Sizes: votes table ${sizes[0]?.votes}, its indexes ${sizes[0]?.total} ` +
      `(${ixSizes.map((x) => `${x.name} ${x.size}`).join(", ")}); vote_rollups ${sizes[0]?.rollups}.`,
  );
  if (cost)
    out.push(
      "",
      `Writer cost of migration 006's indexes: storing ${fmt(cost.rows)} more votes in this ` +
        `database, in batches of 2,000 each with its rollup upsert (as the writer's staging path ` +
        `does; rolled back; median of ${RUNS}), took ${fmt(cost.withMs)} ms with them and ` +
        `${fmt(cost.withoutMs)} ms without (+${fmt((100 * (cost.withMs - cost.withoutMs)) / cost.withoutMs)}%): ` +
        `${fmt(cost.rows / (cost.withMs / 1000))} against ${fmt(cost.rows / (cost.withoutMs / 1000))} votes/s ` +
        `on one connection.`,
    );
  out.push(...audit);
  out.push(
    "",
    `Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${fmt(totalmem() / 2 ** 30)} GiB RAM ` +
      `(load average ${fmt(loadBefore, 1)} before the timings, ${fmt(loadavg()[0]!, 1)} after); ` +
      `Node ${process.version}; ${pg[0]?.version.replace(/ on .*/, "")} (default settings); ` +
      `${new Date().toISOString().slice(0, 10)}; \`${benchCommand("bench:reports")}\`.`,
  );
  const missed = results.filter(({ t, c }) => !(t.wallMs < c.targetMs));
  out.push(
    "",
    ...verdictLines([
      {
        what: "reports within their target, wall ms (< 100 for those the rollups answer, < 5,000 for the rest)",
        measured:
          `${results.length - missed.length} of ${results.length}` +
          (missed.length > 0
            ? `; over: ${missed.map(({ c, t }) => `${findReport(reports, c.report)!.number} ${c.report}${c.label ? ` (${c.label})` : ""} ${fmt(t.wallMs)} ms`).join(", ")}`
            : ""),
        target: "every one",
        met: missed.length === 0,
      },
    ]),
  );
  process.stdout.write(`${out.join("\n")}\n`);
} finally {
  await pool.end();
  if (!values.keep) await dropDatabase(DB_URL);
}
