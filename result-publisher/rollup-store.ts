import { type Pool, type PoolClient, withTransaction } from "../common/postgres.ts";
import { HOLDS_PUBLISHER_LOCK } from "./leader.ts";

// What the publisher reads. A run reads the change log (the polls that got votes since the
// leader last consumed it), the whole registry (loadPolls, in published-version.ts) only
// when it changed (RegistryWatch), and the rollup rows of the polls that changed: never
// `votes`. Its one write: deleting the log rows it read, once it published them.

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
  return withTransaction(pool, read, "begin isolation level repeatable read read only");
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

/** What a run read of poll_change_log (migration 048), in its snapshot. */
export interface ChangeLog {
  /** Poll id → the change_seq logged for it: what the run deletes once published. */
  logged: Map<string, number>;
  /** The change markers of the logged polls (a deleted poll has none). */
  changes: PollChange[];
}

/**
 * The polls that got votes since the log was last consumed, with their change markers. The
 * writer sets a row per poll to the batch's change_seq in the batch's transaction (a row
 * per poll since migration 053: the log's size is the polls changed, however long no
 * publisher ran); nothing is deleted but by the publishing leader after it published what
 * it read (deleteChangeLog). An idle system
 * reads an empty table. No transaction id is compared: a long transaction anywhere in the
 * cluster changes nothing here (docs/pipeline.md, "What a run reads").
 */
export async function loadChangeLog(db: Queryable): Promise<ChangeLog> {
  const { rows } = await db.query<{
    poll_id: string;
    logged: number;
    change_seq: number | null;
    changed_at: Date | null;
  }>(
    `select l.poll_id, l.change_seq as logged, c.change_seq, c.changed_at
     from poll_change_log l left join poll_changes c on c.poll_id = l.poll_id`,
  );
  const logged = new Map<string, number>();
  const changes: PollChange[] = [];
  for (const r of rows) {
    logged.set(r.poll_id, r.logged);
    if (r.change_seq !== null && r.changed_at !== null)
      changes.push({ pollId: r.poll_id, changeSeq: r.change_seq, changedAt: r.changed_at });
  }
  return { logged, changes };
}

/**
 * Deletes the log rows a run read (each only while its change_seq is at most the one read),
 * after it published them. A row a batch set since (a higher change_seq) stays for the next
 * run. The rows are locked first, in poll_id order (FOR UPDATE under the sort: LockRows
 * takes them as the sort returns them; migration 058), the order a batch upserts them in: a delete that
 * took them in the join's order (the heap's, or the run's map's) held a row a batch was
 * about to upsert while it waited for one that batch held, a deadlock (40P01) that failed
 * the batch or the run (change-logs-concurrency.test.ts found it). A batch holds its polls'
 * poll_changes rows before their log rows, and the delete takes no poll_changes row, so in
 * one order the two only wait for each other. Returns the rows deleted.
 */
export async function deleteChangeLog(
  db: Queryable,
  logged: ReadonlyMap<string, number>,
  leaderPid?: number,
): Promise<number> {
  if (logged.size === 0) return 0;
  // With the leader's lock session pid: only while that session still holds the lock, so an
  // old leader whose session ended mid-run (a new leader may hold the lock and not have read
  // these rows yet) deletes nothing. Checked as the statement starts, after its table lock.
  // A row whose change_seq a batch moved while this waited for it is rechecked on its new
  // version (READ COMMITTED) and left; a row locked here is not changed before the delete.
  const result = await db.query(
    `with taken as (
       select l.poll_id from poll_change_log l
       join unnest($1::text[], $2::bigint[]) as u(poll_id, change_seq) on u.poll_id = l.poll_id
       where l.change_seq <= u.change_seq${
         leaderPid === undefined ? "" : ` and ${HOLDS_PUBLISHER_LOCK("$3::int")}`
       }
       order by l.poll_id
       for update of l
     )
     delete from poll_change_log l using taken t where l.poll_id = t.poll_id`,
    leaderPid === undefined
      ? [[...logged.keys()], [...logged.values()]]
      : [[...logged.keys()], [...logged.values()], leaderPid],
  );
  return result.rowCount ?? 0;
}

