import { BUCKET_MS } from "./browser/bucket-width.js";
import type { Pool } from "./postgres.ts";

// A rollup bucket: BUCKET_MS wide (common/browser/bucket-width.js, the width's one home in
// JavaScript), aligned to UTC. In SQL, rollup_bucket_start(ts) and rollup_bucket_width()
// (migration 014) say the same; the writer, the publisher and the reports all agree on it.

export { BUCKET_MINUTES, BUCKET_MS } from "./browser/bucket-width.js";

/** Epoch milliseconds of the start of the bucket holding `ms`. */
export function bucketStartMs(ms: number): number {
  return Math.floor(ms / BUCKET_MS) * BUCKET_MS;
}

/** SQL for the start of `column`'s rollup bucket. */
export function bucketStartSql(column: string): string {
  return `rollup_bucket_start(${column})`;
}

/**
 * Fills vote_rollups from the rows of votes, as the writer would have (benchmarks and
 * test data sets that load votes in bulk, not through the writer). change_seq is the
 * table's default, 0 (migration 048): a publisher reads such rows in its first, full read
 * of a poll, never in a delta read.
 */
export async function rollupsFromVotes(pool: Pool): Promise<void> {
  await pool.query(`
    insert into vote_rollups (poll_id, option_id, bucket_start, count)
    select poll_id, option_id, ${bucketStartSql("cast_at")}, count(*)
    from votes group by 1, 2, 3`);
}
