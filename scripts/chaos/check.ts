import { setTimeout as sleep } from "node:timers/promises";
import type { NatsAuth } from "../../common/nats-auth.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { type PublishedResults, resultsKeys } from "../../common/results-contract.ts";
import { reconcile } from "../checks/reconcile.ts";
import { unpublishedPolls, waitForDrain } from "../simulator/verification.ts";
import type { MixedLoad } from "./load.ts";

// After a fault, once the load stopped: the pipeline drains (the writers' consumer has
// nothing pending, the publisher published every poll's current version), then every
// eventId that got a 202 must be in `votes` once (the key is the poll and the eventId since
// migration 047, so the same id stored under two polls is counted as stored twice), the run's
// kiosks must have stored nothing else in its window, and the published totals and the
// rollups must equal the raw rows. A check that cannot run (the stream is gone) is a
// problem in the report, not a crash of the suite.

/** Slack on the load's time window (the API's clock and ours are the same machine's). */
const WINDOW_MARGIN_MS = 100;

export interface CheckOptions {
  pool: Pool;
  redis: RedisClient;
  redisKeyPrefix: string;
  natsUrl: string;
  /** A user that may read the writers' consumer: the migration's. */
  natsAuth: NatsAuth;
  streamName: string;
  consumerName: string;
  kioskIds: string[];
  drainTimeoutMs: number;
  publishTimeoutMs: number;
}

export interface CheckResult {
  stored: number;
  lost: number;
  /** Votes stored without a 202 and not in doubt (never sent, or refused). */
  extra: number;
  /** Counted more than once: published or rolled-up counts above the raw rows. */
  doubleCounted: number;
  /** Polls whose published totals differ from SQL (either way), or are missing. */
  reconcileDifferences: number;
  problems: string[];
}

export async function checkAfterFault(load: MixedLoad, o: CheckOptions): Promise<CheckResult> {
  const problems: string[] = [];
  try {
    const drain = await waitForDrain(
      o.natsUrl,
      o.natsAuth,
      o.streamName,
      o.consumerName,
      o.drainTimeoutMs,
      () => {},
    );
    if (!drain.drained)
      problems.push(
        `not drained within ${o.drainTimeoutMs / 1000} s: ${drain.pending} messages pending`,
      );
  } catch (err) {
    problems.push(`could not read consumer ${o.consumerName}: ${describe(err)}`);
  }
  const behind = await waitForPublisher(o);
  if (behind.length > 0)
    problems.push(
      `current version not published within ${o.publishTimeoutMs / 1000} s: ${behind.join(", ")}`,
    );

  const client = await o.pool.connect();
  let stored: number;
  let extra: number;
  let secondVotes: number;
  let twice: number;
  try {
    // Temp tables live on one connection: the whole check runs on this client.
    await client.query(
      "create temp table chaos_sent (event_id uuid primary key, accepted boolean not null)",
    );
    await client.query(
      `insert into chaos_sent
       select id, true from unnest($1::uuid[]) id
       union all select id, false from unnest($2::uuid[]) id`,
      [[...load.accepted], [...load.uncertain]],
    );
    stored = (
      await client.query<{ n: number }>(
        "select count(distinct event_id)::int as n from chaos_sent s join votes v using (event_id) where s.accepted",
      )
    ).rows[0]!.n;
    // The load never sends one eventId to two polls: more than one row for an id is a vote
    // stored under a poll it was not sent to (the key would not stop that).
    twice = (
      await client.query<{ n: number }>(
        `select count(*)::int as n from (
           select s.event_id from chaos_sent s join votes v using (event_id)
           group by s.event_id having count(*) > 1) t`,
      )
    ).rows[0]!.n;
    secondVotes = (
      await client.query<{ n: number }>(
        "select count(*)::int as n from chaos_sent s join rejected_votes r using (event_id) where s.accepted",
      )
    ).rows[0]!.n;
    extra = (
      await client.query<{ n: number }>(
        `select count(*)::int as n from votes v
         where v.kiosk_id = any($1::text[]) and v.received_at >= $2 and v.received_at <= $3
           and not exists (select 1 from chaos_sent s where s.event_id = v.event_id)`,
        [
          o.kioskIds,
          new Date(load.startedAt.getTime() - WINDOW_MARGIN_MS),
          new Date(load.endedAt.getTime() + WINDOW_MARGIN_MS),
        ],
      )
    ).rows[0]!.n;
  } finally {
    await client.query("drop table if exists chaos_sent").catch(() => {});
    client.release();
  }
  const lost = load.accepted.size - stored;
  if (lost > 0)
    problems.push(
      `LOST: ${lost} votes got a 202 and are not stored${secondVotes > 0 ? ` (${secondVotes} of them second votes of a voter: the API answered 202, the writer refused them into rejected_votes)` : ""}`,
    );
  if (extra > 0) problems.push(`EXTRA: ${extra} votes stored that were never sent or were refused`);
  if (twice > 0) problems.push(`TWICE: ${twice} eventIds stored under more than one poll`);

  const rec = await reconcile(o.pool, o.redis, o.redisKeyPrefix);
  if (rec.differences > 0)
    problems.push(
      `published results differ from SQL in ${rec.polls
        .filter((p) => p.state === "differs" || (p.state === "unpublished" && p.total > 0))
        .map((p) => `${p.pollId} (${p.state})`)
        .join(", ")}`,
    );
  const doubleCounted = (await rollupExcess(o.pool)) + (await publishedExcess(o));
  if (doubleCounted > 0) problems.push(`DOUBLE: ${doubleCounted} votes counted more than once`);
  return { stored, lost, extra, doubleCounted, reconcileDifferences: rec.differences, problems };
}

async function waitForPublisher(o: CheckOptions): Promise<string[]> {
  const deadline = Date.now() + o.publishTimeoutMs;
  for (;;) {
    let behind: string[];
    try {
      behind = await unpublishedPolls(o.pool, o.redis, o.redisKeyPrefix);
    } catch (err) {
      behind = [`(${describe(err)})`];
    }
    if (behind.length === 0 || Date.now() >= deadline) return behind;
    await sleep(250);
  }
}

/** Rolled-up votes beyond the raw rows of their bucket (a batch folded in twice). */
async function rollupExcess(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`
    with raw as (
      select poll_id, option_id,
             rollup_bucket_start(cast_at) as bucket_start,
             count(*) as n
      from votes group by 1, 2, 3)
    select coalesce(sum(greatest(r.count - coalesce(v.n, 0), 0)), 0)::int as n
    from vote_rollups r
    left join raw v
      on v.poll_id = r.poll_id and v.option_id = r.option_id and v.bucket_start = r.bucket_start`);
  return rows[0]!.n;
}

/** Published counts beyond SQL counts, over every visible poll and option. */
async function publishedExcess(o: CheckOptions): Promise<number> {
  const { rows } = await o.pool.query<{ poll_id: string; option_id: string; n: number }>(
    "select poll_id, option_id, count(*)::int as n from votes group by 1, 2",
  );
  const counted = new Map(rows.map((r) => [`${r.poll_id}\0${r.option_id}`, r.n]));
  const polls = [...new Set(rows.map((r) => r.poll_id))];
  let excess = 0;
  for (const pollId of polls) {
    const raw = await o.redis.get(resultsKeys(o.redisKeyPrefix, pollId).json);
    if (raw === null) continue;
    const published = JSON.parse(raw) as PublishedResults;
    if (published.hidden) continue;
    for (const option of published.options)
      excess += Math.max(0, option.count - (counted.get(`${pollId}\0${option.id}`) ?? 0));
  }
  return excess;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
