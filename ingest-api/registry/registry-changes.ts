import type { Pool, PoolClient } from "../../common/postgres.ts";

// What a write of the registry does besides its rows, in its transaction (migration 052's
// and 055's functions, which hold the channels and payloads the listeners parse, a poll's
// insert check and delete, and the lesson registers' change log; 057's, the schools whose
// roster, holidays or day rules changed; 059's, the groups whose active members changed,
// from each person's row before and after): every statement that writes schools, polls,
// poll_options, kiosks, people or school_holidays is followed by one of these (or holds it
// in the statement), so that the other API processes (registry-cache.ts, known-people.ts)
// and the publisher (result-publisher/registry-watch.ts) hear of it at the commit, the
// register publisher (result-publisher/register-store.ts) of a register created, edited or
// deleted, and the attendance publisher (result-publisher/attendance-publisher.ts) of a
// school whose day documents to rebuild. No trigger does it: Citus refuses triggers on the
// reference tables these are (docs/citus.md, "Triggers"). A write made without them is seen
// only at the listeners' safety-net reloads, a register's document is not republished, and
// nor are a school's attendance documents.

/** A registry table whose rows the tallyflow_registry payloads name. */
export type RegistryTable = "schools" | "polls" | "poll_options" | "kiosks";

type Db = Pool | PoolClient;

/**
 * `<table>:<key>` for each key (a poll_options change names its poll). Run it in the
 * transaction that wrote the rows (on a Pool: after the write's commit).
 */
export async function notifyRegistryRows(
  db: Db,
  table: RegistryTable,
  keys: readonly string[],
): Promise<void> {
  if (keys.length === 0) return;
  await db.query("select notify_registry_rows($1, $2::text[])", [table, keys]);
}

/**
 * After inserting polls, in that transaction: refused (Postgres unique_violation on the
 * constraint poll_purges_pkey) while one's id is still being purged, else each one's
 * notification, a school's first lesson register told to the known people, and each
 * register logged for the register publisher.
 */
export async function pollsInserted(db: Db, pollIds: readonly string[]): Promise<void> {
  if (pollIds.length === 0) return;
  await db.query("select polls_inserted($1::text[])", [pollIds]);
}

/**
 * The statement that updates polls: `set` (a column's new value, other columns read as
 * `p.<column>`) on the polls `where` selects (its columns as `p.<column>`), then, in the
 * same statement, migration 055's polls_updated with each row before and after (the
 * `from polls o` self-join reads the statement's snapshot, the old values): each poll
 * notified, each register whose document shows a changed column (title, starts_at,
 * ends_at, group_ids, school_id) logged. Hold the polls' row locks before (lockPoll), so
 * that the old values are the ones updated. For a test or bench writing polls in SQL too.
 */
export function updatePollsSql(set: string, where: string): string {
  return `with changed as (
      update polls p set ${set}
      from polls o
      where o.id = p.id and (${where})
      returning o as before_row, p as after_row
    )
    select polls_updated(array_agg(before_row), array_agg(after_row)) from changed`;
}

/** Runs updatePollsSql(set, where) with these parameters. */
export async function updatePolls(
  db: Db,
  set: string,
  where: string,
  params: readonly unknown[] = [],
): Promise<void> {
  await db.query(updatePollsSql(set, where), [...params]);
}

/**
 * Deletes these polls with what goes at once (their rollups, change marker and log,
 * duplicate counts; the purge of their votes queued), notifies them and logs the registers
 * among them; the ids deleted.
 */
export async function deletePolls(db: Db, pollIds: readonly string[]): Promise<string[]> {
  if (pollIds.length === 0) return [];
  const { rows } = await db.query<{ id: string }>("select delete_polls($1::text[]) as id", [
    pollIds,
  ]);
  return rows.map((r) => r.id);
}

/**
 * After a statement inserted, updated or deleted people of these schools, in its
 * transaction: each school told to the known people (migration 052) and its roster change
 * recorded for the attendance publishers (migration 057's attendance_schools_changed).
 * None: nothing done.
 */
export async function peopleChanged(db: Db, schoolIds: readonly string[]): Promise<void> {
  if (schoolIds.length === 0) return;
  await db.query(
    "select notify_people_schools($1::text[]), attendance_schools_changed($1::text[])",
    [schoolIds],
  );
}

