import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "../common/postgres.ts";

export { insertPoll } from "../harness/polls.ts";

// Rows written and read straight in SQL: fixtures the API would refuse or that need no
// API, and the check every writer test ends with (rollups equal to the raw votes).

/**
 * A row in `votes`, as the batch writer would store it: the registry refuses some changes
 * once a poll has votes, and the writer is not part of the ingest suite.
 */
export async function insertStoredVote(
  pool: Pool,
  pollId: string,
  optionId: string,
  kioskId = "writer-test",
): Promise<string> {
  const eventId = randomUUID();
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
     values ($1, $2, $3, $4, now(), now(), 1)`,
    [eventId, pollId, optionId, kioskId],
  );
  return eventId;
}

/** One number from a query (`select count(*) ...`). */
export async function queryNumber(
  pool: Pool | PoolClient,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const { rows } = await pool.query<Record<string, unknown>>(sql, params);
  const value = Object.values(rows[0] ?? {})[0];
  return Number(value);
}

export const countVotes = (pool: Pool) => queryNumber(pool, "select count(*) from votes");

/** The partitions of votes (migration 033), by name. */
export async function votesPartitionNames(pool: Pool | PoolClient): Promise<string[]> {
  const { rows } = await pool.query<{ p: string }>(
    "select relid::regclass::text as p from pg_partition_tree('votes') where isleaf order by 1",
  );
  return rows.map((r) => r.p);
}

/**
 * Asserts every vote_rollups bucket equals the raw count of its votes (and no bucket is
 * missing or extra). Returns the total number of votes counted.
 */
export async function assertRollupsMatchVotes(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{
    poll_id: string;
    option_id: string;
    bucket_start: Date;
    rollup: number | null;
    raw: number | null;
  }>(`
    with raw as (
      select poll_id, option_id,
             rollup_bucket_start(cast_at) as bucket_start,
             count(*) as n
      from votes group by 1, 2, 3)
    select coalesce(r.poll_id, v.poll_id) as poll_id,
           coalesce(r.option_id, v.option_id) as option_id,
           coalesce(r.bucket_start, v.bucket_start) as bucket_start,
           r.count as rollup, v.n as raw
    from vote_rollups r
    full join raw v
      on v.poll_id = r.poll_id and v.option_id = r.option_id and v.bucket_start = r.bucket_start
    where r.count is distinct from v.n
    order by 1, 2, 3`);
  assert.deepEqual(rows, [], "vote_rollups buckets that differ from the raw votes");
  const total = await queryNumber(pool, "select coalesce(sum(count), 0) from vote_rollups");
  assert.equal(total, await countVotes(pool));
  return total;
}
