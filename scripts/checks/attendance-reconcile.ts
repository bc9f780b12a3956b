import type { Pool } from "../../common/postgres.ts";

// The writer's presence state (attendance_days, one row per school, person and local day)
// against the same state computed from scratch over the raw events by migration 022's
// attendance_day_states_from_events: the rules written a second time in SQL, independently
// of common/attendance/person-day.ts, which the writer runs. Used by `npm run reconcile`.
//
// Compared: closed seconds, first in, last out, open since (to the millisecond, as both sides
// hold instants), highest temperature, outs without in, double ins and outs, events. A
// stored row with no events equals no row. A person-day listed in attendance_dirty (a
// register deleted, a person erased: the writer recomputes it at its next batch or sweep) is
// reported as pending, not as a difference.
//
// The publisher's day documents are checked against the same computation beside this, in
// attendance-documents.ts.

/** The days to compare: a school (default all with registers or state), days [from, to). */
export interface AttendanceScope {
  schoolId?: string;
  /** YYYY-MM-DD, school-local; default: unbounded. */
  from?: string;
  to?: string;
  /** How many differing person-days to list per school (all are counted). */
  listed: number;
}

/** `--school` names no school. */
export class UnknownSchoolError extends Error {
  override readonly name = "UnknownSchoolError";
  readonly schoolId: string;
  constructor(schoolId: string) {
    super(`no school with id "${schoolId}"`);
    this.schoolId = schoolId;
  }
}

/** One side of a person-day: attendance_days' compared columns. */
export type DayColumns = Record<(typeof COMPARED)[number], string | number | null>;

export interface DayDifference {
  personId: string;
  day: string;
  /** missing: computed from events, no row; extra: a row with events the events lack. */
  kind: "differs" | "missing" | "extra";
  /** For `differs`: "closed_seconds: stored 100, computed 120", one per column. */
  fields: string[];
  stored: DayColumns;
  computed: DayColumns;
  /** In attendance_dirty: a recompute is due, so not counted as a difference. */
  pending: boolean;
}

export interface SchoolAttendanceReconciliation {
  schoolId: string;
  /** Person-days on either side. */
  compared: number;
  /** Differing person-days, pending ones excluded. */
  differing: number;
  pending: number;
  /** The first `listed` differing (or pending) person-days, by day and person. */
  listed: DayDifference[];
}

export interface AttendanceReconciliation {
  schools: SchoolAttendanceReconciliation[];
  /** Schools with a differing person-day. */
  differences: number;
}

const COMPARED = [
  "closed_seconds",
  "first_in",
  "last_out",
  "open_since",
  "max_temperature_c",
  "outs_without_in",
  "double_ins",
  "double_outs",
  "events",
] as const;

const INSTANTS: ReadonlySet<string> = new Set(["first_in", "last_out", "open_since"]);

/**
 * One side's compared columns as JSON: instants as ISO UTC to the millisecond, a missing
 * row as the empty state (common/attendance/person-day.ts EMPTY_DAY: zeros and nulls).
 */
