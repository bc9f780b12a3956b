import assert from "node:assert/strict";
import { test } from "node:test";
import { dayBounds, dayRules, localDay, periodOf, schoolDays } from "./school-day.ts";

const HOUR = 3_600_000;
const settings = {
  dayEndsAt: "17:00",
  minPresentMinutes: 240,
  lateAfter: "08:30",
  minPresentDaysPct: 80,
  weekdays: [1, 2, 3, 4, 5],
  feverThresholdC: 38,
  temperatureMinC: 28,
  temperatureMaxC: 43,
  publicCounts: false,
};

test("a local day across a DST change is 23 or 25 hours; +05:45 is no special case", () => {
  const spring = dayBounds("2026-03-29", "Europe/London");
  assert.equal(spring.endMs - spring.startMs, 23 * HOUR);
  const autumn = dayBounds("2026-10-25", "Europe/London");
  assert.equal(autumn.endMs - autumn.startMs, 25 * HOUR);
  const kathmandu = dayBounds("2026-03-02", "Asia/Kathmandu");
  assert.equal(new Date(kathmandu.startMs).toISOString(), "2026-03-01T18:15:00.000Z");
  assert.equal(localDay(kathmandu.startMs, "Asia/Kathmandu"), "2026-03-02");
  assert.equal(localDay(kathmandu.startMs - 1, "Asia/Kathmandu"), "2026-03-01");
});

test("the day's rules as instants, in the school's zone", () => {
  const rules = dayRules(settings, "America/New_York", "2026-07-01");
  assert.equal(new Date(rules.dayEndMs).toISOString(), "2026-07-01T21:00:00.000Z");
  assert.equal(new Date(rules.lateAfterMs!).toISOString(), "2026-07-01T12:30:00.000Z");
  assert.equal(dayRules({ ...settings, lateAfter: null }, "UTC", "2026-07-01").lateAfterMs, null);
});

test("school days: the weekdays less the holidays; weeks start on Monday", () => {
  assert.deepEqual(periodOf("2026-12-09", "week"), { from: "2026-12-07", to: "2026-12-13" });
  assert.deepEqual(periodOf("2026-02-14", "month"), { from: "2026-02-01", to: "2026-02-28" });
  const days = schoolDays("2026-12-07", "2026-12-13", [1, 2, 3, 4, 5], new Set(["2026-12-09"]));
  assert.deepEqual(days, ["2026-12-07", "2026-12-08", "2026-12-10", "2026-12-11"]);
});
