import assert from "node:assert/strict";
import { test } from "node:test";
import { countsHidden, instantMs, pollPhase } from "./poll-phase.js";

// The one rule for a poll's phase and hidden counts, at its edges. The window is
// half-open: a poll is closed at its closesAt instant, open at its opensAt instant.
const opens = Date.parse("2026-11-22T09:00:00Z");
const closes = Date.parse("2026-11-22T18:00:00Z");
const window = { opensAtMs: opens, closesAtMs: closes };

test("a poll's phase: not_open before opensAt, open from it, closed from closesAt", () => {
  assert.equal(pollPhase(window, opens - 1), "not_open");
  assert.equal(pollPhase(window, opens), "open");
  assert.equal(pollPhase(window, closes - 1), "open");
  assert.equal(pollPhase(window, closes), "closed");
  assert.equal(pollPhase({ opensAtMs: null, closesAtMs: null }, 0), "open");
});

test("after_close counts are hidden until closesAt, for ever without one; live never", () => {
  const after = { resultsVisibility: "after_close" as const, closesAtMs: closes };
  assert.equal(countsHidden(after, closes - 1), true);
  assert.equal(countsHidden(after, closes), false);
  assert.equal(countsHidden({ ...after, closesAtMs: null }, Number.MAX_SAFE_INTEGER), true);
  assert.equal(countsHidden({ resultsVisibility: "live", closesAtMs: closes }, 0), false);
});

test("instantMs reads the ISO instants the pages get", () => {
  assert.equal(instantMs("2026-11-22T18:00:00.000Z"), closes);
  assert.equal(instantMs(null), null);
  assert.equal(instantMs(undefined), null);
});
