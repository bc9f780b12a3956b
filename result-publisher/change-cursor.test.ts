import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { nextStoredCursor } from "./change-cursor.ts";

// The cursor a publisher keeps in Redis never passes a change it has not published: a new
// leader reads the changes since it, and owes nothing it cannot find again.

describe("nextStoredCursor", () => {
  const run = { stored: "s0", cursor: "c1", snapshot: "s2" };

  test("nothing owed after the run: its snapshot", () => {
    assert.equal(nextStoredCursor({ ...run, owedBefore: false, owedAfter: false }), "s2");
    assert.equal(nextStoredCursor({ ...run, owedBefore: true, owedAfter: false }), "s2");
  });

  test("the first run that leaves documents owed keeps the cursor it read from", () => {
    assert.equal(nextStoredCursor({ ...run, owedBefore: false, owedAfter: true }), "c1");
  });

  test("while documents stay owed, the cursor stays where it was", () => {
    assert.equal(nextStoredCursor({ ...run, owedBefore: true, owedAfter: true }), "s0");
  });

  test("a rebuild that leaves documents owed keeps none (a new leader rebuilds)", () => {
    assert.equal(
      nextStoredCursor({ ...run, cursor: null, owedBefore: false, owedAfter: true }),
      null,
    );
  });
});
