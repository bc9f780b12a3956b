import { createHash } from "node:crypto";
import type { DayRules } from "../common/attendance/person-day.ts";
import { viewDay } from "../common/attendance/person-day.ts";
import { dayRules, type LocalDay } from "../common/attendance/school-day.ts";
import type {
  AttendanceCounts,
  AttendanceDetail,
  AttendanceLists,
} from "../common/attendance-contract.ts";
import { formatAttendanceVersion } from "../common/attendance-contract.ts";
import type { AttendanceSchool, DayRow, RosterPerson } from "./attendance-store.ts";

// A school's day document, from its active roster and the day's stored rows: every person
// viewed once with the presence rules' one home (viewDay), then counted and listed for the
// school and for each of their groups. Pure: no I/O, and the clock only as `nowMs`. The
// counts mean what report 15's per-day counts mean (attendance_school_day_counts, migration
// 022), so that a document and the SQL computed from the raw events can be compared: the
// roster and the absent are the active people, absent on school days only; the present, in
// now, late, fever and auto-closed are everyone with events; anomalies are events.
//
// What the document shows moves with the clock at one instant only: the day's dayEndsAt.
// Before it, someone checked in is in now, hence present whatever their minutes; after it,
// open check-ins are closed there and every person's minutes are fixed. So the document
// holds no running minutes (a screen would have to be republished every minute for them),
// and a day is republished by the clock once, when it ends (`dayOver`, the version's `-c`).

/** One publication: the version and the bytes of both documents. */
export interface BuiltDay {
  version: string;
  dayOver: boolean;
  /**
   * The AttendanceDayDocument: its text, or its UTF-8 bytes (the kept today's: encoded once,
   * hashed and sent to Redis as they are).
   */
  json: string | Buffer;
  /** The AttendanceCountsDocument of the same version. */
  countsJson: string;
  counts: AttendanceCounts;
}

interface Section {
  counts: AttendanceCounts;
  lists: AttendanceLists;
}

const newSection = (): Section => ({
  counts: {
    roster: 0,
    inNow: 0,
    present: 0,
    absent: 0,
    late: 0,
    fever: 0,
    autoClosed: 0,
    anomalies: 0,
  },
  lists: { inNow: [], out: [], absent: [], late: [], fever: [], autoClosed: [], anomalies: [] },
});

/** inNow and out: present; absent: active, not present, a school day; none: none of these. */
export type Status = "inNow" | "out" | "absent" | "none";

export const NO_FLAGS = 0;
export const LATE = 1;
export const FEVER = 2;
export const AUTO_CLOSED = 4;
export const ANOMALIES = 8;

/** What a person contributes to a day document: a status, flags, and what the flags rest on. */
export interface PersonView {
  status: Status;
  flags: number;
  anomalies: number;
  /** null when no flag is set. */
  detail: AttendanceDetail | null;
}

/**
 * One person's part of a day document: the one place both builders (the whole document here,
 * the kept today in attendance-live-day.ts) take it from, so both give the same bytes.
 */
export function viewPerson(
  active: boolean,
  schoolDay: boolean,
  row: DayRow | undefined,
  rules: DayRules,
  nowMs: number,
): PersonView {
  let status: Status = active && schoolDay ? "absent" : "none";
  let flags = NO_FLAGS;
  let anomalies = 0;
  let detail: AttendanceDetail | null = null;
  if (row !== undefined) {
    const view = viewDay(row.state, rules, nowMs);
    if (view.inNow) status = "inNow";
    else if (view.present) status = "out";
    anomalies = view.anomalies;
    if (view.late) flags |= LATE;
    if (view.fever) flags |= FEVER;
    if (view.autoClosed) flags |= AUTO_CLOSED;
    if (view.anomalies > 0) flags |= ANOMALIES;
    if (flags !== NO_FLAGS) {
      // Only what each flag rests on: the document stays small with a late tail of 1,000.
      detail = {};
      if (flags & (LATE | AUTO_CLOSED) && row.state.firstInMs !== null)
        detail.firstIn = new Date(row.state.firstInMs).toISOString();
      if (flags & FEVER) detail.maxTemperatureC = row.state.maxTemperatureC;
      if (flags & ANOMALIES) detail.anomalies = view.anomalies;
    }
  }
  return { status, flags, anomalies, detail };
}

function add(section: Section, id: string, active: boolean, view: PersonView): void {
  const { counts, lists } = section;
  const { status, flags, anomalies } = view;
  if (active) counts.roster++;
  if (status !== "none") lists[status].push(id);
  if (status === "inNow" || status === "out") counts.present++;
  if (status === "inNow") counts.inNow++;
  if (status === "absent") counts.absent++;
  if (flags === NO_FLAGS) return;
  if (flags & LATE) {
    counts.late++;
    lists.late.push(id);
  }
  if (flags & FEVER) {
    counts.fever++;
    lists.fever.push(id);
  }
  if (flags & AUTO_CLOSED) {
    counts.autoClosed++;
    lists.autoClosed.push(id);
  }
  if (flags & ANOMALIES) {
    counts.anomalies += anomalies;
    lists.anomalies.push(id);
  }
}

