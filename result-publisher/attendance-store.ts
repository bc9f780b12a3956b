import type { DayState } from "../common/attendance/person-day.ts";
import type { LocalDay } from "../common/attendance/school-day.ts";
import type { AttendanceSettings } from "../common/registry-types.ts";
import { HOLDS_PUBLISHER_LOCK } from "./leader.ts";
import type { Queryable } from "./rollup-store.ts";

// What the attendance publisher reads: every school's rules (one row each), the change logs
// (the school-days written and the schools whose roster, holidays or rules changed since the
// leader last consumed them: attendance_day_changes, attendance_school_change_log, migration
// 051) and the changed rows themselves (for the todays it keeps, attendance-live-day.ts), and
// for a school it republishes from reads its active roster and the rows of the days it
// republishes. Never `votes`, never a name. Its one write: deleting the log rows it
// consumed, once published (deleteAttendanceChanges). No transaction id is compared: a long
// transaction anywhere in the cluster changes nothing in what a run reads.

/** A school as its day documents need it: its zone and its rules (migration 019). */
export interface AttendanceSchool {
  id: string;
  timeZone: string;
  settings: AttendanceSettings;
}

/** Every school, one row each: ~1,000 rows a run at the reference scale. */
export async function loadAttendanceSchools(db: Queryable): Promise<AttendanceSchool[]> {
  const { rows } = await db.query<{
    id: string;
    time_zone: string;
    day_ends_at: string;
    min_present_minutes: number;
    late_after: string | null;
    min_present_days_pct: number;
    weekdays: number[];
    fever_threshold_c: string;
    temperature_min_c: string;
    temperature_max_c: string;
    public_counts: boolean;
  }>(
    `select id, time_zone, to_char(attendance_day_ends_at, 'HH24:MI') as day_ends_at,
            attendance_min_present_minutes as min_present_minutes,
            to_char(attendance_late_after, 'HH24:MI') as late_after,
            attendance_min_present_days_pct as min_present_days_pct,
            attendance_weekdays as weekdays, fever_threshold_c, temperature_min_c,
            temperature_max_c, attendance_public_counts as public_counts
     from schools`,
  );
  return rows.map((r) => ({
    id: r.id,
    timeZone: r.time_zone,
    settings: {
      dayEndsAt: r.day_ends_at,
      minPresentMinutes: r.min_present_minutes,
      lateAfter: r.late_after,
      minPresentDaysPct: r.min_present_days_pct,
      weekdays: r.weekdays,
      feverThresholdC: Number(r.fever_threshold_c),
      temperatureMinC: Number(r.temperature_min_c),
      temperatureMaxC: Number(r.temperature_max_c),
      publicCounts: r.public_counts,
    },
  }));
}

/**
 * Change ids read of a log, as runs of consecutive ids (`[first, last]`, as text: bigints):
 * every id of a run was read, so deleting a run's range deletes exactly what was read, and a
 * backlog (a publisher down for an hour: millions of rows, a batch's id on every school's
 * today) comes to Node as a few ranges per school-day, not an id per row.
 */
export type ChangeIdRuns = [first: string, last: string][];

/** A logged school-day and the change ids logged for it. */
export interface LoggedDay {
  schoolId: string;
  day: LocalDay;
  changeIds: ChangeIdRuns;
}

/** A school logged as changed and the change ids logged for it. */
export interface LoggedSchool {
  schoolId: string;
  changeIds: ChangeIdRuns;
}

/** What a run read of the change logs (migration 051), in its snapshot. */
export interface AttendanceChangeLog {
  days: LoggedDay[];
  schools: LoggedSchool[];
}

/** `select` of a log's rows (columns `key`, `change_id`) as runs per key, in key order. */
const runsOf = (keys: string, table: string) => `
  select ${keys}, array_agg(first order by first)::text[] as firsts,
         array_agg(last order by first)::text[] as lasts
  from (select ${keys}, min(change_id) as first, max(change_id) as last
        from (select ${keys}, change_id,
                     change_id - row_number() over (partition by ${keys} order by change_id) as run
              from ${table}) ids
        group by ${keys}, run) runs
  group by ${keys}`;

const zipRuns = (firsts: string[], lasts: string[]): ChangeIdRuns =>
  firsts.map((first, i) => [first, lasts[i]!]);

/**
 * The change logs as the run's snapshot sees them: every row not consumed yet, grouped by
 * school-day and by school. An idle system reads two empty tables; a busy one a row per
 * school-day and batch since the last run. The writer logs its school-days in the batch's
 * transaction (attendance_keep_days), the triggers of migration 023 the schools; nothing is
 * deleted but by the publishing leader, after it published what it read.
 */
