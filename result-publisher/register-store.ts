import { NOT_SEEN_BY } from "./change-cursor.ts";
import { HOLDS_PUBLISHER_LOCK } from "./leader.ts";
import type { RegisterRows } from "./register-document.ts";
import type { Queryable } from "./rollup-store.ts";

// What the register publisher reads (one snapshot a run): what changed since the log was
// last consumed (register_change_log, migration 050: states, polls, erasures), the rosters
// changed since its last run's snapshot (023's table), the registers among them still kept,
// and each register's rows; the whole kept window only when it has no cursor. Its one
// write: deleting the log rows it published. Never a name: the publisher's grant on people
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
 * leader may not have read. In poll order, as the writers take the rows. Returns the rows
 * deleted.
 */
export async function deleteRegisterChangeLog(
  db: Queryable,
  read: ReadonlyMap<string, number>,
  leaderPid?: number,
): Promise<number> {
  if (read.size === 0) return 0;
  const ids = [...read.keys()].sort();
  const params: unknown[] = [ids, ids.map((id) => read.get(id)!)];
  if (leaderPid !== undefined) params.push(leaderPid);
  const result = await db.query(
    `delete from register_change_log l
     using unnest($1::text[], $2::bigint[]) as u(poll_id, change_seq)
     where l.poll_id = u.poll_id and l.change_seq = u.change_seq${
       leaderPid === undefined ? "" : ` and ${HOLDS_PUBLISHER_LOCK("$3::int")}`
     }`,
    params,
  );
  return result.rowCount ?? 0;
}

/**
 * The kept registers of these schools not completed: their pending list is the group's
 * members now (polls_register_ends_idx: a school's registers).
 */
export async function loadOpenRegistersOf(
  db: Queryable,
  nowMs: number,
  days: number,
  schoolIds: readonly string[],
): Promise<KeptRegister[]> {
  if (schoolIds.length === 0) return [];
  const { rows } = await db.query<{ id: string; starts_at: number }>(
    `select p.id, floor(extract(epoch from p.starts_at) * 1000)::float8 as starts_at
     from polls p left join register_states s on s.poll_id = p.id
     where ${KEPT} and p.school_id = any($3::text[]) and s.completed_at is null`,
    [new Date(nowMs), days, schoolIds],
  );
  return rows.map((r) => ({ pollId: r.id, startsAtMs: r.starts_at }));
}

/**
 * The schools whose roster changed since the snapshot `since` (migration 023's table, the
 * attendance publisher's too): the one read of a register run still by transaction id.
 */
export async function loadChangedRosters(db: Queryable, since: string): Promise<string[]> {
  const { rows } = await db.query<{ school_id: string }>(
    `select school_id from attendance_school_changes where ${NOT_SEEN_BY("$1")}`,
    [since],
  );
  return rows.map((r) => r.school_id);
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
