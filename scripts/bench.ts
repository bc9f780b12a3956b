import { rm } from "node:fs/promises";
import { dropDatabase } from "../common/postgres.ts";
import { recordRuns } from "./bench/benchmarks-md.ts";
import { benchCommand } from "./bench/command-line.ts";
import { type Individual, runIndividuals } from "./bench/individual.ts";
import { machineLine, waitQuiet } from "./bench/machine.ts";
import { PIPELINE, readPipelineOptions } from "./bench/pipeline-options.ts";
import {
  duration,
  failures,
  individualReport,
  type PipelineResults,
  pipelineReport,
} from "./bench/pipeline-report.ts";
import { type LoadRun, loadRun } from "./bench/pipeline-run.ts";
import { resetWorld, startSystem } from "./bench/pipeline-system.ts";
import { benchLog as say } from "./bench/progress.ts";
import { judge, type Step } from "./bench/step-verdict.ts";
import { seed } from "./simulator/seeding.ts";
import { fmtInt, fmtMs } from "./simulator/stats.ts";

// `npm run bench`: every benchmark, then the whole pipeline end to end (`--only` picks
// some). The individual benchmarks are the bench:* scripts, each a child process; each
// report becomes its section's latest run in BENCHMARKS.md. The whole pipeline: ingest
// API, batch writer(s) and result publisher as separate processes with a database, stream
// and Redis prefix of their own, loaded by the kiosk simulator (another process). Single
// votes: the rate is ramped in steps; the sustained rate is the highest step whose backlog
// does not grow and drains, with no errors and the generator on target; every step is
// verified (no loss, no extra, published totals agree). Batches: N votes (10 million by
// default, a reference design's day) through the batch endpoint, timed until stored and
// published. Every time printed is measured wall time. A bench that exits non-zero, a
// writer stall or a failed verify is a failed run: exit 1 (a missed target is a result).
// The pieces are in scripts/bench/: options, the individual runs, system, one load run,
// a step's verdict, the report, BENCHMARKS.md.

const options = readPipelineOptions();
const command = benchCommand("bench");

// Ctrl-C or a timeout: exit through process.exit so that startNode's exit hook kills the
// services this run started.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

const started = new Date();
const startedMs = performance.now();
if (options.waitQuietMinutes > 0) await waitQuiet(options.waitQuietMinutes);
const machine = machineLine(started);
say(machine);

const individual: Individual[] = await runIndividuals(options.individuals, options.fullIndividual);

const steps: Step[] = [];
let batchRun: LoadRun | undefined;
let batchError: string | undefined;
if (options.pipeline) {
  say("end to end: resetting the bench database, stream and Redis prefix...");
  await resetWorld();
  const system = await startSystem(options.ingests, options.writers);
  try {
    await seed({
      apiUrl: system.apiUrl.split(",")[0]!,
      adminToken: PIPELINE.adminToken,
      kiosks: Math.max(options.kiosks, options.batchKiosks),
      // The default school's demo, open to any voter id: the steps' 50 million voters are free text.
      schools: 0,
      file: PIPELINE.kioskFile,
    });
    for (const rate of options.steps) {
      say(`single votes: ${fmtInt(rate)} req/s for ${options.stepSeconds} s...`);
      const run = await loadRun(system, [
        ...["--kiosks", String(options.kiosks), "--rate", String(rate)],
        ...["--duration", `${options.stepSeconds}s`],
        ...["--retry", "1%", "--voters", "50000000", "--twice", "1%", "--connections", "64"],
      ]);
      const step = judge(rate, run);
      steps.push(step);
      say(
        `  CPU % of a core: ${Object.entries(run.resources.cpu)
          .map(([n, v]) => `${n} ${v.toFixed(0)}`)
          .join(", ")}`,
      );
      say(
        `  ${fmtInt(run.summary.votesPerSecond)} req/s, p99 ${fmtMs(run.summary.latencyMs.p99)} ms, errors ${run.summary.errors}, backlog end ${fmtInt(step.endBacklog)} (slope ${fmtInt(step.slope)}/s), verify ${run.verify.ok ? "passed" : "FAILED"}, ${duration(run.wallS)}: ${step.why}`,
      );
      if (!step.sustained) break;
    }
    if (options.batchVotes > 0) {
      say(`batches: ${fmtInt(options.batchVotes)} votes through POST /v1/votes/batch...`);
      try {
        batchRun = await loadRun(system, [
          ...["--kiosks", String(options.batchKiosks), "--batch", "1000", "--linger", "200ms"],
          ...["--votes", String(options.batchVotes), "--rate", "10000000", "--duration", "0"],
          ...["--voters", "50000000", "--twice", "0%"],
          ...["--connections", String(options.batchKiosks)],
        ]);
        say(
          `  ${fmtInt(batchRun.summary.votesPerSecond)} votes/s ingested; ${batchRun.stalledBacklog === undefined ? "stored" : "NOT all stored (writers stalled)"} and published in ${duration(batchRun.pipelineS)} (measured); verify ${batchRun.verify.ok ? "passed" : "FAILED"}`,
        );
      } catch (err) {
        batchError = err instanceof Error ? err.message : String(err);
        say(`batch run failed: ${batchError}`);
      }
    }
  } finally {
    await system.stop();
    if (!options.keep) {
      await dropDatabase(PIPELINE.databaseUrl).catch(() => {});
      await rm(PIPELINE.runDir, { recursive: true, force: true });
    }
  }
}

const results: PipelineResults = {
  machine,
  command,
  options,
  steps,
  batchRun,
  batchError,
  individual,
  seconds: (performance.now() - startedMs) / 1000,
};
const report = pipelineReport(results);
process.stdout.write(`${report}\n`);
if (options.write) {
  const when = `${started.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  await recordRuns(
    [
      ...individual.map((i) => ({ script: i.script, report: individualReport(i, command, when) })),
      // The pipeline's section holds the pipeline's runs: an invocation without it
      // leaves that section as it was.
      ...(options.pipeline ? [{ script: "bench", report }] : []),
    ],
    when,
  );
  say("BENCHMARKS.md updated: each run is its section's latest");
}
const failed = failures(results);
if (failed.length > 0) say(`FAILED: ${failed.join("; ")}`);
process.exit(failed.length > 0 ? 1 : 0);
