import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type DayState, EMPTY_DAY } from "../common/attendance/person-day.ts";
import { localInstant } from "../common/attendance/school-day.ts";
import { buildDayDocument } from "./attendance-document.ts";
import { LiveDay } from "./attendance-live-day.ts";
import type { AttendanceSchool, DayRow, RosterPerson } from "./attendance-store.ts";

// The kept today gives, after any sequence of changed rows, the bytes buildDayDocument gives
// from the whole roster and the rows as they then are: the same version, so a restarted
// publisher (which builds from scratch) rewrites nothing. Random schools, seeded: ids that
// JSON orders first (array indices), quotes and non-ASCII in ids, people in several groups or
// none, others (a row, not in the active roster), more people than a block.

const ZONE = "Europe/Paris";
const DAY = "2025-03-03";
const school: AttendanceSchool = {
  id: "oak",
  timeZone: ZONE,
  settings: {
    dayEndsAt: "16:00",
    minPresentMinutes: 240,
    lateAfter: "08:30",
    minPresentDaysPct: 80,
    weekdays: [1, 2, 3, 4, 5],
    feverThresholdC: 38,
    temperatureMinC: 34,
    temperatureMaxC: 43,
    publicCounts: false,
  },
};
const at = (hhmm: string) => localInstant(DAY, hhmm, ZONE);

/** mulberry32: the same sequence for a seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Bytewise (UTF-8) order, as Postgres reads `collate "C"` ids. */
const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

function state(rnd: () => number): DayState {
  const kind = rnd();
  const firstInMs = at("07:30") + Math.floor(rnd() * 7_200_000);
  const temperature = rnd() < 0.1 ? 38.4 : rnd() < 0.5 ? 36.6 : null;
  if (kind < 0.1) return { ...EMPTY_DAY, outsWithoutIn: 1, events: 1 };
  if (kind < 0.6)
    return {
      ...EMPTY_DAY,
      firstInMs,
      openSinceMs: firstInMs,
      maxTemperatureC: temperature,
      doubleIns: rnd() < 0.05 ? 2 : 0,
      events: 1,
    };
  const closedSeconds = Math.floor(rnd() * 6 * 3600);
  return {
    ...EMPTY_DAY,
    firstInMs,
    lastOutMs: firstInMs + closedSeconds * 1000,
    closedSeconds,
    maxTemperatureC: temperature,
    events: 2,
  };
}

function schoolOf(seed: number, people: number) {
  const rnd = random(seed);
  const groups = ["7A", "7B", "12", "3", "ü-x", "0"];
  const id = (k: number) => {
    const r = rnd();
    if (r < 0.3) return String(k * 7);
    if (r < 0.35) return `q"${k}`;
    if (r < 0.4) return `é${k}`;
    return `S${String(k).padStart(5, "0")}`;
  };
  const ids = [...new Set(Array.from({ length: people }, (_, k) => id(k)))].sort(bytewise);
  const roster: RosterPerson[] = ids.map((personId) => ({
    id: personId,
    groups: groups.filter(() => rnd() < 0.3),
  }));
  const rowOf = (personId: string, updatedAtMs: number, groups: string[] | null): DayRow => ({
    schoolId: school.id,
    personId,
    day: DAY,
    state: state(rnd),
    updatedAtMs,
    groups,
  });
  const rows = new Map<string, DayRow>();
  for (const p of roster) if (rnd() < 0.8) rows.set(p.id, rowOf(p.id, at("09:00"), null));
  for (let k = 0; k < 5; k++)
    rows.set(`gone-${k}`, rowOf(`gone-${k}`, at("08:00"), rnd() < 0.5 ? ["7A"] : null));
  return { rnd, roster, rows, rowOf };
}

describe("LiveDay: the kept today", () => {
  for (const [seed, people, schoolDay, clock] of [
    [1, 700, true, "12:00"],
    [2, 40, true, "12:00"],
    [3, 1_000, false, "12:00"],
    [4, 600, true, "17:00"],
  ] as const) {
    test(`${people} people, ${schoolDay ? "a school day" : "no school day"}, at ${clock}: the bytes of a build from scratch`, () => {
      const nowMs = at(clock);
      const { rnd, roster, rows, rowOf } = schoolOf(seed, people);
      const live = new LiveDay(school, DAY, schoolDay, roster, [...rows.values()], nowMs);
      const same = (what: string) => {
        const expected = buildDayDocument(
          school,
          DAY,
          schoolDay,
          roster,
          [...rows.values()],
          nowMs,
        );
        const got = live.build(nowMs);
        assert.equal(got.json.toString(), expected.json, what);
        assert.equal(got.countsJson, expected.countsJson, what);
        assert.equal(got.version, expected.version, what);
        assert.deepEqual(got.counts, expected.counts, what);
      };
      same("built");
      const known = [...rows.keys()].filter((id) => id.startsWith("gone-"));
      for (let run = 0; run < 20; run++) {
        const changed: DayRow[] = [];
        for (let i = 0; i < 1 + Math.floor(rnd() * 8); i++) {
          const r = rnd();
          const personId =
            r < 0.1
              ? known[Math.floor(rnd() * known.length)]!
              : roster[Math.floor(rnd() * roster.length)]!.id;
          const row = rowOf(
            personId,
            at("09:00") + run * 1000 + i,
            rows.get(personId)?.groups ?? null,
          );
          rows.set(personId, row);
          changed.push(row);
        }
        assert.equal(live.apply(changed), true);
        same(`after run ${run}`);
      }
    });
  }

  test("a row of someone it has no place for asks for a build from the reads", () => {
    const { roster, rows, rowOf } = schoolOf(5, 50);
    const live = new LiveDay(school, DAY, true, roster, [...rows.values()], at("12:00"));
    assert.equal(live.apply([rowOf("nobody-known", at("10:00"), null)]), false);
  });
});
