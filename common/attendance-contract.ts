// The Redis contract for published attendance, shared by the publisher (writes) and the
// read API (reads): one document per school and school-local day, as the results are one
// per poll. The layout is documented in docs/redis-contract.md and docs/attendance.md.
//
// The documents name people (by id, never by name: the API adds names at read time for the
// school's own admin only), so they are not for the read-only `results` Redis user; the
// counts document beside each holds no person and is what a wall screen reads through the
// API when the school publishes its counts.

import { DateTime } from "luxon";
import { dayBounds, type LocalDay, localDay } from "./attendance/school-day.ts";

export interface AttendanceDayKeys {
  /** The day document (`AttendanceDayDocument`), UTF-8 JSON. */
  json: string;
  /** The counts-only document of the same version (`AttendanceCountsDocument`): no person. */
  counts: string;
  /** The version alone: poll this cheaply, fetch the rest only when it changes. */
  version: string;
}

export function attendanceDayKeys(
  prefix: string,
  schoolId: string,
  day: LocalDay,
): AttendanceDayKeys {
  const base = `${prefix}attendance:${schoolId}:${day}`;
  return { json: `${base}:json`, counts: `${base}:counts`, version: `${base}:version` };
}

/**
 * The days a school has documents for at `nowMs`: its last `daysKept` local days, today
 * first (ATTENDANCE_DAYS_KEPT). The publisher publishes exactly these; the API serves these
 * and refuses any other date (400 naming `date`).
 */
export function keptDays(nowMs: number, timeZone: string, daysKept: number): LocalDay[] {
  const today = DateTime.fromISO(localDay(nowMs, timeZone), { zone: "UTC" });
  const days: LocalDay[] = [];
  for (let i = 0; i < daysKept; i++) days.push(today.minus({ days: i }).toISODate()!);
  return days;
}

/**
 * When a day's keys expire: the start of the local day on which it leaves the kept days,
 * plus an hour for the clocks of the API and the publisher to disagree.
 */
export function keptUntilMs(day: LocalDay, timeZone: string, daysKept: number): number {
  const leaves = DateTime.fromISO(day, { zone: "UTC" }).plus({ days: daysKept }).toISODate()!;
  return dayBounds(leaves, timeZone).startMs + 3_600_000;
}

/** Pub/sub channel: one message `{"schoolId","day","version"}` per publication. */
export function attendanceChannel(prefix: string): string {
  return `${prefix}attendance`;
}

/** An announcement on the attendance channel. */
export interface AttendanceAnnouncement {
  schoolId: string;
  day: LocalDay;
  version: string;
}

/**
 * Internal (not a contract): the publisher's cursor, the Postgres snapshot (`xmin:xmax:xip…`)
 * every change before which (rows, rosters, rules) it has published. A new leader starts
 * from it, so a failover republishes what changed since, not every school's every day.
 */
export function attendanceCursorKey(prefix: string): string {
  return `${prefix}attendance-cursor`;
}

/**
 * A version: 16 hex digits of the SHA-256 of the document's content (everything but
 * `version` and `publishedAt`), then `-c` once the day is over (its `dayEndsAt` passed:
 * nobody is in any more, open check-ins are closed there). The same content gives the same
 * version, so a restarted publisher rewrites nothing it finds unchanged; the suffix tells it,
 * from the version alone, which documents the clock has overtaken.
 */
export function formatAttendanceVersion(contentHashHex: string, dayOver: boolean): string {
  return `${contentHashHex.slice(0, 16)}${dayOver ? "-c" : ""}`;
}

/** Whether a version was published after its day's end (see formatAttendanceVersion). */
export function versionDayOver(version: string): boolean {
  return version.endsWith("-c");
}

/**
 * The counts of a school's day, or of one group's: what report 15 counts per day
 * (attendance_school_day_counts, migration 022), so that both can be compared.
 */
export interface AttendanceCounts {
  /** The active people (of the school, or of the group). */
  roster: number;
  /** Everyone checked in and not out, the day not over. */
  inNow: number;
  /**
   * Everyone in now, or with minutes ≥ minPresentMinutes (common/attendance/person-day.ts):
   * someone made inactive since counts too, so a group's may exceed its roster.
   */
  present: number;
  /** The active people not present, on a school day; 0 on another day. */
  absent: number;
  late: number;
  fever: number;
  /** Checked in and never out by dayEndsAt: closed there. */
  autoClosed: number;
  /** Anomalous events (a check-out without check-in, a double in or out), all people together. */
  anomalies: number;
}

/**
 * Person ids by status: the active roster's in id order (bytewise, as `collate "C"`), then
 * anyone off the roster since (inactive, or an erasure's pseudonym) with a row that day. `inNow` and `out` are the present (present = inNow +
 * out); `absent` the active people not present on a school day. `late`, `fever`,
 * `autoClosed` and `anomalies` (the people with any) are flags and overlap them. Someone
 * inactive or erased since, with too few minutes, is in none of the three.
 */
export interface AttendanceLists {
  inNow: string[];
  /** Present and not in now: checked out (or closed at dayEndsAt) with enough minutes. */
  out: string[];
  /** Active, not present (no event, or too few minutes), on a school day. */
  absent: string[];
  late: string[];
  fever: string[];
  autoClosed: string[];
  anomalies: string[];
}

/**
 * What a person's flags rest on, for each person in a flag list: the first check-in (late,
 * autoClosed), the highest temperature (fever), the number of anomalies; only those.
 */
export interface AttendanceDetail {
  firstIn?: string;
  maxTemperatureC?: number | null;
  anomalies?: number;
}

/** The school's rules the document was computed with (docs/attendance.md). */
export interface AttendanceDayRules {
  dayEndsAt: string;
  minPresentMinutes: number;
  lateAfter: string | null;
  feverThresholdC: number;
}

interface AttendanceDayBase {
  schoolId: string;
  /** The school-local calendar day, YYYY-MM-DD. */
  day: LocalDay;
  timeZone: string;
  version: string;
  /** When the newest of the day's stored rows was written; null: nobody has an event. */
  asOf: string | null;
  publishedAt: string;
  /** The instant of the school's dayEndsAt that day. */
  dayEndsAt: string;
  /** dayEndsAt has passed: nothing changes by the clock any more. */
  dayOver: boolean;
  /** One of the school's weekdays and not one of its holidays: else nobody is absent. */
  schoolDay: boolean;
  rules: AttendanceDayRules;
}

/** The day document: readable by the school's own admin and the deployment admin only. */
export interface AttendanceDayDocument extends AttendanceDayBase {
  counts: AttendanceCounts;
  lists: AttendanceLists;
  /** Per group of the roster (people.groups): its counts and lists. */
  groups: Record<string, { counts: AttendanceCounts; lists: AttendanceLists }>;
  /** By person id, for the people in a flag list. */
  details: Record<string, AttendanceDetail>;
}

/** The counts document: no person, public when the school's publicCounts is on. */
export interface AttendanceCountsDocument extends AttendanceDayBase {
  counts: AttendanceCounts;
  groups: Record<string, AttendanceCounts>;
}
