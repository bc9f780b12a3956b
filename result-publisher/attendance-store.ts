import type { DayState } from "../common/attendance/person-day.ts";
import type { LocalDay } from "../common/attendance/school-day.ts";
import type { AttendanceSettings } from "../common/registry-types.ts";
import { NOT_SEEN_BY } from "./change-cursor.ts";
import type { Queryable } from "./rollup-store.ts";

// What the attendance publisher reads: every school's rules (one row each), the days and
// schools changed since the last run's snapshot (attendance_day_changes, 025;
// attendance_school_changes, 023) or the changed rows themselves (for the todays it keeps,
// attendance-live-day.ts), and for a school it republishes from reads its active roster and
// the rows of the days it republishes. Never `votes`, never a name. Every query of it that reads
// the change tracking is here (NOT_SEEN_BY, change-cursor.ts).

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
 * The current snapshot (`xmin:xmax:xip…`), inside readSnapshot where this must be the first
 * query: the transaction's own. The next run reads what this snapshot did not see.
 */
export async function currentSnapshot(db: Queryable): Promise<string> {
  const { rows } = await db.query<{ snapshot: string }>(
    "select pg_current_snapshot()::text as snapshot",
  );
  return rows[0]!.snapshot;
}

/**
 * The (school, day) pairs with a row `since` did not see, on or after `fromDay`: an idle
 * system returns no rows, a busy one a row per school-day it touched, whatever the number
 * of events. Read from the writer's change log (migration 025: a row per school-day and
 * writing transaction, in the transaction that writes the rows), not from attendance_days,
 * whose tx_id is not indexed (its updates stay heap-only).
 */
export async function loadChangedDays(
  db: Queryable,
  since: string,
  fromDay: LocalDay,
): Promise<{ schoolId: string; day: LocalDay }[]> {
  const { rows } = await db.query<{ school_id: string; day: string }>(
    `select distinct school_id, day::text as day from attendance_day_changes
     where ${NOT_SEEN_BY("$1")} and day >= $2::date`,
    [since, fromDay],
  );
  return rows.map((r) => ({ schoolId: r.school_id, day: r.day }));
}

/** The schools whose roster or day rules changed since `since` (migration 023). */
export async function loadChangedSchools(db: Queryable, since: string): Promise<string[]> {
  const { rows } = await db.query<{ school_id: string }>(
    `select school_id from attendance_school_changes where ${NOT_SEEN_BY("$1")}`,
    [since],
  );
  return rows.map((r) => r.school_id);
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
 * The attendance_days rows of days on or after `firstDay` written by transactions the
 * snapshot `cursor` did not see (as loadDayRows gives them, `groups` null): the changed
 * school-days from the change log (migration 025), then their rows (the primary key's range
 * per school-day: its rows lie together) whose tx_id the snapshot did not see. A row
 * written after `cursor` is in a school-day logged by its own transaction, so none is
 * missed, whichever writer committed first. What the publisher's kept todays
 * (attendance-live-day.ts) are brought up to date with, one query a run for every school: a
 * run in the morning peak reads the interval's writes (~7,500 rows at the reference scale),
 * not 10,000 rows per school. The caller bounds the cursor's age.
 */
export async function loadChangedDayRows(
  db: Queryable,
  cursor: string,
  firstDay: LocalDay,
): Promise<DayRow[]> {
  const { rows } = await db.query<DayRowColumns>(
    `select ${DAY_ROW_COLUMNS}
     from (select distinct school_id as c_school, day as c_day from attendance_day_changes
           where ${NOT_SEEN_BY("$1")} and day >= $2::date) c
     join attendance_days a on a.school_id = c.c_school and a.day = c.c_day
     where ${NOT_SEEN_BY("$1", "a.tx_id")}`,
    [cursor, firstDay],
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
