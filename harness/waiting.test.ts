import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { eventually } from "./waiting.ts";

describe("eventually", () => {
  test("retries while the probe says not yet (undefined, false, or an error), then returns its value", async () => {
    let calls = 0;
    const value = await eventually(
      "the third call",
      () => {
        calls++;
        if (calls === 1) return undefined;
        if (calls === 2) throw new Error("connection refused");
        if (calls === 3) return false;
        return "ready";
      },
      { intervalMs: 1 },
    );
    assert.equal(value, "ready");
    assert.equal(calls, 4);
  });

  test("a failed assertion inside the probe fails at once, not retried into a pass", async () => {
    let calls = 0;
    await assert.rejects(
      eventually(
        "an answer that must never be 202",
        () => {
          calls++;
          if (calls === 1) assert.notEqual(202, 202, "one bad answer");
          return true;
        },
        { intervalMs: 1 },
      ),
      (err) => err instanceof assert.AssertionError && err.message === "one bad answer",
    );
    assert.equal(calls, 1);
  });

  test("past the deadline it names what it waited for, with the last error as the cause", async () => {
    const cause = new Error("still down");
    await assert.rejects(
      eventually(
        "the service is up",
        () => {
          throw cause;
        },
        { timeoutMs: 30, intervalMs: 5 },
      ),
      (err) =>
        err instanceof Error &&
        err.message === "not within 30 ms: the service is up" &&
        err.cause === cause,
    );
  });
});