/** `{"a":1}` + `{"b":2}` → `{"a":1,"b":2}`: the content serialised once, for its hash and the document. */
export const joinObjects = (head: object, bodyJson: string) => {
  const headJson = JSON.stringify(head);
  return `${headJson.slice(0, -1)},${bodyJson.slice(1)}`;
};

/** Rules by zone, settings and day: luxon builds a zone per call, ~1,000 schools share a few. */
const rulesMemo = new Map<string, DayRules>();

export function rulesOf(school: AttendanceSchool, day: LocalDay): DayRules {
  const { settings, timeZone } = school;
  const key = `${timeZone}|${settings.dayEndsAt}|${settings.lateAfter}|${settings.minPresentMinutes}|${settings.feverThresholdC}|${day}`;
  let rules = rulesMemo.get(key);
  if (rules === undefined) {
    if (rulesMemo.size >= 10_000) rulesMemo.clear();
    rules = dayRules(settings, timeZone, day);
    rulesMemo.set(key, rules);
  }
  return rules;
}

/** What both documents of a day start with (the version and publishedAt are stamped apart). */
export function documentHead(
  school: AttendanceSchool,
  day: LocalDay,
  dayEndMs: number,
  dayOver: boolean,
  schoolDay: boolean,
  asOfMs: number | null,
) {
  const { settings, timeZone } = school;
  return {
    schoolId: school.id,
    day,
    timeZone,
    asOf: asOfMs === null ? null : new Date(asOfMs).toISOString(),
    dayEndsAt: new Date(dayEndMs).toISOString(),
    dayOver,
    schoolDay,
    rules: {
      dayEndsAt: settings.dayEndsAt,
      minPresentMinutes: settings.minPresentMinutes,
      lateAfter: settings.lateAfter,
      feverThresholdC: settings.feverThresholdC,
    },
  };
}

/**
 * The day document of `day` at `nowMs`. The people it covers: the active roster, and anyone
 * else with a row that day (counted where they were, in the groups they are in now, or in
 * none once their roster row is gone). `schoolDay`: one of the school's weekdays and no
 * holiday (else nobody is absent). Lists follow the roster's order (the ids' bytewise order,
 * as Postgres reads them), then the others in id order; groups are in name order: the same
 * inputs give the same bytes and the same version.
 */
export function buildDayDocument(
  school: AttendanceSchool,
  day: LocalDay,
  schoolDay: boolean,
  roster: readonly RosterPerson[],
  rows: readonly DayRow[],
  nowMs: number,
  publishedAtMs = nowMs,
): BuiltDay {
  const rules = rulesOf(school, day);
  const dayOver = nowMs >= rules.dayEndMs;
  const byPerson = new Map<string, DayRow>();
  let asOfMs: number | null = null;
  for (const r of rows) {
    if (asOfMs === null || r.updatedAtMs > asOfMs) asOfMs = r.updatedAtMs;
    byPerson.set(r.personId, r);
  }

  const whole = newSection();
  const byGroup = new Map<string, Section>();
  const details: Record<string, AttendanceDetail> = {};
  const person = (
    id: string,
    active: boolean,
    groups: readonly string[],
    row: DayRow | undefined,
  ) => {
    const view = viewPerson(active, schoolDay, row, rules, nowMs);
    if (view.detail !== null) details[id] = view.detail;
    add(whole, id, active, view);
    for (const g of groups) {
      let section = byGroup.get(g);
      if (section === undefined) {
        section = newSection();
        byGroup.set(g, section);
      }
      add(section, id, active, view);
    }
  };
  for (const p of roster) {
    person(p.id, true, p.groups, byPerson.get(p.id));
    byPerson.delete(p.id);
  }
  // People with a row and no place in the active roster any more.
  for (const id of [...byPerson.keys()].sort()) {
    const row = byPerson.get(id)!;
    person(id, false, row.groups ?? [], row);
  }

  const groupNames = [...byGroup.keys()].sort();
  const head = documentHead(school, day, rules.dayEndMs, dayOver, schoolDay, asOfMs);
  const content = JSON.stringify({
    ...head,
    counts: whole.counts,
    lists: whole.lists,
    groups: Object.fromEntries(groupNames.map((g) => [g, byGroup.get(g)!])),
    details,
  });
  const version = formatAttendanceVersion(
    createHash("sha256").update(content).digest("hex"),
    dayOver,
  );
  const stamp = { version, publishedAt: new Date(publishedAtMs).toISOString() };
  const countsContent = JSON.stringify({
    ...head,
    counts: whole.counts,
    groups: Object.fromEntries(groupNames.map((g) => [g, byGroup.get(g)!.counts])),
  });
  return {
    version,
    dayOver,
    json: joinObjects(stamp, content),
    countsJson: joinObjects(stamp, countsContent),
    counts: whole.counts,
  };
}