export async function loadAttendanceChangeLog(db: Queryable): Promise<AttendanceChangeLog> {
  const days = await db.query<{
    school_id: string;
    day: string;
    firsts: string[];
    lasts: string[];
  }>(
    `select school_id, day::text as day, firsts, lasts
     from (${runsOf("school_id, day", "attendance_day_changes")}) d`,
  );
  const schools = await db.query<{ school_id: string; firsts: string[]; lasts: string[] }>(
    runsOf("school_id", "attendance_school_change_log"),
  );
  return {
    days: days.rows.map((r) => ({
      schoolId: r.school_id,
      day: r.day,
      changeIds: zipRuns(r.firsts, r.lasts),
    })),
    schools: schools.rows.map((r) => ({
      schoolId: r.school_id,
      changeIds: zipRuns(r.firsts, r.lasts),
    })),
  };
}

/**
 * Deletes the log rows a run consumed, after it published them: `days` (each school-day's
 * change ids it read; those of documents still owed are left out by the caller) and
 * `schools`; a school change's documents still owed (`owedDays`) are logged again as day
 * rows of this statement's own transaction, so that they stay owed for whichever leader
 * runs next. Rows committed since the run's snapshot were not read and stay (an id not read
 * is in no run of ids read). Returns the rows deleted.
 *
 * With the leader's lock session pid: only while that session still holds the lock, so an
 * old leader whose session ended mid-run (a new leader may hold the lock and not have read
 * these rows yet) deletes and logs nothing. Checked as the statement starts, after its
 * tables' locks (as deleteChangeLog's, rollup-store.ts).
 */
export async function deleteAttendanceChanges(
  db: Queryable,
  consumed: { days: readonly LoggedDay[]; schools: readonly LoggedSchool[] },
  owedDays: readonly { schoolId: string; day: LocalDay }[],
  leaderPid?: number,
): Promise<number> {
  if (consumed.days.length === 0 && consumed.schools.length === 0) return 0;
  const days = {
    schools: [] as string[],
    days: [] as string[],
    firsts: [] as string[],
    lasts: [] as string[],
  };
  for (const d of consumed.days)
    for (const [first, last] of d.changeIds) {
      days.schools.push(d.schoolId);
      days.days.push(d.day);
      days.firsts.push(first);
      days.lasts.push(last);
    }
  const schools = { schools: [] as string[], firsts: [] as string[], lasts: [] as string[] };
  for (const s of consumed.schools)
    for (const [first, last] of s.changeIds) {
      schools.schools.push(s.schoolId);
      schools.firsts.push(first);
      schools.lasts.push(last);
    }
  const values: unknown[] = [
    days.schools,
    days.days,
    days.firsts,
    days.lasts,
    schools.schools,
    schools.firsts,
    schools.lasts,
    owedDays.map((o) => o.schoolId),
    owedDays.map((o) => o.day),
  ];
  if (leaderPid !== undefined) values.push(leaderPid);
  const held = leaderPid === undefined ? "true" : HOLDS_PUBLISHER_LOCK("$10::int");
  const { rows } = await db.query<{ n: number }>(
    `with held as materialized (select ${held} as ok),
     owed as (
       insert into attendance_day_changes (school_id, day)
       select u.school_id, u.day from unnest($8::text[], $9::date[]) as u(school_id, day)
       where (select ok from held)
       on conflict do nothing
       returning 1
     ), days as (
       delete from attendance_day_changes l
       using unnest($1::text[], $2::date[], $3::bigint[], $4::bigint[])
         as u(school_id, day, first, last)
       where l.school_id = u.school_id and l.day = u.day
         and l.change_id between u.first and u.last and (select ok from held)
       returning 1
     ), schools as (
       delete from attendance_school_change_log l
       using unnest($5::text[], $6::bigint[], $7::bigint[]) as u(school_id, first, last)
       where l.school_id = u.school_id and l.change_id between u.first and u.last
         and (select ok from held)
       returning 1
     )
     select ((select count(*) from days) + (select count(*) from schools))::integer as n,
            (select count(*) from owed)::integer as owed`,
    values,
  );
  return rows[0]!.n;
}

/** A person of the roster: id and groups. */
export interface RosterPerson {
  id: string;
  groups: string[];
}

// Group ids are ids (ingest-api/people/people-schemas.ts: letters, digits, `-`, `_`): joined
// with a comma, a roster's groups come as one text each, which parses several times faster
// than a text[] at 10,000 rows.
const splitGroups = (joined: string): string[] => (joined === "" ? [] : joined.split(","));

/**
 * The school's active people, in id order. A named (prepared) statement: at ~1,000 schools a
 * run, planning each would cost more than some reads.
 */
export async function loadActiveRoster(db: Queryable, schoolId: string): Promise<RosterPerson[]> {
  const { rows } = await db.query<{ id: string; groups: string }>({
    name: "attendance-roster",
    text: `select id, array_to_string(groups, ',') as groups from people
           where school_id = $1 and active order by id`,
    values: [schoolId],
  });
  return rows.map((r) => ({ id: r.id, groups: splitGroups(r.groups) }));
}

