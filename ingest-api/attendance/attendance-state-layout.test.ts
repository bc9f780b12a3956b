import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dayBounds, localInstant } from "../../common/attendance/school-day.ts";
import {
  packState,
  SchoolDays,
  type StateLayout,
  stateEntry,
  stateSlot,
  unpackState,
} from "./attendance-state.ts";

// The layout of the "already checked in" state, without Redis: the packed value orders
// events (later second first, then out over in), stays a small integer on a 25-hour day,
// and a person always lands in the same bucket and field.

const layout: StateLayout = { keyPrefix: "t:", bucketBits: 7, expiryMarginMs: 3_600_000 };
const days = new SchoolDays();

describe("the packed state", () => {
  const zone = "Europe/Berlin";
  const day = days.of(localInstant("2026-03-10", "12:00", zone), zone);

  test("round trip to the second, and the order the merge relies on", () => {
    const eight = localInstant("2026-03-10", "08:00", zone) + 456; // milliseconds dropped
    assert.deepEqual(unpackState(packState("in", eight, day), day), {
      state: "in",
      sinceMs: eight - 456,
    });
    assert.deepEqual(unpackState(packState("out", eight, day), day), {
      state: "out",
      sinceMs: eight - 456,
    });
    assert.ok(packState("out", eight, day) > packState("in", eight, day), "out over in");
    assert.ok(packState("in", eight + 1_000, day) > packState("out", eight, day), "later first");
    assert.equal(packState("in", day.startMs, day), 0);
  });

  test("a 25-hour day (DST ends) keeps its last second apart and under 2^23", () => {
    const long = days.of(localInstant("2026-10-25", "12:00", zone), zone);
    assert.equal(long.endMs - long.startMs, 25 * 3_600_000);
    const last = long.endMs - 1;
    const packed = packState("out", last, long);
    assert.ok(packed < 2 ** 23, `${packed} fits listpack's 24-bit integers`);
    assert.deepEqual(unpackState(packed, long), { state: "out", sinceMs: long.endMs - 1_000 });
  });

  test("the day of an instant, remembered per zone, in a +05:45 zone too", () => {
    const kathmandu = "Asia/Kathmandu";
    const justBefore = localInstant("2026-03-10", "23:59", kathmandu);
    const justAfter = justBefore + 60_000;
    assert.equal(days.of(justBefore, kathmandu).day, "2026-03-10");
    assert.equal(days.of(justAfter, kathmandu).day, "2026-03-11");
    assert.equal(days.of(justBefore, kathmandu).day, "2026-03-10");
    assert.deepEqual(days.of(justAfter, kathmandu), {
      day: "2026-03-11",
      ...dayBounds("2026-03-11", kathmandu),
    });
  });
});

describe("a person's slot", () => {
  test("one bucket of 2^bits and a 6-byte field per person, per school and day", () => {
    const a = stateSlot(layout, "oak", "2026-03-10", "B-1001");
    assert.deepEqual(stateSlot(layout, "oak", "2026-03-10", "B-1001"), a);
    assert.match(a.key, /^t:attendance-state:oak:2026-03-10:[0-9a-f]{1,2}$/);
    assert.ok(Number.parseInt(a.key.split(":").at(-1)!, 16) < 2 ** layout.bucketBits);
    assert.equal(a.field.length, 6);
    assert.notEqual(stateSlot(layout, "elm", "2026-03-10", "B-1001").key, a.key);
    assert.notEqual(stateSlot(layout, "oak", "2026-03-11", "B-1001").key, a.key);
    const buckets = new Set<string>();
    for (let i = 0; i < 5_000; i++)
      buckets.add(stateSlot(layout, "oak", "2026-03-10", `P-${i}`).key);
    assert.equal(buckets.size, 128, "people spread over every bucket");
    assert.equal(stateSlot({ ...layout, bucketBits: 0 }, "oak", "d", "x").key.endsWith(":0"), true);
  });

  test("an entry expires at the end of the school-local day plus the margin", () => {
    const zone = "America/New_York";
    const day = days.of(localInstant("2026-03-08", "09:00", zone), zone); // 23 hours
    const e = stateEntry(layout, "oak", "B-1", day, "in", day.startMs + 3_600_000);
    assert.equal(e.expireAtS, Math.ceil((day.endMs + 3_600_000) / 1000));
    assert.equal(day.endMs - day.startMs, 23 * 3_600_000);
  });
});
