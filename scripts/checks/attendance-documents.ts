import type { LocalDay } from "../../common/attendance/school-day.ts";
import type {
  AttendanceCounts,
  AttendanceDayDocument,
  AttendanceLists,
} from "../../common/attendance-contract.ts";
import { keptDays } from "../../common/attendance-contract.ts";
import { readAttendanceDay } from "../../common/attendance-day-read.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { schoolsToCheck } from "./attendance-reconcile.ts";

// The publisher's day documents (in Redis, read through common/attendance-day-read.ts)
// against the same day computed from scratch over the raw events by migration 022:
// attendance_school_day_counts for every count (the school's and each group's) and
// attendance_roster_days for every list and detail. Neither side reads attendance_days (the
// writer's state) on the SQL side, so a wrong writer state, a wrong publisher rule or a
// tampered document all show here. Used by `npm run reconcile` and `npm run verify`.
//
// Lists are compared as sets of ids: the publisher lists the active roster in the
// database's collation order and then the people off the active roster, so its order is
// not one id order on every database, and no rule depends on it.
//
// The view is taken at the document's own instant: its publishedAt, on the same side of the
// day's dayEndsAt as the document (`dayOver`), which is the only instant at which what a
// document shows moves with the clock (docs/attendance.md). Run it on an idle pipeline: an
// event stored after the document's snapshot differs until the next publisher run.

/** The Redis user may not read the documents (the `results` user may not: they name people). */
export class DocumentsNotReadableError extends Error {
  override readonly name = "DocumentsNotReadableError";
}

export interface DocumentScope {
  schoolId?: string;
  /** School-local days [from, to); default: every kept day. */
  from?: string;
  to?: string;
  /** ATTENDANCE_DAYS_KEPT: which days have documents. */
  daysKept: number;
  /** Differing lines listed per school-day (all are counted). */
  listed: number;
  nowMs?: number;
  /** These days only (each checked if kept), instead of every kept day: what a run wrote. */
  days?: LocalDay[];
}

export interface DocumentDifference {
  schoolId: string;
  day: LocalDay;
  /** missing: no document for a kept day; differs: a count, list, group or detail is off. */
  kind: "missing" | "differs";
  lines: string[];
  /** Lines beyond `listed`. */
  more: number;
}

export interface SchoolDocuments {
  schoolId: string;
  /** Documents compared (kept days in scope). */
  days: number;
  differences: DocumentDifference[];
}

export interface DocumentReconciliation {
  schools: SchoolDocuments[];
  /** School-days whose document is missing or differs. */
  differences: number;
}

const COUNT_KEYS: readonly (keyof AttendanceCounts)[] = [
  "roster",
  "inNow",
  "present",
  "absent",
  "late",
  "fever",
  "autoClosed",
  "anomalies",
];
const LIST_KEYS: readonly (keyof AttendanceLists)[] = [
  "inNow",
  "out",
  "absent",
  "late",
  "fever",
  "autoClosed",
  "anomalies",
];

const COUNTS_SQL = `
  select group_id, school_day, roster, present, absent, in_now, late, fever, auto_closed, anomalies
  from attendance_school_day_counts($1, $2::date, $2::date + 1, $3::timestamptz)
  where day = $2::date`;

// Every person of the day: those with events, and the active roster's absent ones (on a
// school day); their roster entry (groups, active) as it is now, if any.
const PEOPLE_SQL = `
  select rd.person_id, rd.in_now, rd.present, rd.school_day, rd.late, rd.fever, rd.auto_closed,
         rd.anomalies,
         to_char(date_trunc('milliseconds', rd.first_in) at time zone 'UTC',
                 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as first_in,
         rd.max_temperature_c::float8 as max_temperature_c,
         coalesce(p.active, false) as active, p.groups
  from attendance_roster_days($1, $2::date, $2::date + 1, $3::timestamptz) rd
  left join people p on p.school_id = $1 and p.id = rd.person_id
  where rd.day = $2::date`;

interface CountsRow {
  group_id: string | null;
  school_day: boolean;
  roster: number;
  present: number;
  absent: number;
  in_now: number;
  late: number;
  fever: number;
  auto_closed: number;
  anomalies: number;
}

interface PersonRow {
  person_id: string;
  in_now: boolean;
  present: boolean;
  school_day: boolean;
  late: boolean;
  fever: boolean;
  auto_closed: boolean;
  anomalies: number;
  first_in: string | null;
  max_temperature_c: number | null;
  active: boolean;
  groups: string[] | null;
}

