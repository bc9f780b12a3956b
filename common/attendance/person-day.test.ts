import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { describe, test } from "node:test";
import {
  type AttendanceEvent,
  byTime,
  continuesDay,
  type DayRules,
  dayState,
  EMPTY_DAY,
  periodPresent,
  replayDay,
  viewDay,
} from "./person-day.ts";

const T0 = Date.parse("2026-03-02T00:00:00Z");
const at = (hhmm: string) => {
  const [h, m] = hhmm.split(":").map(Number);
  return T0 + (h! * 60 + m!) * 60_000;
};
let n = 0;
const ev = (
  kind: "in" | "out",
  hhmm: string,
  temperatureC: number | null = null,
): AttendanceEvent => ({
  eventId: `e${String(n++).padStart(4, "0")}`,
  kind,
  atMs: at(hhmm),
  temperatureC,
});
const rules: DayRules = {
  dayEndMs: at("17:00"),
  lateAfterMs: at("08:30"),
  feverThresholdC: 38,
  minPresentMinutes: 240,
};
const evening = at("20:00");

describe("a person's day", () => {
  test("minutes are the sum of in→out intervals", () => {
    const s = dayState([
      ev("in", "08:00"),
      ev("out", "12:00"),
      ev("in", "13:00"),
      ev("out", "14:30"),
    ]);
    const v = viewDay(s, rules, evening);
    assert.equal(v.minutes, 330);
    assert.equal(v.present, true);
    assert.equal(v.autoClosed, false);
    assert.equal(s.firstInMs, at("08:00"));
    assert.equal(s.lastOutMs, at("14:30"));
  });

  test("below the minimum is absent; checked in right now is present", () => {
    const short = dayState([ev("in", "08:00"), ev("out", "10:00")]);
    assert.equal(viewDay(short, rules, evening).present, false);
    const open = dayState([ev("in", "09:00")]);
    const now = viewDay(open, rules, at("09:30"));
    assert.deepEqual([now.inNow, now.present, now.minutes], [true, true, 30]);
  });

  test("an open check-in is closed at dayEndsAt once the day is over, and flagged", () => {
    const s = dayState([ev("in", "09:00")]);
    const v = viewDay(s, rules, evening);
    assert.deepEqual([v.inNow, v.autoClosed, v.minutes, v.present], [false, true, 480, true]);
    const lateIn = viewDay(dayState([ev("in", "18:00")]), rules, evening);
    assert.deepEqual([lateIn.minutes, lateIn.autoClosed], [0, true]);
  });

  test("a check-out without a check-in is flagged and not counted; doubles change nothing", () => {
    const s = dayState([
      ev("out", "07:00"),
      ev("in", "08:00"),
      ev("in", "08:05"),
      ev("out", "13:00"),
      ev("out", "13:05"),
    ]);
    assert.deepEqual([s.outsWithoutIn, s.doubleIns, s.doubleOuts], [1, 1, 1]);
    const v = viewDay(s, rules, evening);
    assert.equal(v.minutes, 300);
    assert.equal(v.anomalies, 3);
  });

  test("the same events in any arrival order give the same state", () => {
    const events = [
      ev("in", "08:10"),
      ev("out", "11:00"),
      ev("in", "11:30"),
      ev("out", "16:00", 38.4),
    ];
    const expected = dayState(events);
    for (const order of [
      [3, 2, 1, 0],
      [1, 3, 0, 2],
      [2, 0, 3, 1],
    ])
      assert.deepEqual(dayState(order.map((i) => events[i]!)), expected);
  });

  test("late after lateAfter, fever at the threshold", () => {
    const v = viewDay(
      dayState([ev("in", "08:31", 37.9), ev("out", "15:00", 38.0)]),
      rules,
      evening,
    );
    assert.deepEqual([v.late, v.fever], [true, true]);
    const ok = viewDay(dayState([ev("in", "08:30", 37.9)]), rules, evening);
    assert.deepEqual([ok.late, ok.fever], [false, false]);
    assert.equal(viewDay(EMPTY_DAY, rules, evening).present, false);
  });
});

describe("a day's replay continued with later events (the writer's in-order case)", () => {
  /** Up to 8 events at a few distinct minutes, some at the same millisecond, sub-second too. */
  const randomDay = (): AttendanceEvent[] =>
    Array.from({ length: 1 + randomInt(8) }, (_, i) => ({
      eventId: `r${randomInt(1_000_000)}-${i}`,
      kind: randomInt(2) === 0 ? ("in" as const) : ("out" as const),
      atMs: T0 + randomInt(6) * 3_600_000 + randomInt(3) * 333,
      temperatureC: randomInt(3) === 0 ? 36 + randomInt(30) / 10 : null,
    }));

  test("equals replaying every event, whatever the cut", () => {
    for (let round = 0; round < 500; round++) {
      const events = randomDay().sort(byTime);
      const cut = randomInt(events.length + 1);
      const first = replayDay(null, events.slice(0, cut));
      const rest = events.slice(cut);
      assert.equal(continuesDay(first, rest), true);
      assert.deepEqual(replayDay(first, rest), replayDay(null, events));
      assert.deepEqual(replayDay(first, rest).state, dayState(events));
    }
  });

  test("an event before the last one replayed does not continue it", () => {
    const first = replayDay(null, [ev("in", "08:00"), ev("out", "12:00")]);
    assert.equal(continuesDay(first, [ev("in", "13:00")]), true);
    assert.equal(continuesDay(first, [ev("in", "13:00"), ev("out", "11:00")]), false);
    // The same instant: the event id decides, as in the replay.
    const tie = { eventId: "a", kind: "in" as const, atMs: at("12:00"), temperatureC: null };
    assert.equal(continuesDay(first, [tie]), tie.eventId > first.last!.eventId);
    assert.equal(continuesDay(replayDay(null, []), [tie]), true);
  });

  test("the closed time is kept to the millisecond: seconds cut only at the end", () => {
    const half = [
      { eventId: "a", kind: "in" as const, atMs: T0, temperatureC: null },
      { eventId: "b", kind: "out" as const, atMs: T0 + 1_500, temperatureC: null },
    ];
    const more = [
      { eventId: "c", kind: "in" as const, atMs: T0 + 2_000, temperatureC: null },
      { eventId: "d", kind: "out" as const, atMs: T0 + 3_500, temperatureC: null },
    ];
    const first = replayDay(null, half);
    assert.deepEqual([first.state.closedSeconds, first.closedMs], [1, 1_500]);
    assert.equal(replayDay(first, more).state.closedSeconds, 3);
  });
});

describe("a week or month", () => {
  test("present on at least the share of school days", () => {
    assert.deepEqual(periodPresent(4, 5, 80), { share: 0.8, present: true });
    assert.equal(periodPresent(3, 5, 80).present, false);
    assert.equal(periodPresent(0, 0, 80).present, false);
    assert.equal(periodPresent(16, 20, 80).present, true);
  });
});
