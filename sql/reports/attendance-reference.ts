import {
  type AttendanceEvent,
  type DayRules,
  type DayState,
  type DayView,
  dayState,
  periodPresent,
  viewDay,
} from "../../common/attendance/person-day.ts";
import {
  dayRules,
  type LocalDay,
  localDay,
  periodOf,
  schoolDays,
} from "../../common/attendance/school-day.ts";
import type {
  AttendanceDataset,
  AttendancePerson,
  AttendanceRecord,
  AttendanceSchool,
} from "../../test-support/attendance-dataset.ts";
import { pct, type Row, ts } from "./test-reference.ts";

// The attendance reports (11-15) computed in TypeScript over the in-memory data set, with
// the rules' one home (common/attendance/person-day.ts) and the school's calendar
// (common/attendance/school-day.ts, luxon): what the writer, the publisher and the API run.
// Nothing here reads SQL. Rows come in the reports' order and canonical form: instants as ISO
// UTC strings, booleans t/f, numbers as Postgres prints them, null as "".

export interface Days {
  /** First day of the range. */
  from: LocalDay;
  /** The day after the last (half-open). */
  to: LocalDay;
}

export function addDays(day: LocalDay, n: number): LocalDay {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000).toISOString().slice(0, 10);
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const weekday = (day: LocalDay) => WEEKDAYS[new Date(`${day}T00:00:00Z`).getUTCDay()]!;
const tf = (b: boolean) => (b ? "t" : "f");
const opt = (ms: number | null) => (ms === null ? "" : ts(ms));
const temp = (c: number | null) => (c === null ? "" : c.toFixed(1));
/** Bytewise order of ids (collate "C"); the data set's ids are ASCII or Latin-1. */
const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function schoolOf(d: AttendanceDataset, id: string): AttendanceSchool {
  const s = d.schools.find((x) => x.id === id);
  if (!s) throw new Error(`no school ${id}`);
  return s;
}

function eventsOf(d: AttendanceDataset, schoolId: string): AttendanceRecord[] {
  return d.events.filter((e) => e.schoolId === schoolId);
}

const asEvent = (e: AttendanceRecord): AttendanceEvent => ({
  eventId: e.eventId,
  kind: e.kind,
  atMs: e.atMs,
  temperatureC: e.temperatureC,
});

export function today(d: AttendanceDataset, schoolId: string, nowMs: number): LocalDay {
  return localDay(nowMs, schoolOf(d, schoolId).timeZone);
}

/** include/school.sql's defaults: the first event's day to the later of today and the last's. */
export function defaultDays(d: AttendanceDataset, schoolId: string, nowMs: number): Days {
  const tz = schoolOf(d, schoolId).timeZone;
  const days = eventsOf(d, schoolId)
    .map((e) => localDay(e.atMs, tz))
    .sort();
  const t = today(d, schoolId, nowMs);
  const last = days.at(-1) ?? t;
  return { from: days[0] ?? t, to: addDays(last > t ? last : t, 1) };
}

export interface PersonDay {
  personId: string;
  day: LocalDay;
  events: AttendanceRecord[];
  state: DayState;
  rules: DayRules;
  view: DayView;
  schoolDay: boolean;
}

function isSchoolDay(s: AttendanceSchool, day: LocalDay): boolean {
  return schoolDays(day, day, s.settings.weekdays, new Set(s.holidays)).length === 1;
}

function personDay(
  s: AttendanceSchool,
  personId: string,
  day: LocalDay,
  events: AttendanceRecord[],
  nowMs: number,
): PersonDay {
  const state = dayState(events.map(asEvent));
  const rules = dayRules(s.settings, s.timeZone, day);
  return {
    personId,
    day,
    events,
    state,
    rules,
    view: viewDay(state, rules, nowMs),
    schoolDay: isSchoolDay(s, day),
  };
}