/**
 * The statement that inserts or updates people: `write` (an insert or update of people
 * aliased `p`, `returning p as after_row` and whatever else `columns` reads), then, in the
 * same statement, migration 059's people_changed with each written row before (the rows
 * `before`, a condition over `p.<column>` of people, selects in the statement's snapshot,
 * those the write returned; none for a row inserted) and after: the lesson registers'
 * roster log given the groups whose active members changed. Selects `columns` (over the
 * CTE `w`, the write's returned rows) per written row. Hold the row locks of the people
 * `before` selects first (lockPeopleSql) so that the rows before are the ones written over.
 * Pair it with peopleChanged for the schools. For a test, seed or bench writing people in
 * SQL too: no trigger logs it (docs/citus.md, "Triggers").
 */
export function changePeopleSql(
  write: string,
  before: string,
  columns = "(w.after_row).id",
): string {
  return `with o as (select p as before_row from people p where ${before}),
      w as (${write}),
      told as (
        select people_changed(
          array(select o.before_row from o join w
                  on ((w.after_row).school_id, (w.after_row).id)
                   = ((o.before_row).school_id, (o.before_row).id)),
          array(select w.after_row from w)) as done
      )
    select ${columns} from w cross join told`;
}

/**
 * changePeopleSql for an insert: `rows` what follows `insert into people` (its columns and
 * values or query; `on conflict` allowed, the rows it updates then logged as inserted,
 * which logs more groups than changed, never fewer).
 */
export function insertPeopleSql(rows: string, columns = "(w.after_row).id"): string {
  return changePeopleSql(
    `insert into people as p ${rows} returning p as after_row`,
    "false",
    columns,
  );
}

/** changePeopleSql for `update people p set ${set} where ${where}`. */
export function updatePeopleSql(set: string, where: string, columns = "(w.after_row).id"): string {
  return changePeopleSql(
    `update people p set ${set} where ${where} returning p as after_row`,
    where,
    columns,
  );
}

/**
 * Locks the people `where` (a condition over `p.<column>`) selects, in key order (one order
 * for every writer), for changePeopleSql's rows before.
 */
export function lockPeopleSql(where: string): string {
  return `select 1 from people p where ${where} order by p.school_id, p.id for update`;
}

/**
 * The statement that deletes the people `where` (a condition over `p.<column>`) selects
 * and, in it, people_changed with their rows before (migration 059). Selects `columns`
 * (over the CTE `w`, `w.before_row` each deleted row) per row deleted.
 */
export function deletePeopleSql(where: string, columns = "(w.before_row).id"): string {
  return `with w as (delete from people p where ${where} returning p as before_row),
      told as (select people_changed(array(select w.before_row from w), '{}') as done)
    select ${columns} from w cross join told`;
}

/**
 * After a statement changed these schools' holidays (or deleted a school with holidays or
 * people), in its transaction: each school's change recorded for the attendance
 * publishers (migration 057). attendanceSchoolsChangedSql's statement does it in one.
 */
export async function attendanceSchoolsChanged(
  db: Db,
  schoolIds: readonly string[],
): Promise<void> {
  if (schoolIds.length === 0) return;
  await db.query("select attendance_schools_changed($1::text[])", [schoolIds]);
}

/**
 * `write` (an insert, update or delete of people or school_holidays `returning` at least
 * school_id) and, in the same statement, attendance_schools_changed for its rows' schools:
 * one statement, so atomic on a Pool too. Selects `columns` (of the returned rows) per row.
 */
export function attendanceSchoolsChangedSql(write: string, columns: string): string {
  return `with written as (${write}),
      marked as (select attendance_schools_changed(array_agg(school_id)) from written)
    select ${columns} from written cross join marked`;
}

/**
 * The statement that updates schools: `set` (a column's new value, other columns read as
 * `s.<column>`) on the schools `where` selects (its columns as `s.<column>`), then, in the
 * same statement, migration 057's schools_updated with each row before and after (the
 * `from schools o` self-join reads the statement's snapshot, the old values): each school
 * notified, the schools whose day rules changed recorded for the attendance publishers,
 * and those whose time zone changed given their person-days to recompute. Selects
 * `columns` (expressions over the updated rows' columns) per school. Hold the schools' row
 * locks before (lockSchool) so that the old values are the ones updated. For a test or
 * bench writing schools in SQL too.
 */
export function updateSchoolsSql(set: string, where: string, columns = "id"): string {
  return `with changed as (
      update schools s set ${set}
      from schools o
      where o.id = s.id and (${where})
      returning o as before_row, s as after_row
    ), told as (
      select schools_updated(array_agg(before_row), array_agg(after_row)) from changed
    )
    select ${columns} from (select (c.after_row).* from changed c cross join told) s`;
}

/** Runs updateSchoolsSql(set, where) with these parameters. */
export async function updateSchools(
  db: Db,
  set: string,
  where: string,
  params: readonly unknown[] = [],
): Promise<void> {
  await db.query(updateSchoolsSql(set, where), [...params]);
}
