import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isoInstant } from "./presence-upkeep.ts";

// The person-days' COPY text writes instants with isoInstant instead of a Date each: it
// must print exactly what toISOString prints, or a replayed day would differ by path.
describe("presence upkeep: instants as COPY text", () => {
  it("prints what toISOString prints, across days, years and the fallback's edges", () => {
    const cases = [
      0,
      1,
      999,
      1_000,
      59_999,
      3_599_999,
      86_399_999,
      86_400_000,
      Date.parse("2026-05-06T07:30:00.123Z"),
      Date.parse("2024-02-29T23:59:59.999Z"),
      Date.parse("1969-12-31T23:59:59.999Z"),
      Date.parse("0001-01-01T00:00:00.000Z"),
      Date.parse("9999-12-31T23:59:59.999Z"),
      Date.parse("+010000-01-01T00:00:00.000Z"),
      -62_135_596_800_001,
    ];
    let seed = 7;
    for (let i = 0; i < 20_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
      cases.push(Math.floor((seed / 2_147_483_648) * 4_102_444_800_000) - 1_000_000_000_000);
    }
    for (const ms of cases) assert.equal(isoInstant(ms), new Date(ms).toISOString(), String(ms));
  });
});