const countsOf = (r: CountsRow): AttendanceCounts => ({
  roster: r.roster,
  inNow: r.in_now,
  present: r.present,
  absent: r.absent,
  late: r.late,
  fever: r.fever,
  autoClosed: r.auto_closed,
  anomalies: r.anomalies,
});

const emptyLists = (): AttendanceLists => ({
  inNow: [],
  out: [],
  absent: [],
  late: [],
  fever: [],
  autoClosed: [],
  anomalies: [],
});

/** The lists a person is in, by the 022 view of their day. */
function listsOf(p: PersonRow): (keyof AttendanceLists)[] {
  const into: (keyof AttendanceLists)[] = [];
  if (p.in_now) into.push("inNow");
  else if (p.present) into.push("out");
  else if (p.active && p.school_day) into.push("absent");
  if (p.late) into.push("late");
  if (p.fever) into.push("fever");
  if (p.auto_closed) into.push("autoClosed");
  if (p.anomalies > 0) into.push("anomalies");
  return into;
}

/** The day computed from the events: counts, lists and details, as a document holds them. */
export interface ComputedDay {
  schoolDay: boolean;
  counts: AttendanceCounts;
  lists: AttendanceLists;
  groups: Map<string, { counts: AttendanceCounts; lists: AttendanceLists }>;
  details: Map<string, { firstIn?: string; maxTemperatureC?: number | null; anomalies?: number }>;
}

/**
 * The instant a document is judged at: its publishedAt, kept on the document's side of
 * dayEndsAt (a document found unchanged keeps an older publishedAt).
 */
export function viewInstant(doc: AttendanceDayDocument): string {
  const published = Date.parse(doc.publishedAt);
  const ends = Date.parse(doc.dayEndsAt);
  const at = doc.dayOver ? Math.max(published, ends) : Math.min(published, ends - 1);
  return new Date(at).toISOString();
}

/** One school-day from scratch over the raw events (two queries), viewed at `atIso`. */
export async function computeDay(
  pool: Pool,
  schoolId: string,
  day: LocalDay,
  atIso: string,
): Promise<ComputedDay> {
  const [{ rows: countRows }, { rows: people }] = await Promise.all([
    pool.query<CountsRow>(COUNTS_SQL, [schoolId, day, atIso]),
    pool.query<PersonRow>(PEOPLE_SQL, [schoolId, day, atIso]),
  ]);
  const whole = countRows.find((r) => r.group_id === null);
  const groups = new Map<string, { counts: AttendanceCounts; lists: AttendanceLists }>();
  for (const r of countRows)
    if (r.group_id !== null) groups.set(r.group_id, { counts: countsOf(r), lists: emptyLists() });
  const lists = emptyLists();
  const details: ComputedDay["details"] = new Map();
  people.sort((a, b) => (a.person_id < b.person_id ? -1 : a.person_id > b.person_id ? 1 : 0));
  for (const p of people) {
    const into = listsOf(p);
    for (const k of into) lists[k].push(p.person_id);
    for (const g of p.groups ?? []) {
      const section = groups.get(g);
      if (section !== undefined) for (const k of into) section.lists[k].push(p.person_id);
    }
    if (p.late || p.fever || p.auto_closed || p.anomalies > 0) {
      const d: { firstIn?: string; maxTemperatureC?: number | null; anomalies?: number } = {};
      if ((p.late || p.auto_closed) && p.first_in !== null) d.firstIn = p.first_in;
      if (p.fever) d.maxTemperatureC = p.max_temperature_c;
      if (p.anomalies > 0) d.anomalies = p.anomalies;
      details.set(p.person_id, d);
    }
  }
  const zero = Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as unknown as AttendanceCounts;
  return {
    schoolDay: whole?.school_day ?? false,
    counts: whole === undefined ? zero : countsOf(whole),
    lists,
    groups,
    details,
  };
}

function listLines(where: string, published: string[], computed: string[]): string[] {
  const pub = new Set(published);
  const com = new Set(computed);
  const lacks = computed.filter((id) => !pub.has(id));
  const extra = published.filter((id) => !com.has(id));
  const sample = (ids: string[]) => `${ids.slice(0, 5).join(", ")}${ids.length > 5 ? ", …" : ""}`;
  const out: string[] = [];
  if (lacks.length > 0) out.push(`${where}: lacks ${lacks.length} (${sample(lacks)})`);
  if (extra.length > 0) out.push(`${where}: ${extra.length} too many (${sample(extra)})`);
  return out;
}

