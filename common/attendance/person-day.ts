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

/**
 * Where the replay of a day stands after some of its events: the state, plus what continuing
 * it with later events needs: the closed time to the millisecond (the state keeps seconds)
 * and the last event replayed, in time order. The batch writer stores it with the state.
 */
export interface DayReplay {
  state: DayState;
  closedMs: number;
  /** The last event replayed, in time order (castAt, then eventId); null before any. */
  last: { atMs: number; eventId: string } | null;
}

/** The state the day's events leave, replayed in time order. */
export function dayState(events: readonly AttendanceEvent[]): DayState {
  return replayDay(null, events).state;
}

/**
 * Replays `events` (in time order, whatever their order here) after `from` (null: from the
 * day's start). When every one of them comes after `from.last` (`continuesDay`), the result
 * is the one replaying all the day's events from the first gives: the writer's common case,
 * events arriving in order, needs no other event of the day.
 */
export function replayDay(from: DayReplay | null, events: readonly AttendanceEvent[]): DayReplay {
  const s: DayState = { ...(from?.state ?? EMPTY_DAY) };
  let closedMs = from?.closedMs ?? 0;
  let last = from?.last ?? null;
  for (const e of [...events].sort(byTime)) {
    s.events++;
    last = e;
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
    } else if (s.openSinceMs === null) {
      // Checked in earlier that day: a double; never: an out without an in.
      if (s.firstInMs !== null) s.doubleOuts++;
      else s.outsWithoutIn++;
    } else {
      closedMs += e.atMs - s.openSinceMs;
      s.lastOutMs = e.atMs;
      s.openSinceMs = null;
    }
  }
  s.closedSeconds = Math.floor(closedMs / 1000);
  return { state: s, closedMs, last: last && { atMs: last.atMs, eventId: last.eventId } };
}

/** Whether every one of `events` comes after the last event `from` replayed (time order). */
export function continuesDay(from: DayReplay, events: readonly AttendanceEvent[]): boolean {
  const last = from.last;
  if (last === null) return from.state.events === 0;
  const lastEvent: AttendanceEvent = { ...last, kind: "in", temperatureC: null };
  return events.every((e) => byTime(lastEvent, e) < 0);
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
    fever: isFever(s.maxTemperatureC, rules.feverThresholdC),
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

/** A temperature (°C) that is a fever by the school's threshold: at or above it. */
export function isFever(temperatureC: number | null | undefined, feverThresholdC: number): boolean {
  return temperatureC != null && temperatureC >= feverThresholdC;
}
