import { type Pool, withTransaction } from "../common/postgres.ts";
import { HOLDS_PUBLISHER_LOCK } from "./leader.ts";
import type { RegisterRows } from "./register-document.ts";
import type { Queryable } from "./rollup-store.ts";

// What the register publisher reads (one snapshot a run): what changed since the log was
// last consumed (register_change_log, migration 050: states, polls, erasures, and the
// rosters' changes it turned into register changes, 056), the registers among them still
// kept, and each register's rows; the whole kept window only when a rebuild is owed. Its
// writes: turning the rosters' log into register changes, deleting the log rows it
// published. Never a name: the publisher's grant on people
// is ids, groups and the active flag (migration 023).

/** A register of the kept window, as the publisher orders them. */
export interface KeptRegister {
  pollId: string;
  startsAtMs: number;
}

const KEPT = `p.kind = 'register' and p.starts_at >= $1::timestamptz - $2::int * interval '1 day'`;

/** Every register of the kept window (started within the last `days` days): no cursor. */
export async function loadKeptRegisters(
  db: Queryable,
  nowMs: number,
  days: number,
): Promise<KeptRegister[]> {
  const { rows } = await db.query<{ id: string; starts_at: number }>(
    `select p.id, floor(extract(epoch from p.starts_at) * 1000)::float8 as starts_at
     from polls p where ${KEPT}`,
    [new Date(nowMs), days],
  );
  return rows.map((r) => ({ pollId: r.id, startsAtMs: r.starts_at }));
}

/** Which of these registers exist and are kept (the others are gone or past the window). */
export async function loadKeptAmong(
  db: Queryable,
  nowMs: number,
  days: number,
  pollIds: readonly string[],
): Promise<KeptRegister[]> {
  if (pollIds.length === 0) return [];
  const { rows } = await db.query<{ id: string; starts_at: number }>(
    `select p.id, floor(extract(epoch from p.starts_at) * 1000)::float8 as starts_at
     from polls p where ${KEPT} and p.id = any($3::text[])`,
    [new Date(nowMs), days, pollIds],
  );
  return rows.map((r) => ({ pollId: r.id, startsAtMs: r.starts_at }));
}

/** Which of these polls exist (a logged register change names a deleted one too). */
export async function loadExistingPolls(
  db: Queryable,
  pollIds: readonly string[],
): Promise<Set<string>> {
  if (pollIds.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    "select id from polls where id = any($1::text[])",
    [pollIds],
  );
  return new Set(rows.map((r) => r.id));
}

/**
 * What a run reads of register_change_log (migration 050), in its snapshot: poll id → its
 * change_seq. A row per register whose document may have changed (its state, its poll
 * created, edited or deleted, an erasure) since the log was last consumed; empty when
 * nothing changed. No transaction id is compared: a long transaction elsewhere changes
 * nothing here.
 */
export async function loadRegisterChangeLog(db: Queryable): Promise<Map<string, number>> {
  const { rows } = await db.query<{ poll_id: string; change_seq: string }>(
    "select poll_id, change_seq from register_change_log",
  );
  return new Map(rows.map((r) => [r.poll_id, Number(r.change_seq)]));
}

/**
 * Deletes the log rows a run read and published (each only while its change_seq is still
 * the one read: a change committed since moved it, and it stays for the next run). With the
 * leader's lock session pid, only while that session holds the lock (HOLDS_PUBLISHER_LOCK,
 * checked as the statement starts): an old leader whose session ended deletes nothing a new
 * leader may not have read. The rows are locked first in poll order (FOR UPDATE under the
 * sort, migration 058), as log_register_changes takes them: a delete takes them in its
 * join's order (a hash join probing the table's heap, at some sizes), which could deadlock
 * with a batch logging two of them, as poll_change_log's did (deleteChangeLog,
 * rollup-store.ts). Returns the rows deleted.
 */
export async function deleteRegisterChangeLog(
  db: Queryable,
  read: ReadonlyMap<string, number>,
  leaderPid?: number,
): Promise<number> {
  if (read.size === 0) return 0;
  const ids = [...read.keys()];
  const params: unknown[] = [ids, ids.map((id) => read.get(id)!)];
  if (leaderPid !== undefined) params.push(leaderPid);
  // A row a change moved while this waited for it is rechecked on its new version (READ
  // COMMITTED) and left; a row locked here is not changed before the delete.
  const result = await db.query(
    `with taken as (
       select l.poll_id from register_change_log l
       join unnest($1::text[], $2::bigint[]) as u(poll_id, change_seq) on u.poll_id = l.poll_id
       where l.change_seq = u.change_seq${
         leaderPid === undefined ? "" : ` and ${HOLDS_PUBLISHER_LOCK("$3::int")}`
       }
       order by l.poll_id
       for update of l
     )
     delete from register_change_log l using taken t where l.poll_id = t.poll_id`,
    params,
  );
  return result.rowCount ?? 0;
}

/**
 * Turns the rosters' log (register_roster_change_log, migration 056: a row per school whose
 * roster changed, with the groups whose members changed) into register changes, in one
 * transaction: deletes its rows (those no roster transaction holds: a row being changed is
 * left for a later run), then logs in register_change_log
 * (log_register_changes) the registers of those groups that are kept (started within the
 * last `days` days, or later) and not completed, read after the delete, so in a snapshot
 * that sees every roster change consumed. A register created after that read is logged by
 * its creation and built in a later snapshot, which sees them too. With the leader's lock
 * session pid, only rows it holds the lock for are deleted (HOLDS_PUBLISHER_LOCK): an old
 * leader consumes nothing. Returns the schools' rows consumed and the registers logged.
 */
