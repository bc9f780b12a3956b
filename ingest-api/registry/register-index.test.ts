import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { dayBounds } from "../../common/attendance/school-day.ts";
import { type IndexedRegister, RegisterIndex } from "./register-index.ts";

// The registry cache's index of lesson registers by school and start day (GET /v1/teacher).

const reg = (
  id: string,
  schoolId: string,
  startsAt: string,
  kind = "register",
): IndexedRegister => ({
  id,
  schoolId,
  kind,
  startsAt,
});

const ids = (it: Iterable<IndexedRegister>) => [...it].map((p) => p.id).sort();

describe("RegisterIndex", () => {
  test("a school-local day across two UTC days: its registers, no other school's, no other day's", () => {
    const index = new RegisterIndex<IndexedRegister>();
    // Auckland (+13:00 in March): 2026-03-02 local is 2026-03-01T11:00Z to 2026-03-02T11:00Z.
    for (const p of [
      reg("early", "akl", "2026-03-01T19:30:00.000Z"), // 08:30 local on the 2nd
      reg("late", "akl", "2026-03-02T03:00:00.000Z"), // 16:00 local on the 2nd
      reg("before", "akl", "2026-03-01T10:59:59.999Z"), // the 1st, local
      reg("after", "akl", "2026-03-02T11:00:00.000Z"), // the 3rd, local
      reg("other", "birch", "2026-03-01T19:30:00.000Z"),
      reg("vote", "akl", "2026-03-01T19:30:00.000Z", "vote"),
    ])
      index.add(p);
    const { startMs, endMs } = dayBounds("2026-03-02", "Pacific/Auckland");
    assert.deepEqual(ids(index.starting("akl", startMs, endMs)), ["early", "late"]);
    assert.deepEqual(ids(index.starting("nowhere", startMs, endMs)), []);
  });

  test("a poll replaced (moved to another day) or dropped leaves its old place", () => {
    const index = new RegisterIndex<IndexedRegister>();
    const first = reg("r", "ash", "2026-03-02T08:00:00.000Z");
    index.add(first);
    const moved = reg("r", "ash", "2026-03-09T08:00:00.000Z");
    index.remove(first);
    index.add(moved);
    const day = (d: string) => dayBounds(d, "UTC");
    const on = (d: string) => ids(index.starting("ash", day(d).startMs, day(d).endMs));
    assert.deepEqual(on("2026-03-02"), []);
    assert.deepEqual(on("2026-03-09"), ["r"]);
    index.remove(moved);
    assert.deepEqual(on("2026-03-09"), []);
    index.remove(moved); // twice: nothing to do
    index.add(moved);
    index.clear();
    assert.deepEqual(on("2026-03-09"), []);
  });
});
