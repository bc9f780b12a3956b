import { LOG_POLL_CHANGES } from "../../batch-writer/store-batch.ts";
import { createLogger } from "../../common/logger.ts";
import { migrate } from "../../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../../common/postgres.ts";
import { connectRedis } from "../../common/redis.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "../../result-publisher/config.ts";
import { ResultsPublisher } from "../../result-publisher/publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { unlinkKeysUnder } from "./run-cleanup.ts";

// bench:results' third part: a publisher back after an outage. Every batch logs the polls
// it changed in poll_change_log, and only the publishing leader deletes what it read, once
// published, so the log is what piled up while no publisher ran (every publisher down, or
// cut from Postgres, for an hour). At the reference peak (1,500 votes/s over a thousand
// polls, a batch a second) that is 3,600 batches of a thousand polls. Until migration 053
// it was a row per poll per batch (3.6 million); since, a row per poll. What the first run
// after it costs, and whether it empties the log, against a run after one batch that
// changes the same polls in the same way. The batches are written with the writer's own
// log statement, a thousand polls each, one after another.

export interface BacklogCost {
  polls: number;
  batches: number;
  /** Log rows the backlog run read. */
  logRows: number;
  /** A run after one batch: every poll changed, a log row each. */
  oneBatchMs: number;
  /** The run after `batches` batches: every poll changed, `batches` log rows each. */
  backlogMs: number;
  /** Log rows left after the backlog run (0: it consumed them all). */
  leftAfter: number;
  /** Polls the backlog run published. */
  published: number;
  /** Loading the backlog's rows in SQL (what the writers would have logged). */
  loadMs: number;
}

const OPTIONS = 4;

export async function changeLogBacklog(
  pgUrl: string,
  o: { polls: number; batches: number },
): Promise<BacklogCost> {
  const logger = createLogger("warn");
  const dbUrl = `${pgUrl}/tallyflow_bench_backlog_${process.pid}`;
  await ensureDatabase(dbUrl);
  const pool = createPool(dbUrl, logger, { max: 2 });
  const redis = await connectRedis("redis://127.0.0.1:6379", logger, "bench-backlog");
  const prefix = `benchbacklog${process.pid}:`;
  try {
    await migrate(pool, logger);
    await pool.query(
      `insert into polls (id, slug, title)
       select 'poll-' || lpad(i::text, 5, '0'), 'poll-' || lpad(i::text, 5, '0'), 'Poll ' || i
       from generate_series(1, $1::int) i`,
      [o.polls],
    );
    await pool.query(
      `insert into poll_options (poll_id, id, label, position)
       select p.id, 'opt-' || n, 'Option ' || n, n from polls p, generate_series(1, $1::int) n`,
      [OPTIONS],
    );
    await changeEveryPoll(pool, 1, 1);
    const publisher = new ResultsPublisher({
      pool,
      redis,
      keyPrefix: prefix,
      chartWidth: 1200,
      chartHeight: 900,
      distributionWindowHours: DEFAULT_DISTRIBUTION_WINDOW_HOURS,
      // Charts only on a screen's demand (the default), and none is read here: the run's
      // reads and JSON only, as bench:results' refresh cost.
      chartRender: "demand",
      chartDemandTtlMs: 60_000,
      logger,
      metrics: createPublisherMetrics(),
    });
    await publisher.run();

    await changeEveryPoll(pool, 2, 1);
    let t = performance.now();
    await publisher.run();
    const oneBatchMs = performance.now() - t;

    t = performance.now();
    await changeEveryPoll(pool, 3, o.batches);
    const loadMs = performance.now() - t;
    const logRows = await count(pool);
    t = performance.now();
    const summary = await publisher.run();
    const backlogMs = performance.now() - t;
    return {
      polls: o.polls,
      batches: o.batches,
      logRows,
      oneBatchMs,
      backlogMs,
      leftAfter: await count(pool),
      published: summary.published.length,
      loadMs,
    };
  } finally {
    await unlinkKeysUnder(redis, prefix).catch(() => {});
    await redis.close();
    await pool.end();
    await dropDatabase(dbUrl).catch(() => {});
  }
}

async function count(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>("select count(*) as n from poll_change_log");
  return rows[0]!.n;
}

/**
 * `batches` batches from change_seq `from` on, each adding a vote to every poll's first
 * option in the current bucket, as the writer leaves them: the log written by the writer's
 * own statement once a batch, the rollup row stamped with the last change_seq, the change
 * marker at it.
 */
async function changeEveryPoll(pool: Pool, from: number, batches: number): Promise<void> {
  const last = from + batches - 1;
  for (let seq = from; seq <= last; seq++)
    await pool.query(
      `with changed as (select id as poll_id, $1::bigint as change_seq from polls)
       ${LOG_POLL_CHANGES}`,
      [seq],
    );
  await pool.query(
    `insert into vote_rollups (poll_id, option_id, bucket_start, count, change_seq)
     select p.id, 'opt-1', rollup_bucket_start(now()), $2::int, $1::bigint from polls p
     on conflict (poll_id, option_id, bucket_start)
     do update set count = vote_rollups.count + excluded.count, change_seq = excluded.change_seq`,
    [last, batches],
  );
  await pool.query(
    `insert into poll_changes (poll_id, change_seq, last_stream_seq, changed_at)
     select p.id, $1::bigint, $1::bigint, now() from polls p
     on conflict (poll_id) do update set change_seq = excluded.change_seq,
       last_stream_seq = excluded.last_stream_seq, changed_at = excluded.changed_at`,
    [last],
  );
  await pool.query("analyze poll_change_log");
}