function sectionLines(
  where: string,
  published: { counts: AttendanceCounts; lists?: AttendanceLists },
  computed: { counts: AttendanceCounts; lists: AttendanceLists },
): string[] {
  const out: string[] = [];
  for (const k of COUNT_KEYS)
    if (published.counts[k] !== computed.counts[k])
      out.push(
        `${where}counts.${k}: published ${published.counts[k]}, computed ${computed.counts[k]}`,
      );
  if (published.lists !== undefined)
    for (const k of LIST_KEYS)
      out.push(...listLines(`${where}lists.${k}`, published.lists[k] ?? [], computed.lists[k]));
  return out;
}

/** Every way a published document differs from the computed day, one line each. */
export function compareDay(doc: AttendanceDayDocument, computed: ComputedDay): string[] {
  const out: string[] = [];
  if (doc.schoolDay !== computed.schoolDay)
    out.push(`schoolDay: published ${doc.schoolDay}, computed ${computed.schoolDay}`);
  out.push(...sectionLines("", doc, computed));
  const names = new Set([...Object.keys(doc.groups), ...computed.groups.keys()]);
  for (const g of [...names].sort()) {
    const pub = doc.groups[g];
    const com = computed.groups.get(g);
    if (pub === undefined) out.push(`groups.${g}: not in the document`);
    else if (com === undefined) out.push(`groups.${g}: in the document, computed no such group`);
    else out.push(...sectionLines(`groups.${g}.`, pub, com));
  }
  const ids = new Set([...Object.keys(doc.details), ...computed.details.keys()]);
  for (const id of [...ids].sort()) {
    const pub = JSON.stringify(doc.details[id] ?? null);
    const com = JSON.stringify(computed.details.get(id) ?? null);
    if (pub !== com) out.push(`details.${id}: published ${pub}, computed ${com}`);
  }
  return out;
}

/** Every published document of the schools in scope against the events. */
export async function reconcileAttendanceDocuments(
  pool: Pool,
  redis: RedisClient,
  prefix: string,
  scope: DocumentScope,
): Promise<DocumentReconciliation> {
  const nowMs = scope.nowMs ?? Date.now();
  const schools: SchoolDocuments[] = [];
  const zones = new Map<string, string>();
  const { rows } = await pool.query<{ id: string; time_zone: string }>(
    "select id, time_zone from schools",
  );
  for (const r of rows) zones.set(r.id, r.time_zone);
  for (const schoolId of await schoolsToCheck(pool, scope.schoolId)) {
    const kept = keptDays(nowMs, zones.get(schoolId)!, scope.daysKept);
    const days = kept
      .filter(
        (d) =>
          (scope.from === undefined || d >= scope.from) &&
          (scope.to === undefined || d < scope.to) &&
          (scope.days === undefined || scope.days.includes(d)),
      )
      .sort();
    const differences: DocumentDifference[] = [];
    for (const day of days) {
      const doc = await readAttendanceDay(redis, prefix, schoolId, day).catch((err: unknown) => {
        if (err instanceof Error && err.message.startsWith("NOPERM"))
          throw new DocumentsNotReadableError(
            `this Redis user may not read the attendance documents (${err.message}): use a user that may, not the read-only results user`,
          );
        throw err;
      });
      if (doc === null) {
        differences.push({ schoolId, day, kind: "missing", lines: [], more: 0 });
        continue;
      }
      const lines = compareDay(doc, await computeDay(pool, schoolId, day, viewInstant(doc)));
      if (lines.length > 0)
        differences.push({
          schoolId,
          day,
          kind: "differs",
          lines: lines.slice(0, scope.listed),
          more: Math.max(0, lines.length - scope.listed),
        });
    }
    schools.push({ schoolId, days: days.length, differences });
  }
  return {
    schools,
    differences: schools.reduce((n, s) => n + s.differences.length, 0),
  };
}

/** What `npm run reconcile` prints for the documents: a line per school, a block per differing day. */
export function formatDocumentReconciliation(r: DocumentReconciliation): string {
  if (r.schools.length === 0) return "";
  const out: string[] = [];
  for (const s of r.schools) {
    if (s.differences.length === 0) {
      out.push(`attendance documents ${s.schoolId}: ok (${s.days} days)`);
      continue;
    }
    out.push(
      `attendance documents ${s.schoolId}: DIFFERS (${s.differences.length} of ${s.days} days)`,
    );
    for (const d of s.differences) {
      if (d.kind === "missing") {
        out.push(`  ${d.day}: not published`);
        continue;
      }
      out.push(`  ${d.day}:`, ...d.lines.map((l) => `    ${l}`));
      if (d.more > 0) out.push(`    … and ${d.more} more`);
    }
  }
  out.push(
    r.differences === 0
      ? "every published attendance document agrees with the events"
      : `${r.differences} school-day document(s) differ from the events`,
  );
  return `${out.join("\n")}\n`;
}