/** Every person-day with events in the range, by person and day. */
export function personDays(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
): PersonDay[] {
  const s = schoolOf(d, schoolId);
  const grouped = new Map<string, AttendanceRecord[]>();
  for (const e of eventsOf(d, schoolId)) {
    const day = localDay(e.atMs, s.timeZone);
    if (day < r.from || day >= r.to) continue;
    const key = `${e.personId}\u0000${day}`;
    grouped.set(key, [...(grouped.get(key) ?? []), e]);
  }
  return [...grouped]
    .map(([key, events]) => {
      const [personId, day] = key.split("\u0000") as [string, string];
      return personDay(s, personId, day, events, nowMs);
    })
    .sort((a, b) => byId(a.personId, b.personId) || byId(a.day, b.day));
}

/** The days counted for absences and periods: [from, min(to, today + 1)). */
function countedDays(d: AttendanceDataset, schoolId: string, r: Days, nowMs: number): Days {
  const hi = addDays(today(d, schoolId, nowMs), 1);
  return { from: r.from, to: r.to < hi ? r.to : hi };
}

function schoolDaysIn(s: AttendanceSchool, r: Days): LocalDay[] {
  if (r.from >= r.to) return [];
  return schoolDays(r.from, addDays(r.to, -1), s.settings.weekdays, new Set(s.holidays));
}

/** personDays, and each active person's school days (up to today) without events. */
export function rosterDays(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
): PersonDay[] {
  const s = schoolOf(d, schoolId);
  const days = personDays(d, schoolId, r, nowMs);
  const seen = new Set(days.map((x) => `${x.personId}\u0000${x.day}`));
  const open = schoolDaysIn(s, countedDays(d, schoolId, r, nowMs));
  for (const p of d.people.filter((x) => x.schoolId === schoolId && x.active))
    for (const day of open)
      if (!seen.has(`${p.id}\u0000${day}`)) days.push(personDay(s, p.id, day, [], nowMs));
  return days.sort((a, b) => byId(a.personId, b.personId) || byId(a.day, b.day));
}

function personOf(d: AttendanceDataset, schoolId: string, id: string) {
  return d.people.find((p) => p.schoolId === schoolId && p.id === id);
}

function rosterCells(p: AttendancePerson | undefined): [string, string] {
  return p === undefined ? ["", ""] : [tf(p.active), p.groups.join(" ")];
}

export interface Filter {
  group?: string;
  person?: string;
}

function keep(p: AttendancePerson | undefined, personId: string, f: Filter): boolean {
  if (f.group !== undefined && !(p?.groups.includes(f.group) ?? false)) return false;
  return f.person === undefined || f.person === personId;
}

// --- 11 presence ----------------------------------------------------------------------------

export function presenceDays(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
  f: Filter = {},
): Row[] {
  const s = schoolOf(d, schoolId);
  return rosterDays(d, schoolId, r, nowMs)
    .filter((x) => keep(personOf(d, schoolId, x.personId), x.personId, f))
    .map((x) => [
      x.personId,
      ...rosterCells(personOf(d, schoolId, x.personId)),
      x.day,
      weekday(x.day),
      tf(x.schoolDay),
      String(x.state.events),
      opt(x.state.firstInMs),
      opt(x.state.lastOutMs),
      opt(x.state.openSinceMs),
      String(x.view.minutes),
      tf(x.view.inNow),
      tf(x.view.autoClosed),
      tf(x.view.present),
      tf(x.view.late),
      tf(x.view.fever),
      temp(x.state.maxTemperatureC),
      String(x.state.outsWithoutIn),
      String(x.state.doubleIns),
      String(x.state.doubleOuts),
      String(s.settings.minPresentMinutes),
      ts(x.rules.dayEndMs),
      opt(x.rules.lateAfterMs),
      temp(s.settings.feverThresholdC),
    ]);
}

export interface Period {
  personId: string;
  from: LocalDay;
  to: LocalDay;
  schoolDays: number;
  presentDays: number;
  present: boolean;
}

