import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { LoadRun, Sample } from "./pipeline-run.ts";
import { backlogSlope, judge, MAX_P99_MS } from "./step-verdict.ts";

// The verdict on a step of `npm run bench`'s ramp, on hand-made runs: what passes, and
// that a writer stall fails the step like any other failure.

const RATE = 1_000;

/** A run that met everything at RATE, with `change` applied. */
function run(change: {
  samples?: Sample[];
  errors?: number;
  p99?: number;
  votesPerSecond?: number;
  verifyOk?: boolean;
  stalledBacklog?: number;
}): LoadRun {
  // Only what judge reads is filled in; the rest of SimSummary and VerifyResult is unused.
  return {
    summary: {
      errors: change.errors ?? 0,
      latencyMs: { p50: 3, p90: 10, p99: change.p99 ?? 50, max: 80 },
      votesPerSecond: change.votesPerSecond ?? RATE,
    },
    samples: change.samples ?? flat(20, 30),
    verify: { ok: change.verifyOk ?? true },
    stalledBacklog: change.stalledBacklog,
    drainS: 1,
  } as unknown as LoadRun;
}

const flat = (seconds: number, backlog: number): Sample[] =>
  Array.from({ length: seconds }, (_, t) => ({ t, backlog }));
const growing = (seconds: number, perSecond: number): Sample[] =>
  Array.from({ length: seconds }, (_, t) => ({ t, backlog: t * perSecond }));

describe("judge", () => {
  test("a step that met everything is sustained", () => {
    const step = judge(RATE, run({}));
    assert.equal(step.sustained, true);
    assert.equal(step.why, "sustained");
    assert.equal(step.maxBacklog, 30);
    assert.equal(step.endBacklog, 30);
  });

  test("a writer stall fails the step, naming the backlog it held", () => {
    const step = judge(RATE, run({ stalledBacklog: 12_345 }));
    assert.equal(step.sustained, false);
    assert.match(step.why, /^writers stalled: 12,345 messages held 20 s without progress$/);
  });

  test("errors, a slow p99, a generator behind, a failed verify and a growing backlog fail it", () => {
    const step = judge(
      RATE,
      run({
        errors: 3,
        p99: MAX_P99_MS + 1,
        votesPerSecond: 900,
        verifyOk: false,
        samples: growing(20, 200),
      }),
    );
    assert.equal(step.sustained, false);
    const reasons = step.why.split("; ");
    assert.equal(reasons.length, 5, step.why);
    assert.match(reasons[0]!, /^3 errors$/);
    assert.match(reasons[1]!, /^p99 .* ms > 1,000 ms/);
    assert.match(reasons[2]!, /^generator reached 900\/s only$/);
    assert.equal(reasons[3], "verify failed");
    assert.match(reasons[4]!, /^backlog grows 200\/s$/);
  });

  test("a backlog that grows but holds less than a second of votes is not a failure", () => {
    assert.equal(judge(RATE, run({ samples: growing(20, 40) })).sustained, true);
  });
});

describe("backlogSlope", () => {
  test("least squares over the second half of the samples", () => {
    const samples = [...flat(10, 0), ...growing(10, 5).map((s) => ({ ...s, t: s.t + 10 }))];
    assert.ok(Math.abs(backlogSlope(samples) - 5) < 1e-9);
    assert.equal(backlogSlope(flat(4, 7)), 0);
    assert.equal(backlogSlope([]), 0);
  });
});