function side(alias: string): string {
  const value = (c: string) => {
    const column = `${alias}.${c}`;
    if (INSTANTS.has(c))
      return `to_char(date_trunc('milliseconds', ${column}) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    return c === "max_temperature_c" ? column : `coalesce(${column}, 0)`;
  };
  return `jsonb_build_object(${COMPARED.map((c) => `'${c}', ${value(c)}`).join(", ")})`;
}

// One query per school; always one row (the counts), with the first $4 differing
// person-days beside them.
const SCHOOL_SQL = `
  with computed as (
    select * from attendance_day_states_from_events($1, $2::date, $3::date)
  ), stored as (
    select * from attendance_days where school_id = $1 and day >= $2::date and day < $3::date
  ), joined as materialized (
    select coalesce(c.person_id, s.person_id) as person_id,
           coalesce(c.day, s.day) as day,
           coalesce(c.events, 0) > 0 as has_computed,
           coalesce(s.events, 0) > 0 as has_stored,
           ${side("c")} as computed,
           ${side("s")} as stored
    from computed c
    full join stored s on s.person_id = c.person_id and s.day = c.day
  ), differing as materialized (
    select j.*,
           exists (select 1 from attendance_dirty x
                   where x.school_id = $1 and x.person_id = j.person_id and x.day = j.day) as pending
    from joined j
    where j.computed is distinct from j.stored
  )
  select n.compared, n.differing, n.pending_days, l.*
  from (
    select (select count(*) from joined where has_computed or has_stored) as compared,
           (select count(*) from differing where not pending) as differing,
           (select count(*) from differing where pending) as pending_days
  ) n
  left join lateral (
    select d.person_id, d.day::text as day, d.has_computed, d.has_stored, d.computed, d.stored,
           d.pending
    from differing d
    order by d.day, d.person_id collate "C"
    limit $4
  ) l on true`;

interface DifferenceRow {
  compared: number;
  differing: number;
  pending_days: number;
  /** null on the one row of a school with no differing person-day. */
  person_id: string | null;
  day: string;
  has_computed: boolean;
  has_stored: boolean;
  computed: DayColumns;
  stored: DayColumns;
  pending: boolean;
}

/** The schools to check: one, or every school with a register or presence state (also the documents check). */
export async function schoolsToCheck(pool: Pool, schoolId: string | undefined): Promise<string[]> {
  if (schoolId !== undefined) {
    const { rowCount } = await pool.query("select 1 from schools where id = $1", [schoolId]);
    if (rowCount === 0) throw new UnknownSchoolError(schoolId);
    return [schoolId];
  }
  const { rows } = await pool.query<{ id: string }>(`
    select s.id from schools s
    where exists (select 1 from polls p where p.school_id = s.id and p.kind = 'attendance')
       or exists (select 1 from attendance_days a where a.school_id = s.id)
    order by s.id collate "C"`);
  return rows.map((r) => r.id);
}

function describe(row: DifferenceRow): DayDifference {
  const kind = !row.has_stored ? "missing" : !row.has_computed ? "extra" : "differs";
  const fields =
    kind === "differs"
      ? COMPARED.filter((c) => row.stored[c] !== row.computed[c]).map(
          (c) => `${c}: stored ${row.stored[c]}, computed ${row.computed[c]}`,
        )
      : [];
  return {
    personId: row.person_id!,
    day: row.day,
    kind,
    fields,
    stored: row.stored,
    computed: row.computed,
    pending: row.pending,
  };
}

/** attendance_days against the events, school by school (one query each). */
export async function reconcileAttendanceDays(
  pool: Pool,
  scope: AttendanceScope,
): Promise<AttendanceReconciliation> {
  const from = scope.from ?? "-infinity";
  const to = scope.to ?? "infinity";
  const schools: SchoolAttendanceReconciliation[] = [];
  for (const schoolId of await schoolsToCheck(pool, scope.schoolId)) {
    const { rows } = await pool.query<DifferenceRow>(SCHOOL_SQL, [
      schoolId,
      from,
      to,
      scope.listed,
    ]);
    const counts = rows[0]!;
    schools.push({
      schoolId,
      compared: counts.compared,
      differing: counts.differing,
      pending: counts.pending_days,
      listed: rows.filter((r) => r.person_id !== null).map(describe),
    });
  }
  return { schools, differences: schools.filter((s) => s.differing > 0).length };
}

function line(d: DayDifference): string {
  const where = `  ${d.personId} ${d.day}`;
  const pending = d.pending ? " (recompute pending: attendance_dirty)" : "";
  switch (d.kind) {
    case "missing":
      return `${where}: no row in attendance_days, ${d.computed.events} events${pending}`;
    case "extra":
      return `${where}: a row of ${d.stored.events} events in attendance_days, none in votes${pending}`;
    case "differs":
      return `${where}: ${d.fields.join("; ")}${pending}`;
  }
}

/** What `npm run reconcile` prints for attendance: a line (or block) per school, a verdict. */
export function formatAttendanceReconciliation(r: AttendanceReconciliation): string {
  if (r.schools.length === 0) return "";
  const out: string[] = [];
  for (const s of r.schools) {
    const pending = s.pending > 0 ? `, ${s.pending} pending recompute` : "";
    const head =
      s.differing === 0
        ? `attendance ${s.schoolId}: ok (${s.compared} person-days${pending})`
        : `attendance ${s.schoolId}: DIFFERS (${s.differing} of ${s.compared} person-days${pending})`;
    out.push(head, ...s.listed.map(line));
    const more = s.differing + s.pending - s.listed.length;
    if (more > 0 && s.listed.length > 0) out.push(`  … and ${more} more`);
  }
  out.push(
    r.differences === 0
      ? "attendance_days agrees with the events"
      : `${r.differences} school(s) differ in attendance_days`,
  );
  return `${out.join("\n")}\n`;
}