/** Each person's weeks, months or whole range (the week and month rule). */
export function periods(
  d: AttendanceDataset,
  schoolId: string,
  kind: "week" | "month" | "range",
  r: Days,
  nowMs: number,
): Period[] {
  const s = schoolOf(d, schoolId);
  const counted = countedDays(d, schoolId, r, nowMs);
  const days = personDays(d, schoolId, r, nowMs);
  const who = new Set([
    ...d.people.filter((p) => p.schoolId === schoolId && p.active).map((p) => p.id),
    ...days.map((x) => x.personId),
  ]);
  const spans: { from: LocalDay; to: LocalDay }[] = [];
  if (kind === "range") {
    if (counted.from < counted.to) spans.push({ from: r.from, to: addDays(r.to, -1) });
  } else
    for (let day = r.from; day < counted.to; day = addDays(periodOf(day, kind).to, 1))
      spans.push(periodOf(day, kind));
  const out: Period[] = [];
  for (const personId of [...who].sort(byId))
    for (const span of spans) {
      const inside: Days = {
        from: span.from > counted.from ? span.from : counted.from,
        to: addDays(span.to, 1) < counted.to ? addDays(span.to, 1) : counted.to,
      };
      const open = new Set(schoolDaysIn(s, inside));
      const presentDays = days.filter(
        (x) => x.personId === personId && open.has(x.day) && x.view.present,
      ).length;
      out.push({
        personId,
        from: span.from,
        to: span.to,
        schoolDays: open.size,
        presentDays,
        present: periodPresent(presentDays, open.size, s.settings.minPresentDaysPct).present,
      });
    }
  return out;
}

const share = (p: Period) => (p.schoolDays === 0 ? "0.00" : pct(p.presentDays, p.schoolDays));

export function presencePeriods(
  d: AttendanceDataset,
  schoolId: string,
  kind: "week" | "month",
  r: Days,
  nowMs: number,
  f: Filter = {},
): Row[] {
  const s = schoolOf(d, schoolId);
  return periods(d, schoolId, kind, r, nowMs)
    .filter((p) => keep(personOf(d, schoolId, p.personId), p.personId, f))
    .map((p) => [
      p.personId,
      ...rosterCells(personOf(d, schoolId, p.personId)),
      p.from,
      p.to,
      String(p.schoolDays),
      String(p.presentDays),
      share(p),
      String(s.settings.minPresentDaysPct),
      tf(p.present),
    ]);
}

// --- 12 low presence ------------------------------------------------------------------------

export function lowPresence(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
  minShare: string | null = null,
  f: Filter = {},
): Row[] {
  const threshold = minShare ?? String(schoolOf(d, schoolId).settings.minPresentDaysPct);
  return periods(d, schoolId, "range", r, nowMs)
    .filter(
      (p) =>
        p.schoolDays > 0 &&
        p.presentDays * 100 < Number(threshold) * p.schoolDays &&
        keep(personOf(d, schoolId, p.personId), p.personId, f),
    )
    .sort(
      (a, b) =>
        a.presentDays / a.schoolDays - b.presentDays / b.schoolDays || byId(a.personId, b.personId),
    )
    .map((p) => [
      p.personId,
      ...rosterCells(personOf(d, schoolId, p.personId)),
      String(p.schoolDays),
      String(p.presentDays),
      String(p.schoolDays - p.presentDays),
      share(p),
      threshold,
    ]);
}

// --- 13 fever -------------------------------------------------------------------------------

const byTimeAndId = (a: AttendanceRecord, b: AttendanceRecord) =>
  a.atMs - b.atMs || byId(a.eventId, b.eventId);