/** One person-day as stored, with the person's groups (null: not read, or no roster row). */
export interface DayRow {
  schoolId: string;
  personId: string;
  day: LocalDay;
  state: DayState;
  updatedAtMs: number;
  groups: string[] | null;
}

const ms = (column: string) => `floor(extract(epoch from ${column}) * 1000)::float8`;

/** attendance_days columns as a DayRow needs them: instants as epoch milliseconds. */
const DAY_ROW_COLUMNS = `school_id, person_id, day::text as day, closed_seconds,
  ${ms("first_in")} as first_in, ${ms("last_out")} as last_out, ${ms("open_since")} as open_since,
  max_temperature_c::float8 as max_temperature_c, outs_without_in, double_ins, double_outs,
  events, ${ms("updated_at")} as updated_at`;

interface DayRowColumns {
  school_id: string;
  person_id: string;
  day: string;
  closed_seconds: number;
  first_in: number | null;
  last_out: number | null;
  open_since: number | null;
  max_temperature_c: number | null;
  outs_without_in: number;
  double_ins: number;
  double_outs: number;
  events: number;
  updated_at: number;
}

const dayRowOf = (r: DayRowColumns): DayRow => ({
  schoolId: r.school_id,
  personId: r.person_id,
  day: r.day,
  state: {
    closedSeconds: r.closed_seconds,
    firstInMs: r.first_in,
    lastOutMs: r.last_out,
    openSinceMs: r.open_since,
    maxTemperatureC: r.max_temperature_c,
    outsWithoutIn: r.outs_without_in,
    doubleIns: r.double_ins,
    doubleOuts: r.double_outs,
    events: r.events,
  },
  updatedAtMs: r.updated_at,
  groups: null,
});

/**
 * The rows of these days of one school (the primary key's range per day). Instants as epoch
 * milliseconds (numbers parse much faster than dates at 10,000 rows). `groups` is left null:
 * the active roster has them; loadGroupsOf reads those of the few others.
 */
export async function loadDayRows(
  db: Queryable,
  schoolId: string,
  days: readonly LocalDay[],
): Promise<DayRow[]> {
  const { rows } = await db.query<DayRowColumns>({
    name: "attendance-day-rows",
    text: `select ${DAY_ROW_COLUMNS} from attendance_days
           where school_id = $1 and day = any($2::date[])`,
    values: [schoolId, days],
  });
  return rows.map(dayRowOf);
}

/**
 * The attendance_days rows of logged school-days on or after `firstDay` whose change id is
 * one logged for that school-day (as loadDayRows gives them, `groups` null): the row version
 * this snapshot sees was written by a transaction whose log row the leader has not consumed
 * yet. A row whose change id is not among them was seen by the run that consumed it (a row
 * and its school-day's log row commit together), so none is missed, whichever writer
 * committed first, and nothing is compared by order. One range of the primary key per
 * logged school-day (its rows lie together). What the publisher's kept todays
 * (attendance-live-day.ts) are brought up to date with, one query a run for every school: a
 * run in the morning peak reads the interval's writes (~7,500 rows at the reference scale),
 * not 10,000 rows per school. The caller bounds how long the log may have gone unconsumed.
 */
export async function loadChangedDayRows(db: Queryable, firstDay: LocalDay): Promise<DayRow[]> {
  const { rows } = await db.query<DayRowColumns>(
    `select ${DAY_ROW_COLUMNS}
     from (select school_id as c_school, day as c_day, array_agg(change_id) as c_ids
           from attendance_day_changes where day >= $1::date group by school_id, day) c
     join attendance_days a on a.school_id = c.c_school and a.day = c.c_day
     where a.change_id = any(c.c_ids)`,
    [firstDay],
  );
  return rows.map(dayRowOf);
}

/**
 * The groups of people with rows and no place in the active roster (made inactive since;
 * an erased person's pseudonym has no row and no group): a few, read by primary key.
 */
export async function loadGroupsOf(
  db: Queryable,
  schoolId: string,
  personIds: readonly string[],
): Promise<Map<string, string[]>> {
  if (personIds.length === 0) return new Map();
  const { rows } = await db.query<{ id: string; groups: string }>(
    `select id, array_to_string(groups, ',') as groups from people
     where school_id = $1 and id = any($2::text[])`,
    [schoolId, personIds],
  );
  return new Map(rows.map((r) => [r.id, splitGroups(r.groups)]));
}

/** The school's holidays among these days: they are no school days (nobody is absent). */
export async function loadHolidays(
  db: Queryable,
  schoolId: string,
  days: readonly LocalDay[],
): Promise<Set<LocalDay>> {
  const { rows } = await db.query<{ day: string }>(
    "select day::text as day from school_holidays where school_id = $1 and day = any($2::date[])",
    [schoolId, days],
  );
  return new Set(rows.map((r) => r.day));
}
