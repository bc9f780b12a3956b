import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import { planPersonDay } from "./simulator/attendance-day.ts";
import { lastEventMinutes, pickLiveSchoolDay } from "./simulator/live-school-day.ts";

// bench:attendance plays the schools' today in a zone where its events are past and the
// day is still live (simulator/live-school-day.ts): the zone and the dayEndsAt it picks.

const ZONES = ["Europe/London", "Europe/Paris", "Asia/Kathmandu", "America/New_York"];
const at = (iso: string) => Date.parse(iso);

describe("the live school day bench:attendance plays", () => {
  test("every event of a drawn day is before lastEventMinutes", () => {
    let last = 0;
    for (let seed = 0; seed < 200_000; seed++) {
      const p = planPersonDay(seed);
      if (!p.absent) last = Math.max(last, p.inMs, p.outMs ?? 0);
    }
    assert.ok(last < lastEventMinutes() * 60_000, `${last} ms after midnight`);
    assert.ok(last > (lastEventMinutes() - 15) * 60_000, "not far before it either");
  });

  test("the zone with the earliest wall time after the day's events, the default dayEndsAt when it leaves enough", () => {
    // 15:30 UTC: London 15:30 and New York 10:30 are before the last check-out.
    const live = pickLiveSchoolDay(at("2026-12-07T15:30:00Z"), {
      liveForMs: 30 * 60_000,
      zones: ZONES,
    });
    assert.deepEqual(live, {
      timeZone: "Europe/Paris",
      day: "2026-12-07",
      weekday: 1,
      localTime: "16:30",
      dayEndsAt: "17:00",
      dayEndMs: localInstant("2026-12-07", "17:00", "Europe/Paris"),
    });
  });

  test("a later dayEndsAt when 17:00 is too soon; a +05:45 zone is a zone", () => {
    const live = pickLiveSchoolDay(at("2026-12-07T15:30:00Z"), {
      liveForMs: 61 * 60_000,
      zones: ZONES,
    });
    assert.equal(live.timeZone, "Europe/Paris");
    assert.equal(live.dayEndsAt, "17:31");
    const nepal = pickLiveSchoolDay(at("2026-12-07T11:00:00Z"), {
      liveForMs: 60 * 60_000,
      zones: ZONES,
    });
    assert.equal(nepal.timeZone, "Asia/Kathmandu");
    assert.equal(nepal.localTime, "16:45");
    assert.equal(nepal.dayEndsAt, "17:45");
  });

  test("no zone with the day behind it and time left before midnight: an error", () => {
    assert.throws(
      () =>
        pickLiveSchoolDay(at("2026-12-07T15:30:00Z"), { liveForMs: 8 * 3_600_000, zones: ZONES }),
      /no time zone/,
    );
  });

  test("every zone Intl knows: one at any hour of the day", () => {
    for (let h = 0; h < 24; h++) {
      const nowMs = at("2026-12-07T00:07:00Z") + h * 3_600_000;
      const live = pickLiveSchoolDay(nowMs, { liveForMs: 3 * 3_600_000 });
      assert.ok(live.localTime >= "16:16", `${live.timeZone} at ${live.localTime}`);
      assert.ok(live.dayEndMs - nowMs >= 3 * 3_600_000 - 60_000);
    }
  });
});
