// The presence rules of one person's school day, in one place: the batch writer keeps each
// person-day's state with them (in the transaction that stores its events), the publisher and
// the API derive the view from that state, and `npm run reconcile` checks both against an
// independent SQL computation. Pure functions: no clock, no I/O (the caller passes `nowMs`).
//
// A day's state depends only on its events in time order (castAt, then eventId): the same
// events arriving late or out of order give the same state, so an event that changes a day
// already published recomputes that day from its own events.

/** A check-in or check-out, as stored. */
export interface AttendanceEvent {
  eventId: string;
  kind: "in" | "out";
  atMs: number;
  temperatureC: number | null;
}

/** The school's rules for one local day, as instants. */
export interface DayRules {
  /** The instant of the school's `dayEndsAt` on that local day: open check-ins close here. */
  dayEndMs: number;
  /** The instant of `lateAfter` on that day; null: nobody is late. */
  lateAfterMs: number | null;
  feverThresholdC: number;
  minPresentMinutes: number;
}

/** What the events of one person-day leave, before the clock is applied (stored by the writer). */
export interface DayState {
  /** Seconds of closed in→out intervals. */
  closedSeconds: number;
  firstInMs: number | null;
  lastOutMs: number | null;
  /** Checked in and not out since (closed at dayEnd by the view, once the day is over). */
  openSinceMs: number | null;
  maxTemperatureC: number | null;
  /** Check-outs with no check-in before them that day: flagged, not counted. */
  outsWithoutIn: number;
  /** A second `in` while in, or `out` while out (after a check-in): flagged, change nothing. */
  doubleIns: number;
  doubleOuts: number;
  events: number;
}

export const EMPTY_DAY: Readonly<DayState> = Object.freeze({
  closedSeconds: 0,
  firstInMs: null,
  lastOutMs: null,
  openSinceMs: null,
  maxTemperatureC: null,
  outsWithoutIn: 0,
  doubleIns: 0,
  doubleOuts: 0,
  events: 0,
});

/** Time order, ties broken by eventId: one order whatever the arrival order. */
export function byTime(a: AttendanceEvent, b: AttendanceEvent): number {
  return a.atMs - b.atMs || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
}

/** The state the day's events leave, replayed in time order. */
export function dayState(events: readonly AttendanceEvent[]): DayState {
  const s: DayState = { ...EMPTY_DAY };
  let closedMs = 0;
  let checkedInToday = false;
  for (const e of [...events].sort(byTime)) {
    s.events++;
    if (
      e.temperatureC !== null &&
      (s.maxTemperatureC === null || e.temperatureC > s.maxTemperatureC)
    )
      s.maxTemperatureC = e.temperatureC;
    if (e.kind === "in") {
      if (s.openSinceMs !== null) {
        s.doubleIns++;
        continue;
      }
      s.openSinceMs = e.atMs;
      s.firstInMs ??= e.atMs;
      checkedInToday = true;
    } else if (s.openSinceMs === null) {
      if (checkedInToday) s.doubleOuts++;
      else s.outsWithoutIn++;
    } else {
      closedMs += e.atMs - s.openSinceMs;
      s.lastOutMs = e.atMs;
      s.openSinceMs = null;
    }
  }
  s.closedSeconds = Math.floor(closedMs / 1000);
  return s;
}

/** A person-day as a screen reads it at `nowMs`. */
export interface DayView {
  minutes: number;
  inNow: boolean;
  present: boolean;
  /** Checked in and never out by the end of the day: closed at `dayEndsAt`. */
  autoClosed: boolean;
  late: boolean;
  fever: boolean;
  anomalies: number;
}

/**
 * The view of a day's state at `nowMs`: an open check-in counts up to now (or the day's
 * end, where it is closed and flagged `autoClosed`). Present when the minutes reach the
 * school's minimum, or when checked in right now.
 */
export function viewDay(s: DayState, rules: DayRules, nowMs: number): DayView {
  let ms = s.closedSeconds * 1000;
  let inNow = false;
  let autoClosed = false;
  if (s.openSinceMs !== null) {
    const until = Math.min(nowMs, rules.dayEndMs);
    ms += Math.max(0, until - s.openSinceMs);
    inNow = nowMs < rules.dayEndMs;
    autoClosed = !inNow;
  }
  const minutes = Math.floor(ms / 60_000);
  return {
    minutes,
    inNow,
    present: inNow || minutes >= rules.minPresentMinutes,
    autoClosed,
    late: rules.lateAfterMs !== null && s.firstInMs !== null && s.firstInMs > rules.lateAfterMs,
    fever: s.maxTemperatureC !== null && s.maxTemperatureC >= rules.feverThresholdC,
    anomalies: s.outsWithoutIn + s.doubleIns + s.doubleOuts,
  };
}

/**
 * A week or month: present when present on at least `minPresentDaysPct` of its school days
 * (the school's weekdays minus its holidays, up to the day asked for).
 */
export function periodPresent(
  presentDays: number,
  schoolDays: number,
  minPresentDaysPct: number,
): { share: number; present: boolean } {
  if (schoolDays === 0) return { share: 0, present: false };
  const share = presentDays / schoolDays;
  return { share, present: presentDays * 100 >= minPresentDaysPct * schoolDays };
}
