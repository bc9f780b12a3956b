import assert from "node:assert/strict";
import { test } from "node:test";
import type { CliIo } from "../cli.ts";
import { INDIVIDUAL_NAMES } from "./individual.ts";
import { readPipelineOptions } from "./pipeline-options.ts";

// What `npm run bench` runs: every bench and the whole pipeline by default, or the ones
// --only names (in their own order), with the older shorthands kept.

const io: CliIo = {
  out: () => {},
  err: () => {},
  exit: (code) => {
    throw new Error(`exit ${code}`);
  },
};
const read = (...argv: string[]) => readPipelineOptions(argv, io);

test("by default every bench runs, reads and scale included, then the pipeline", () => {
  const o = read();
  assert.deepEqual(o.individuals, [
    "ingest",
    "voters",
    "voter-rebuild",
    "writer",
    "attendance-writer",
    "results",
    "reads",
    "scale",
    "reports",
    "publisher-memory",
    "roster-memory",
    "people",
    "attendance-publish",
    "attendance-state",
    "attendance-reads",
    "attendance-answers",
    "console",
  ]);
  assert.deepEqual(o.individuals, INDIVIDUAL_NAMES);
  assert.equal(o.pipeline, true);
});

test("--only runs the benches it names, in the benches' order", () => {
  const o = read("--only", "pipeline,scale,ingest");
  assert.deepEqual(o.individuals, ["ingest", "scale"]);
  assert.equal(o.pipeline, true);
  assert.equal(read("--only", "reads").pipeline, false);
});

test("the shorthands: --skip-individual is the pipeline alone, --only-individual all but it", () => {
  assert.deepEqual(read("--skip-individual").individuals, []);
  assert.equal(read("--skip-individual").pipeline, true);
  assert.deepEqual(read("--only-individual").individuals, INDIVIDUAL_NAMES);
  assert.equal(read("--only-individual").pipeline, false);
});

test("an unknown name, or --only with a shorthand, is a usage error", () => {
  assert.throws(() => read("--only", "ingest,nope"), /exit 2/);
  assert.throws(() => read("--only", "ingest", "--skip-individual"), /exit 2/);
  assert.throws(() => read("--skip-individual", "--only-individual"), /exit 2/);
});
