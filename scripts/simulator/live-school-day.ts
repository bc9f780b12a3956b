import { DateTime } from "luxon";
import type { LocalDay } from "../../common/attendance/school-day.ts";
import { type AttendanceDayShape, SCHOOL_DAY } from "./attendance-day.ts";

// A school day that is TODAY where the schools are, played while it is still live: the
// publisher keeps a school's today in memory and brings it up to date from the changed rows
// (result-publisher/attendance-live-day.ts), which is what a deployment's screens get during
// the peaks; a past day is built from reads every run. A run cannot wait for 08:00
// somewhere, and the API takes no castAt more than a minute ahead of its clock, so the day
// is played in a zone where, now, the whole day's timeline (the last check-out included) is
// already past, and the school's dayEndsAt is late enough for the day to stay live (not
// `dayOver`) until the run is done: the zone whose local time is the earliest at or after
// the shape's last event, among the tz database's real zones (Intl), picked from the clock
// at the run.

/** Minutes after local midnight by which every event of a day of this shape has happened. */
export function lastEventMinutes(shape: AttendanceDayShape = SCHOOL_DAY): number {
  // planPersonDay: check-outs up to dismissal + 45 min (+ < 1 s); a check-out at least 5
  // min after its check-in, which the late tail puts up to bell + 15 + 180 min (+ < 1 s).
  return Math.max(shape.dismissal + 45, shape.bell + 15 + 180 + 5) + 1;
}

export interface LiveSchoolDay {
  timeZone: string;
  /** The zone's today at the pick. */
  day: LocalDay;
  /** ISO weekday of `day` (1 = Monday). */
  weekday: number;
  /** The zone's wall time at the pick, "HH:MM". */
  localTime: string;
  /** The dayEndsAt the schools need ("HH:MM"): the default when it leaves liveForMs, else later. */
  dayEndsAt: string;
  /** The instant `day` ends for the rules (dayEndsAt in the zone). */
  dayEndMs: number;
}

export interface LiveSchoolDayOptions {
  /** Local minutes after which the zone's wall time must be (lastEventMinutes). */
  afterMinutes?: number;
  /** How long the day must stay live from the pick (the run's measured part and its check). */
  liveForMs: number;
  /** The schools' dayEndsAt unless it ends the day too soon. Default "17:00" (the default rule). */
  defaultDayEndsAt?: string;
  /** Candidate zones (default: every zone Intl knows). */
  zones?: readonly string[];
}

const hhmm = (minutes: number) =>
  `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
const LAST_WALL_MINUTE = 23 * 60 + 59;

/**
 * The zone to play today in at `nowMs` (see the file), or throws when no zone has the
 * day's timeline behind it and liveForMs left before 23:59 (liveForMs of more than ~6 h).
 */
export function pickLiveSchoolDay(nowMs: number, o: LiveSchoolDayOptions): LiveSchoolDay {
  const after = o.afterMinutes ?? lastEventMinutes();
  const defaultEnd = o.defaultDayEndsAt ?? "17:00";
  const [dh, dm] = defaultEnd.split(":").map(Number) as [number, number];
  const liveForMinutes = Math.ceil(o.liveForMs / 60_000);
  let best: { zone: string; minutes: number; local: DateTime } | undefined;
  for (const zone of o.zones ?? Intl.supportedValuesOf("timeZone")) {
    const local = DateTime.fromMillis(nowMs, { zone });
    if (!local.isValid) continue;
    const minutes = local.hour * 60 + local.minute + local.second / 60;
    if (minutes < after || Math.ceil(minutes) + liveForMinutes > LAST_WALL_MINUTE) continue;
    // The earliest wall time (the most of the day left); a place's name before Etc/GMT±N.
    const rank = (z: string) => (z.startsWith("Etc/") ? 1 : 0);
    if (
      best === undefined ||
      minutes < best.minutes ||
      (minutes === best.minutes &&
        (rank(zone) < rank(best.zone) || (rank(zone) === rank(best.zone) && zone < best.zone)))
    )
      best = { zone, minutes, local };
  }
  if (best === undefined)
    throw new Error(
      `no time zone has its day's events (to ${hhmm(after)}) behind it and ${liveForMinutes} min before 23:59 at ${new Date(nowMs).toISOString()}`,
    );
  const needed = Math.ceil(best.minutes) + liveForMinutes;
  const dayEndsAt = needed <= dh * 60 + dm ? defaultEnd : hhmm(needed);
  const day = best.local.toISODate()!;
  const end = DateTime.fromISO(`${day}T${dayEndsAt}`, { zone: best.zone });
  return {
    timeZone: best.zone,
    day,
    weekday: best.local.weekday,
    localTime: hhmm(Math.floor(best.minutes)),
    dayEndsAt,
    dayEndMs: end.toMillis(),
  };
}
