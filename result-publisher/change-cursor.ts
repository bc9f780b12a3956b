// The lesson registers' snapshot cursor (register-publisher.ts; attendance consumes change logs
// instead since migration 051): one home for how a change log is read since a cursor and for
// which cursor may be kept in Redis, so that a new leader resumes where the last one had
// published everything.

/**
 * Rows written by transactions a snapshot did not see: the range `tx_id >= its xmin` (an
 * index on tx_id, where the table has one), less those it saw. Exact where `>= xmin` alone is not: a long transaction
 * elsewhere in the cluster (an analyst's query) holds every snapshot's xmin back, and every
 * row written since it began would look changed at every run.
 */
export const NOT_SEEN_BY = (param: string, column = "tx_id") =>
  `${column} >= pg_snapshot_xmin(${param}::pg_snapshot) and not pg_visible_in_snapshot(${column}, ${param}::pg_snapshot)`;

/**
 * The cursor to keep in Redis after a run that read the changes since `cursor` in the
 * snapshot `snapshot`: it never passes a change not yet published. While documents are owed
 * it stays where it was before the first run that left some (their changes are all after
 * it; null: nothing to keep, a new leader rebuilds everything), else it is this run's
 * snapshot.
 */
export function nextStoredCursor(run: {
  /** The cursor kept so far. */
  stored: string | null;
  /** The cursor this run read the changes since (null: it rebuilt everything). */
  cursor: string | null;
  snapshot: string;
  owedBefore: boolean;
  owedAfter: boolean;
}): string | null {
  if (!run.owedAfter) return run.snapshot;
  return run.owedBefore ? run.stored : run.cursor;
}
