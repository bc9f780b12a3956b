import type { Pool, PoolClient } from "../common/postgres.ts";

// The presence state (attendance_days, migrations 019, 020, 025, 036 and 049), kept in the
// transaction that stores the events, as the rollups are: per school, person and
// school-local day, only for the person-days the batch inserted events into (duplicates
// insert nothing, so they change nothing), plus up to `dirtyLimit` dirty ones
// (attendance_dirty: a register deleted since). The work is Postgres's, set-based, in one
// call (attendance_keep_days, migrations 036 and 049): the batch's inserted register events
// go as arrays; a person-day with one event after its row's last (the common case: the
// check-in on no row, the check-out on the check-in's row) is folded into its row by one
// statement for the whole batch (the check-outs by an UPDATE found by key, the check-ins by
// INSERT … ON CONFLICT DO UPDATE); any other (several events, one arriving late or out of
// order, a check-out on no row) is locked, then recomputed from its own events through an
// index (never a scan) in a statement of its own; the school-days written are logged in
// attendance_day_changes, with the transaction's change id, for the publisher to consume
// (migration 051). The writer's Node process does no
// per-person-day work: bench:attendance-writer measured that work (grouping, replay, COPY
// text, a million remembered person-days) as what held the writer with presence upkeep at
// 0.43 of the plain writer's throughput.
//
// A deadlock left (a transaction holding its written rows while it locks a changed one) is
// retried as any (pg-errors.ts: class 40 is transient).

/** The inserted events of a batch's attendance registers, one array a field. */
export interface RegisterEvents {
  pollIds: string[];
  personIds: string[];
  /** `in` or `out` (a register's options). */
  kinds: string[];
  /** As sent (ISO 8601) or as Postgres prints it. */
  castAts: string[];
  eventIds: string[];
  temperatures: (number | null)[];
}

export const noRegisterEvents = (): RegisterEvents => ({
  pollIds: [],
  personIds: [],
  kinds: [],
  castAts: [],
  eventIds: [],
  temperatures: [],
});

export interface PresenceResult {
  /** Person-days recomputed (kept or removed). */
  personDays: number;
  /** Of which had no event left (a register deleted): their row removed. */
  removed: number;
}

// Array literals made here, one join per array: node-pg's own (prepareValue and two regular
// expressions per element) cost the writer ~2 s of CPU per 200,000 events
// (bench:attendance-writer). Text is quoted (a poll id may be "NULL", an instant as Postgres
// prints it holds a space); a voter id holds no backslash (common/vote.ts), a double quote
// is escaped; uuids and numbers need no quoting.
const quoted = (s: string) => `"${s.includes('"') ? s.replaceAll('"', '\\"') : s}"`;
const textArray = (values: readonly string[]) => `{${values.map(quoted).join(",")}}`;
const plainArray = (values: readonly (string | number | null)[]) =>
  `{${values.map((v) => (v === null ? "NULL" : v)).join(",")}}`;

const KEEP_DAYS = `
  select person_days as "personDays", removed
  from attendance_keep_days($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::uuid[],
                            $6::numeric[], $7::integer)`;

/**
 * Keeps the person-days of `events` (this batch's inserted register events) and up to
 * `dirtyLimit` dirty ones, in the caller's transaction, after the events are inserted and
 * before the commit.
 */
export async function keepPresence(
  client: PoolClient,
  events: RegisterEvents,
  dirtyLimit: number,
): Promise<PresenceResult> {
  if (events.eventIds.length === 0 && dirtyLimit <= 0) return { personDays: 0, removed: 0 };
  const { rows } = await client.query<PresenceResult>(KEEP_DAYS, [
    textArray(events.pollIds),
    textArray(events.personIds),
    textArray(events.kinds),
    textArray(events.castAts),
    plainArray(events.eventIds),
    plainArray(events.temperatures),
    dirtyLimit,
  ]);
  return rows[0]!;
}

/**
 * While no votes arrive, dirty person-days are recomputed on their own: transactions of up
 * to `limit` person-days, one after another while each finds a full `limit`, for at most
 * `budgetMs` (a vote arriving meanwhile waits no longer than that). Resolves to the
 * person-days recomputed.
 */
export async function sweepDirtyPersonDays(
  pool: Pool,
  limit: number,
  budgetMs: number,
  signal: AbortSignal,
): Promise<number> {
  const started = performance.now();
  let total = 0;
  for (;;) {
    const client = await pool.connect();
    let result: PresenceResult;
    try {
      await client.query("begin");
      result = await keepPresence(client, noRegisterEvents(), limit);
      await client.query("commit");
    } catch (err) {
      await client.query("rollback").catch(() => {});
      client.release(true);
      throw err;
    }
    client.release();
    total += result.personDays;
    if (result.personDays < limit || signal.aborted || performance.now() - started >= budgetMs)
      return total;
  }
}

/**
 * While no votes arrive, past person-days are settled (their covered copy for the period
 * reads, migration 025) and change rows no publisher reads any more pruned: statements of
 * up to `limit` rows, one after another while each finds a full `limit`, for at most
 * `budgetMs`. Resolves to the person-days settled.
 */
export async function settlePastDays(
  pool: Pool,
  limit: number,
  budgetMs: number,
  signal: AbortSignal,
): Promise<number> {
  const started = performance.now();
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>("select attendance_settle_days($1) as n", [
      limit,
    ]);
    total += rows[0]!.n;
    if (rows[0]!.n < limit || signal.aborted || performance.now() - started >= budgetMs) break;
  }
  while (!signal.aborted && performance.now() - started < budgetMs) {
    const { rows } = await pool.query<{ n: number }>(
      "select attendance_prune_day_changes($1) as n",
      [limit],
    );
    if (rows[0]!.n < limit) break;
  }
  // The registers' change log (migration 050; 042's before it): what no publisher consumed.
  while (!signal.aborted && performance.now() - started < budgetMs) {
    const { rows } = await pool.query<{ n: number }>(
      "select register_prune_poll_changes($1) as n",
      [limit],
    );
    if (rows[0]!.n < limit) break;
  }
  return total;
}