export function fever(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  threshold: string | null = null,
  f: Filter = {},
): Row[] {
  const s = schoolOf(d, schoolId);
  const limit = threshold ?? temp(s.settings.feverThresholdC);
  return eventsOf(d, schoolId)
    .filter((e) => {
      const day = localDay(e.atMs, s.timeZone);
      return (
        day >= r.from &&
        day < r.to &&
        e.temperatureC !== null &&
        e.temperatureC >= Number(limit) &&
        keep(personOf(d, schoolId, e.personId), e.personId, f)
      );
    })
    .sort(byTimeAndId)
    .map((e) => [
      localDay(e.atMs, s.timeZone),
      ts(e.atMs),
      e.personId,
      ...rosterCells(personOf(d, schoolId, e.personId)),
      e.kind,
      temp(e.temperatureC),
      limit,
      e.pollId,
      e.kioskId,
    ]);
}

// --- 14 anomalies ---------------------------------------------------------------------------

/**
 * What each event of a day did, read off person-day.ts itself: the state before and after
 * it (dayState of the events so far) says whether it counted or was flagged.
 */
export function eventRoles(events: readonly AttendanceRecord[]): {
  event: AttendanceRecord;
  role: string;
  openBefore: number | null;
  openAfter: number | null;
}[] {
  const sorted = [...events].sort(byTimeAndId);
  return sorted.map((event, i) => {
    const before = dayState(sorted.slice(0, i).map(asEvent));
    const after = dayState(sorted.slice(0, i + 1).map(asEvent));
    const role =
      after.doubleIns > before.doubleIns
        ? "double_in"
        : after.doubleOuts > before.doubleOuts
          ? "double_out"
          : after.outsWithoutIn > before.outsWithoutIn
            ? "out_without_in"
            : event.kind;
    return { event, role, openBefore: before.openSinceMs, openAfter: after.openSinceMs };
  });
}

export function anomalies(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
  f: Filter = {},
): Row[] {
  const rows: { at: number; personId: string; anomaly: string; eventId: string; row: Row }[] = [];
  for (const x of personDays(d, schoolId, r, nowMs)) {
    const p = personOf(d, schoolId, x.personId);
    if (!keep(p, x.personId, f)) continue;
    const row = (anomaly: string, at: number, e: AttendanceRecord, openSince: number | null) =>
      rows.push({
        at,
        personId: x.personId,
        anomaly,
        eventId: e.eventId,
        row: [
          x.day,
          x.personId,
          ...rosterCells(p),
          anomaly,
          ts(at),
          e.eventId,
          e.pollId,
          e.kioskId,
          opt(openSince),
        ],
      });
    for (const { event, role, openBefore, openAfter } of eventRoles(x.events)) {
      if (role === "double_in") row(role, event.atMs, event, openBefore);
      else if (role === "double_out" || role === "out_without_in")
        row(role, event.atMs, event, null);
      else if (
        role === "in" &&
        x.view.autoClosed &&
        openBefore === null &&
        openAfter === x.state.openSinceMs
      )
        row("auto_closed", x.rules.dayEndMs, event, x.state.openSinceMs);
    }
  }
  return rows
    .sort(
      (a, b) =>
        a.at - b.at ||
        byId(a.personId, b.personId) ||
        byId(a.anomaly, b.anomaly) ||
        byId(a.eventId, b.eventId),
    )
    .map((x) => x.row);
}

// --- 15 summary -----------------------------------------------------------------------------

/** (person, group) for each group of a roster entry, and (person, null) for the school. */
function members(d: AttendanceDataset, schoolId: string) {
  return d.people
    .filter((p) => p.schoolId === schoolId)
    .flatMap((p) => [null, ...p.groups].map((group) => ({ person: p, group })));
}

const groupOrder = (a: string | null, b: string | null) =>
  a === b ? 0 : a === null ? -1 : b === null ? 1 : byId(a, b);

