import type { Pool, PoolClient } from "../common/postgres.ts";

// What the publisher reads. A run reads the change markers written since the last run,
// the whole registry (loadPolls, in published-version.ts) only when it changed
// (RegistryWatch), and the rollup rows of the polls that changed: never `votes`.

/** Where the reads below run: the pool (one query each), or a client inside readSnapshot. */
export type Queryable = Pool | PoolClient;

/**
 * Runs `read` in one REPEATABLE READ READ ONLY transaction on one client, so that every
 * query in it sees the same snapshot: a batch committed between two reads would otherwise
 * give counts newer than the change marker (version, asOf) read just before them.
 */
export async function readSnapshot<T>(
  pool: Pool,
  read: (client: PoolClient) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("begin isolation level repeatable read read only");
    const result = await read(client);
    await client.query("commit");
    return result;
  } catch (err) {
    // A client that cannot even roll back must not go back to the pool mid-transaction.
    await client.query("rollback").catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}

/**
 * Count and latest updated_at / created_at of the registry: every edit through the API
 * bumps updated_at, a delete lowers the count, so a run that sees the same fingerprint
 * (and no notification: RegistryWatch) keeps its registry. One scan of `polls`, no options.
 */
export async function registryFingerprint(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ fingerprint: string }>(
    `select count(*) || '/' || coalesce(max(updated_at)::text, '') || '/' ||
            coalesce(max(created_at)::text, '') as fingerprint
     from polls`,
  );
  return rows[0]!.fingerprint;
}

export interface PollChange {
  pollId: string;
  changeSeq: number;
  changedAt: Date;
}

/**
 * Change markers written by transactions at or after `sinceXmin` (the previous run's
 * snapshot xmin): the polls that got votes since. An idle system returns no rows.
 */
export async function loadChanges(db: Queryable, sinceXmin: string): Promise<PollChange[]> {
  const { rows } = await db.query<{ poll_id: string; change_seq: number; changed_at: Date }>(
    "select poll_id, change_seq, changed_at from poll_changes where tx_id >= $1::xid8",
    [sinceXmin],
  );
  return rows.map((r) => ({ pollId: r.poll_id, changeSeq: r.change_seq, changedAt: r.changed_at }));
}

export interface RollupRow {
  optionId: string;
  bucketStartMs: number;
  count: number;
}

/**
 * The xmin of the current snapshot (the transaction's, inside readSnapshot, where this must
 * be the first query so that it is the one the snapshot is taken for). Everything this
 * snapshot does not see has a transaction id at or above it, so the next run reads
 * `tx_id >= xmin` and misses nothing.
 */
export async function snapshotXmin(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ xmin: string }>(
    "select pg_snapshot_xmin(pg_current_snapshot())::text as xmin",
  );
  return rows[0]!.xmin;
}

/**
 * The rollup rows of many polls in one query (see loadRollups), by poll id. A run that
 * publishes 1,000 polls makes two of these, not 1,000 round trips.
 */
export async function loadRollupsFor(
  db: Queryable,
  pollIds: readonly string[],
  sinceXmin?: string,
): Promise<Map<string, RollupRow[]>> {
  const byPoll = new Map<string, RollupRow[]>();
  if (pollIds.length === 0) return byPoll;
  const { rows } = await db.query<{
    poll_id: string;
    option_id: string;
    bucket_start: Date;
    count: number;
  }>(
    sinceXmin === undefined
      ? "select poll_id, option_id, bucket_start, count from vote_rollups where poll_id = any($1::text[])"
      : "select poll_id, option_id, bucket_start, count from vote_rollups where poll_id = any($1::text[]) and tx_id >= $2::xid8",
    sinceXmin === undefined ? [pollIds] : [pollIds, sinceXmin],
  );
  for (const r of rows) {
    let list = byPoll.get(r.poll_id);
    if (list === undefined) {
      list = [];
      byPoll.set(r.poll_id, list);
    }
    list.push({ optionId: r.option_id, bucketStartMs: r.bucket_start.getTime(), count: r.count });
  }
  return byPoll;
}

/**
 * One poll's rollup rows: all of them, or only those written by transactions at or after
 * `sinceXmin` (index on (poll_id, tx_id): a run reads the buckets new votes touched, not
 * the poll's history).
 */
export async function loadRollups(
  db: Queryable,
  pollId: string,
  sinceXmin?: string,
): Promise<RollupRow[]> {
  const { rows } = await db.query<{ option_id: string; bucket_start: Date; count: number }>(
    sinceXmin === undefined
      ? "select option_id, bucket_start, count from vote_rollups where poll_id = $1"
      : "select option_id, bucket_start, count from vote_rollups where poll_id = $1 and tx_id >= $2::xid8",
    sinceXmin === undefined ? [pollId] : [pollId, sinceXmin],
  );
  return rows.map((r) => ({
    optionId: r.option_id,
    bucketStartMs: r.bucket_start.getTime(),
    count: r.count,
  }));
}
