import assert from "node:assert/strict";
import { test } from "node:test";
import { type Run, streamMismatch } from "./ingest-report.ts";

// bench:ingest's check that JetStream holds one message per accepted request, on hand-made
// runs: fewer messages than 2xx answers is a loss, more than one per unanswered request
// is a duplicate.

const run = (ok: number, failed: number, streamMessages: number): Run =>
  ({ ok, failed, streamMessages, connections: 50 }) as Run;

test("one message per 2xx, plus at most one per request without a 2xx, matches", () => {
  assert.equal(streamMismatch(run(1_000, 0, 1_000)), undefined);
  assert.equal(streamMismatch(run(1_000, 3, 1_053)), undefined);
});

test("a message fewer than the 2xx answers does not match", () => {
  assert.equal(streamMismatch(run(1_000, 0, 999)), "1 fewer messages than 2xx answers");
});

test("more messages than 2xx answers and unanswered requests does not match", () => {
  assert.equal(
    streamMismatch(run(1_000, 3, 1_054)),
    "54 more messages than 2xx answers, of 53 requests without one",
  );
});
