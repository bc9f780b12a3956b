import { DateTime } from "luxon";
import type { AttendanceSettings } from "../registry-types.ts";
import type { DayRules } from "./person-day.ts";

// A school's calendar: which local day an instant falls on, where a local day starts and
// ends, and which days are school days. Through luxon (the tz database of Intl), so a day
// across a DST change is 23 or 25 hours long and a +05:45 zone is no special case. Postgres
// computes the same days with `(at at time zone tz)::date` (the writer, reports, reconcile).

/** "YYYY-MM-DD": a school-local calendar date. */
export type LocalDay = string;

const DAY = /^\d{4}-\d\d-\d\d$/;

/** The school-local day an instant falls on. */
export function localDay(ms: number, timeZone: string): LocalDay {
  return DateTime.fromMillis(ms, { zone: timeZone }).toISODate()!;
}

/** The instant of a school-local wall time ("HH:MM") on a day. */
export function localInstant(day: LocalDay, hhmm: string, timeZone: string): number {
  const at = DateTime.fromISO(`${day}T${hhmm}`, { zone: timeZone });
  if (!at.isValid) throw new RangeError(`no instant ${day}T${hhmm} in ${timeZone}`);
  return at.toMillis();
}

/** The day's first instant and the next day's (a DST day is 23 or 25 hours). */
export function dayBounds(day: LocalDay, timeZone: string): { startMs: number; endMs: number } {
  const start = DateTime.fromISO(day, { zone: timeZone }).startOf("day");
  return { startMs: start.toMillis(), endMs: start.plus({ days: 1 }).toMillis() };
}

/** The school's rules for one of its days, as instants (common/attendance/person-day.ts). */
export function dayRules(settings: AttendanceSettings, timeZone: string, day: LocalDay): DayRules {
  return {
    dayEndMs: localInstant(day, settings.dayEndsAt, timeZone),
    lateAfterMs:
      settings.lateAfter === null ? null : localInstant(day, settings.lateAfter, timeZone),
    feverThresholdC: settings.feverThresholdC,
    minPresentMinutes: settings.minPresentMinutes,
  };
}

export function isLocalDay(text: string): text is LocalDay {
  return DAY.test(text) && DateTime.fromISO(text).isValid;
}

/** The ISO week (Monday first) or calendar month holding `day`: its first and last day. */
export function periodOf(
  day: LocalDay,
  period: "week" | "month",
): { from: LocalDay; to: LocalDay } {
  const d = DateTime.fromISO(day, { zone: "UTC" });
  const unit = period === "week" ? "week" : "month";
  return { from: d.startOf(unit).toISODate()!, to: d.endOf(unit).toISODate()! };
}

/** The school days from `from` to `to` (inclusive): its weekdays, less its holidays. */
export function schoolDays(
  from: LocalDay,
  to: LocalDay,
  weekdays: readonly number[],
  holidays: ReadonlySet<LocalDay>,
): LocalDay[] {
  const days: LocalDay[] = [];
  const open = new Set(weekdays);
  const last = DateTime.fromISO(to, { zone: "UTC" });
  for (let d = DateTime.fromISO(from, { zone: "UTC" }); d <= last; d = d.plus({ days: 1 })) {
    const iso = d.toISODate()!;
    if (open.has(d.weekday) && !holidays.has(iso)) days.push(iso);
  }
  return days;
}
