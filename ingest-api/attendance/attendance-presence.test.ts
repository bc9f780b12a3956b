import assert from "node:assert/strict";
import { test } from "node:test";
import { type DayRules, type DayState, viewDay } from "../../common/attendance/person-day.ts";
import { presenceState } from "./attendance-period.ts";

// Weeks and months read only a day's closed seconds and open check-in (the columns the person
// index carries, migration 024). That holds only while viewDay's `present` depends on nothing
// else: generated whole states, rules and instants hold the projection to the whole state,
// so a change of the rules in common/attendance/person-day.ts that reads more fails here.

/** A small deterministic generator (mulberry32): the same cases every run. */
function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

test("a day's presence is read from its closed seconds and open check-in alone", () => {
  const next = random(25);
  const int = (max: number) => Math.floor(next() * max);
  const maybe = <T>(value: T) => (next() < 0.5 ? null : value);
  const dayStart = Date.UTC(2026, 2, 9, 0, 0);
  let present = 0;
  for (let i = 0; i < 20_000; i++) {
    const state: DayState = {
      closedSeconds: int(10 * 3600),
      firstInMs: maybe(dayStart + int(86_400_000)),
      lastOutMs: maybe(dayStart + int(86_400_000)),
      openSinceMs: maybe(dayStart + int(86_400_000)),
      maxTemperatureC: maybe(35 + int(60) / 10),
      outsWithoutIn: int(3),
      doubleIns: int(3),
      doubleOuts: int(3),
      events: int(10),
    };
    const rules: DayRules = {
      dayEndMs: dayStart + int(86_400_000),
      lateAfterMs: maybe(dayStart + int(86_400_000)),
      feverThresholdC: 37 + int(20) / 10,
      minPresentMinutes: int(600),
    };
    const nowMs = dayStart + int(2 * 86_400_000);
    const whole = viewDay(state, rules, nowMs).present;
    assert.equal(
      viewDay(presenceState(state), rules, nowMs).present,
      whole,
      JSON.stringify({ state, rules, nowMs }),
    );
    if (whole) present++;
  }
  // Both answers occur often: the comparison is no comparison of two constants.
  assert.ok(present > 2_000 && present < 18_000, `present ${present} of 20,000`);
});
