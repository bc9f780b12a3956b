import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Individual } from "./individual.ts";
import type { PipelineOptions } from "./pipeline-options.ts";
import { failures, type PipelineResults, pipelineReport } from "./pipeline-report.ts";
import type { LoadRun } from "./pipeline-run.ts";
import { parseVerdicts } from "./verdict.ts";

// The whole pipeline's verdicts, on hand-made runs: the day of votes is judged on the
// elapsed time measured (not projected from a rate), only when a whole day was sent; a
// writer stall or a failed verify is a failed run, never a met target.

function batch(change: {
  votes?: number;
  pipelineS?: number;
  stalled?: number;
  verifyOk?: boolean;
}): LoadRun {
  // Only what the report reads is filled in.
  return {
    summary: {
      votesCast: change.votes ?? 10_000_000,
      accepted: change.votes ?? 10_000_000,
      refused: 0,
      refusedByCode: {},
      errors: 0,
      votesPerSecond: 40_000,
      castingS: 250,
      drainS: 1,
      latencyMs: { p50: 100, p90: 200, p99: 600, max: 900 },
    },
    samples: [{ t: 0, backlog: 10 }],
    resources: { cpu: {}, peakRssMb: {}, machineBusyPct: 150 },
    drainS: 300,
    stalledBacklog: change.stalled,
    verify: {
      ok: change.verifyOk ?? true,
      eventIds: change.votes ?? 10_000_000,
      seconds: { drain: 0, publish: 5, check: 60 },
    },
    pipelineS: change.pipelineS ?? 564,
    wallS: 640,
  } as unknown as LoadRun;
}

function results(batchRun: LoadRun, individual: Individual[] = []): PipelineResults {
  return {
    machine: "Machine: test",
    command: "npm run bench",
    options: { ingests: 1, writers: 1, batchKiosks: 16 } as PipelineOptions,
    steps: [],
    batchRun,
    batchError: undefined,
    individual,
    seconds: 700,
  };
}

const dayVerdict = (r: PipelineResults) =>
  parseVerdicts(pipelineReport(r)).find((v) => v.includes("ingested → stored → published"));

describe("the day of votes in batches", () => {
  test("is judged on the elapsed time measured", () => {
    assert.equal(
      dayVerdict(results(batch({ pipelineS: 224 }))),
      "10,000,000 votes in batches ingested → stored → published, elapsed wall time: 3 min 44 s (target < 4 min 0 s): met",
    );
    assert.match(dayVerdict(results(batch({ pipelineS: 241 }))) ?? "", /4 min 1 s .*: MISSED$/);
  });

  test("is not judged when fewer votes than a day were sent", () => {
    assert.equal(dayVerdict(results(batch({ votes: 2_000, pipelineS: 5 }))), undefined);
  });

  test("a writer stall misses it and fails the run", () => {
    const r = results(batch({ pipelineS: 400, stalled: 5_000, verifyOk: false }));
    assert.match(dayVerdict(r) ?? "", /not all stored \(writers stalled\).*: MISSED$/);
    assert.deepEqual(failures(r), ["batch run: writers stalled", "batch run: verify failed"]);
  });
});

test("a bench that exited non-zero fails the invocation", () => {
  const ingest: Individual = {
    script: "bench:ingest",
    command: "npm run bench:ingest",
    code: 1,
    seconds: 90,
    output: "",
    verdicts: [],
  };
  assert.deepEqual(failures(results(batch({}), [ingest])), ["`npm run bench:ingest` exited 1"]);
  assert.deepEqual(failures(results(batch({}))), []);
});