export async function expandRosterChanges(
  pool: Pool,
  nowMs: number,
  days: number,
  leaderPid?: number,
): Promise<{ schools: number; registers: number }> {
  return withTransaction(pool, async (client) => {
    // SKIP LOCKED: a school's row a roster transaction still holds (one left open in a
    // console, a long import) is left for a later run, not waited for: the leader's runs
    // never hang on a roster transaction.
    const gone = await client.query<{ school_id: string; groups: string[] }>(
      `delete from register_roster_change_log
       where school_id in (select school_id from register_roster_change_log${
         leaderPid === undefined ? "" : ` where ${HOLDS_PUBLISHER_LOCK("$1::int")}`
       } for update skip locked)
       returning school_id, groups`,
      leaderPid === undefined ? [] : [leaderPid],
    );
    // Nothing taken: the transaction deleted nothing, its commit writes nothing.
    if (gone.rows.length === 0) return { schools: 0, registers: 0 };
    const schools = gone.rows.flatMap((r) => r.groups.map(() => r.school_id));
    const groups = gone.rows.flatMap((r) => r.groups);
    // polls_register_ends_idx: a school's registers ending since the window's start (those
    // starting since end since), filtered to its start and group.
    const logged = await client.query<{ n: number }>(
      `with open as (
         select p.id
         from (select distinct school_id, group_id from unnest($1::text[], $2::text[])
                 as u(school_id, group_id)) c
         join polls p on p.kind = 'register' and p.school_id = c.school_id
           and p.group_ids[1] = c.group_id
           and p.ends_at >= $3::timestamptz - $4::int * interval '1 day'
           and p.starts_at >= $3::timestamptz - $4::int * interval '1 day'
         left join register_states s on s.poll_id = p.id
         where s.completed_at is null
       ), logged as (
         select log_register_changes(array(select id from open))
       )
       select (select count(*) from open)::int as n from logged`,
      [schools, groups, new Date(nowMs), days],
    );
    return { schools: gone.rows.length, registers: logged.rows[0]!.n };
  });
}

/**
 * Each register's rows, three queries whatever their number: its state with the completion's
 * roster, its people with an event (migration 037), and before the completion the group's
 * members now.
 */
export async function loadRegisterRows(db: Queryable, pollIds: string[]): Promise<RegisterRows[]> {
  if (pollIds.length === 0) return [];
  // One after the other: `db` is the publisher's snapshot transaction, one connection, which
  // runs one query at a time anyway (pg queues concurrent ones, and warns it will refuse them).
  const registers = await db.query<{
    id: string;
    school_id: string;
    group_id: string;
    title: string;
    starts_at: Date;
    ends_at: Date;
    completed_at: Date | null;
    changed: boolean | null;
    events: number | null;
    roster: string[] | null;
  }>(
    `select p.id, p.school_id, p.group_ids[1] as group_id, p.title, p.starts_at, p.ends_at,
              s.completed_at, s.changed_after_completion as changed, s.events, s.roster
       from polls p left join register_states s on s.poll_id = p.id
       where p.id = any($1) and p.kind = 'register'`,
    [pollIds],
  );
  const people = await db.query<{
    poll_id: string;
    person_id: string;
    status: "present" | "absent" | "pending";
    after: boolean;
  }>(
    `select poll_id, person_id, status, after_completion as after from register_people
       where poll_id = any($1)`,
    [pollIds],
  );
  const members = await db.query<{ poll_id: string; id: string }>(
    `select p.id as poll_id, pe.id from polls p
       left join register_states s on s.poll_id = p.id
       join people pe on pe.school_id = p.school_id and pe.active and p.group_ids[1] = any(pe.groups)
       where p.id = any($1) and p.kind = 'register' and s.completed_at is null`,
    [pollIds],
  );
  const peopleOf = Map.groupBy(people.rows, (r) => r.poll_id);
  const membersOf = Map.groupBy(members.rows, (r) => r.poll_id);
  return registers.rows.map((r) => ({
    pollId: r.id,
    schoolId: r.school_id,
    groupId: r.group_id,
    title: r.title,
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    completedAt: r.completed_at,
    changedAfterCompletion: r.changed ?? false,
    events: r.events ?? 0,
    roster: r.roster ?? [],
    people: (peopleOf.get(r.id) ?? []).map((p) => ({
      personId: p.person_id,
      status: p.status,
      afterCompletion: p.after,
    })),
    members: (membersOf.get(r.id) ?? []).map((m) => m.id),
  }));
}

/** Registers of the kept window not completed by their end plus the grace (not archived). */
export async function countOverdue(
  db: Queryable,
  nowMs: number,
  graceMs: number,
  days: number,
): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `select count(*)::int as n from polls p left join register_states s on s.poll_id = p.id
     where p.kind = 'register' and p.archived_at is null and s.completed_at is null
       and p.ends_at < $1::timestamptz - $2::bigint * interval '1 millisecond'
       and p.starts_at >= $1::timestamptz - $3::int * interval '1 day'`,
    [new Date(nowMs), graceMs, days],
  );
  return rows[0]!.n;
}
