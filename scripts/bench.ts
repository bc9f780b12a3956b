import { rm } from "node:fs/promises";
import { dropDatabase } from "../common/postgres.ts";
import { type Individual, runIndividuals } from "./bench/individual.ts";
import { machineLine, waitQuiet } from "./bench/machine.ts";
import { PIPELINE, readPipelineOptions } from "./bench/pipeline-options.ts";
import { duration, pipelineSection, sectionText, writeSection } from "./bench/pipeline-report.ts";
import { type LoadRun, loadRun } from "./bench/pipeline-run.ts";
import { resetWorld, startSystem } from "./bench/pipeline-system.ts";
import { benchLog as say } from "./bench/progress.ts";
import { judge, type Step } from "./bench/step-verdict.ts";
import { seed } from "./simulator/seeding.ts";
import { fmtInt, fmtMs } from "./simulator/stats.ts";

// `npm run bench`: the individual benchmarks (bench:* scripts that exist), then the whole
// pipeline end to end: ingest API, batch writer(s) and result publisher as separate
// processes with a database, stream and Redis prefix of their own, loaded by the kiosk
// simulator (another process). Single votes: the rate is ramped in steps; the sustained
// rate is the highest step whose backlog does not grow and drains, with no errors and the
// generator on target; every step is verified (no loss, no extra, published totals agree).
// Batches: N votes (10 million by default, a reference design's day) through the batch
// endpoint, timed until stored and published. Writes its section of BENCHMARKS.md.
// The pieces are in scripts/bench/: options, system, one load run, a step's verdict,
// the report.

const options = readPipelineOptions();

// Ctrl-C or a timeout: exit through process.exit so that startNode's exit hook kills the
// services this run started.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

const started = new Date();
if (options.waitQuietMinutes > 0) await waitQuiet(options.waitQuietMinutes);
const machine = machineLine(started);
say(machine);

const individual: Individual[] = options.skipIndividual
  ? []
  : await runIndividuals(options.fullIndividual);

const steps: Step[] = [];
let batchRun: LoadRun | undefined;
let batchError: string | undefined;
if (!options.onlyIndividual) {
  say("end to end: resetting the bench database, stream and Redis prefix...");
  await resetWorld();
  const system = await startSystem(options.ingests, options.writers);
  try {
    await seed({
      apiUrl: system.apiUrl.split(",")[0]!,
      adminToken: PIPELINE.adminToken,
      kiosks: Math.max(options.kiosks, options.batchKiosks),
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
        `  ${fmtInt(run.summary.votesPerSecond)} req/s, p99 ${fmtMs(run.summary.latencyMs.p99)} ms, errors ${run.summary.errors}, backlog end ${fmtInt(step.endBacklog)} (slope ${fmtInt(step.slope)}/s), verify ${run.verify.ok ? "passed" : "FAILED"}: ${step.why}`,
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
          `  ${fmtInt(batchRun.summary.votesPerSecond)} votes/s ingested; stored and published in ${duration(batchRun.pipelineS)}; verify ${batchRun.verify.ok ? "passed" : "FAILED"}`,
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

const body = await pipelineSection({ machine, options, steps, batchRun, batchError, individual });
process.stdout.write(sectionText(body));
if (options.write) {
  await writeSection(body);
  say("BENCHMARKS.md updated");
}
process.exit(0);