export function summaryRange(
  d: AttendanceDataset,
  schoolId: string,
  r: Days,
  nowMs: number,
): Row[] {
  const s = schoolOf(d, schoolId);
  const ranges = new Map(periods(d, schoolId, "range", r, nowMs).map((p) => [p.personId, p]));
  const days = personDays(d, schoolId, r, nowMs);
  const m = members(d, schoolId);
  const onRoster = new Set(d.people.filter((p) => p.schoolId === schoolId).map((p) => p.id));
  const offRoster = [...new Set(days.map((x) => x.personId))].filter((id) => !onRoster.has(id));
  const nSchoolDays = schoolDaysIn(s, countedDays(d, schoolId, r, nowMs)).length;
  const groups = new Set<string | null>([null]);
  for (const x of m)
    if (x.person.active || days.some((y) => y.personId === x.person.id)) groups.add(x.group);
  return [...groups].sort(groupOrder).map((group) => {
    const inGroup = [
      ...m.filter((x) => x.group === group).map((x) => x.person),
      ...(group === null
        ? offRoster.map((id) => ({ schoolId, id, groups: [], active: false }))
        : []),
    ];
    const active = inGroup.filter((p) => p.active);
    const presentDays = active.reduce((n, p) => n + (ranges.get(p.id)?.presentDays ?? 0), 0);
    const presentPeople = active.filter((p) => ranges.get(p.id)?.present ?? false).length;
    const ids = new Set(inGroup.map((p) => p.id));
    const theirs = days.filter((x) => ids.has(x.personId));
    return [
      group ?? "(school)",
      String(active.length),
      String(nSchoolDays),
      String(active.length * nSchoolDays),
      String(presentDays),
      pct(presentDays, active.length * nSchoolDays),
      String(presentPeople),
      String(active.length - presentPeople),
      String(theirs.filter((x) => x.view.late).length),
      String(theirs.filter((x) => x.view.fever).length),
      String(theirs.filter((x) => x.view.autoClosed).length),
      String(theirs.reduce((n, x) => n + x.view.anomalies, 0)),
    ];
  });
}

export function summaryDays(d: AttendanceDataset, schoolId: string, r: Days, nowMs: number): Row[] {
  const s = schoolOf(d, schoolId);
  const rd = rosterDays(d, schoolId, r, nowMs);
  const m = members(d, schoolId);
  const onRoster = new Set(d.people.filter((p) => p.schoolId === schoolId).map((p) => p.id));
  const groups = new Set<string | null>([null]);
  for (const x of m)
    if (x.person.active || rd.some((y) => y.personId === x.person.id)) groups.add(x.group);
  const counted = countedDays(d, schoolId, r, nowMs);
  const dayList = new Set<LocalDay>(rd.map((x) => x.day));
  for (let day = counted.from; day < counted.to; day = addDays(day, 1)) dayList.add(day);
  const rows: Row[] = [];
  for (const day of [...dayList].sort())
    for (const group of [...groups].sort(groupOrder)) {
      const ids = new Set(m.filter((x) => x.group === group).map((x) => x.person.id));
      const activeIds = new Set(
        m.filter((x) => x.group === group && x.person.active).map((x) => x.person.id),
      );
      const theirs = rd.filter(
        (x) =>
          x.day === day && (ids.has(x.personId) || (group === null && !onRoster.has(x.personId))),
      );
      const schoolDay = isSchoolDay(s, day);
      const presentActive = theirs.filter((x) => x.view.present && activeIds.has(x.personId));
      rows.push([
        day,
        weekday(day),
        tf(schoolDay),
        group ?? "(school)",
        String(activeIds.size),
        String(theirs.filter((x) => x.view.present).length),
        String(schoolDay ? activeIds.size - presentActive.length : 0),
        String(theirs.filter((x) => x.view.inNow).length),
        String(theirs.filter((x) => x.view.late).length),
        String(theirs.filter((x) => x.view.fever).length),
        String(theirs.filter((x) => x.view.autoClosed).length),
        String(theirs.reduce((n, x) => n + x.view.anomalies, 0)),
      ]);
    }
  return rows;
}
