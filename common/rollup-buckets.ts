import type { Pool } from "./postgres.ts";

// The one definition of a rollup bucket: 10 minutes, aligned to UTC (date_bin from
// 2000-01-01 00:00 UTC lands on the same instants as flooring epoch milliseconds by
// 600,000). The writer, the publisher and the reports all agree on it.

export const BUCKET_MS = 600_000;

/** SQL for the start of `column`'s rollup bucket. */
export function bucketStartSql(column: string): string {
  return `date_bin('10 minutes', ${column}, timestamptz '2000-01-01 00:00:00+00')`;
}

/**
 * Fills vote_rollups from the rows of votes, as the writer would have (benchmarks and
 * test data sets that load votes in bulk, not through the writer). tx_id is the
 * table's default.
 */
export async function rollupsFromVotes(pool: Pool): Promise<void> {
  await pool.query(`
    insert into vote_rollups (poll_id, option_id, bucket_start, count)
    select poll_id, option_id, ${bucketStartSql("cast_at")}, count(*)
    from votes group by 1, 2, 3`);
}