export interface RollupRow {
  optionId: string;
  bucketStartMs: number;
  count: number;
}

/** Polls per delta query: two parameters each, one index range each (see loadRollupsFor). */
const DELTA_CHUNK = 500;

/** The rows of a query over vote_rollups, by poll id (appended to `byPoll`). */
async function rollupsByPoll(
  db: Queryable,
  byPoll: Map<string, RollupRow[]>,
  sql: string,
  params: unknown[],
): Promise<void> {
  const { rows } = await db.query<{
    poll_id: string;
    option_id: string;
    bucket_start: Date;
    count: number;
  }>(sql, params);
  for (const r of rows) {
    let list = byPoll.get(r.poll_id);
    if (list === undefined) {
      list = [];
      byPoll.set(r.poll_id, list);
    }
    list.push({ optionId: r.option_id, bucketStartMs: r.bucket_start.getTime(), count: r.count });
  }
}

/**
 * The rollup rows of many polls (see loadRollups), by poll id: all of them in one query, or
 * with `sinceSeqs` (one per poll, in order) those of each poll written by its batches after
 * that change_seq, one query per DELTA_CHUNK polls. A run that publishes 1,000 polls makes a
 * few of these, not 1,000 round trips. The delta is an OR of one `(poll_id = … and
 * change_seq > …)` per poll: each arm an index range of (poll_id, change_seq), combined in
 * a BitmapOr. A join with unnest(polls, seqs) reads the same rows but is planned as a hash
 * join over a scan of the whole table (the planner cannot estimate `change_seq > u.since`):
 * 450 ms against 7 ms at 630,000 rollup rows. The OR is a filter on the distribution column
 * too, which Citus prunes by.
 */
export async function loadRollupsFor(
  db: Queryable,
  pollIds: readonly string[],
  sinceSeqs?: readonly number[],
): Promise<Map<string, RollupRow[]>> {
  const byPoll = new Map<string, RollupRow[]>();
  if (pollIds.length === 0) return byPoll;
  if (sinceSeqs === undefined) {
    await rollupsByPoll(
      db,
      byPoll,
      "select poll_id, option_id, bucket_start, count from vote_rollups where poll_id = any($1::text[])",
      [pollIds],
    );
    return byPoll;
  }
  for (let i = 0; i < pollIds.length; i += DELTA_CHUNK) {
    const ids = pollIds.slice(i, i + DELTA_CHUNK);
    const arms = ids.map((_, k) => `(poll_id = $${2 * k + 1} and change_seq > $${2 * k + 2})`);
    await rollupsByPoll(
      db,
      byPoll,
      `select poll_id, option_id, bucket_start, count from vote_rollups where ${arms.join(" or ")}`,
      ids.flatMap((id, k) => [id, sinceSeqs[i + k]]),
    );
  }
  return byPoll;
}

/**
 * One poll's rollup rows: all of them, or only those written by its batches after
 * `sinceSeq` (index on (poll_id, change_seq): a run reads the buckets new votes touched, not
 * the poll's history). Exact because a poll's batches commit in change_seq order (the
 * poll_changes row lock, migration 048): a snapshot that saw change_seq S saw every rollup
 * written at <= S, so what it did not see is above S.
 */
export async function loadRollups(
  db: Queryable,
  pollId: string,
  sinceSeq?: number,
): Promise<RollupRow[]> {
  const { rows } = await db.query<{ option_id: string; bucket_start: Date; count: number }>(
    sinceSeq === undefined
      ? "select option_id, bucket_start, count from vote_rollups where poll_id = $1"
      : "select option_id, bucket_start, count from vote_rollups where poll_id = $1 and change_seq > $2",
    sinceSeq === undefined ? [pollId] : [pollId, sinceSeq],
  );
  return rows.map((r) => ({
    optionId: r.option_id,
    bucketStartMs: r.bucket_start.getTime(),
    count: r.count,
  }));
}
