import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { readNatsAuth } from "../../common/nats-auth.ts";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import type { SimSummary } from "../simulator/simulation.ts";
import { fmtInt } from "../simulator/stats.ts";
import { type VerifyResult, verifyRun } from "../simulator/verification.ts";
import { PIPELINE } from "./pipeline-options.ts";
import { type System, serviceEnv } from "./pipeline-system.ts";
import { benchLog } from "./progress.ts";
import { measureResources, type Resources } from "./resources.ts";

// One load run of the whole-pipeline bench: the kiosk simulator (a child process) against
// the system, the writers' backlog sampled every second, then the drain, then `verify`.

/** After the load, a backlog that has not moved for this long is a stall: the run fails. */
export const STALL_MS = 20_000;
/** A drain that still moves but takes longer than this is a failure too. */
const DRAIN_LIMIT_MS = 900_000;

export interface Sample {
  t: number;
  backlog: number;
}

export interface LoadRun {
  summary: SimSummary;
  samples: Sample[];
  resources: Resources;
  /** Seconds after the simulator ended until the writers had nothing pending (or stalled). */
  drainS: number;
  /** Set when the backlog stopped draining: the messages it held for STALL_MS. */
  stalledBacklog: number | undefined;
  verify: VerifyResult;
  /**
   * Wall time, measured: from the simulator's start until the writers' backlog was empty
   * (or stalled), plus the wait verify measured until the publisher had published every
   * poll's current version. Verify's own reading of the run file and its checks are not
   * in it.
   */
  pipelineS: number;
  /** Wall time of the whole run, verify included, measured. */
  wallS: number;
}

async function backlogOf(jsm: JetStreamManager): Promise<number> {
  const info = await jsm.consumers.info(PIPELINE.stream, PIPELINE.consumer);
  return info.num_pending + info.num_ack_pending;
}

/**
 * Waits until the writers have nothing pending. Resolves with the backlog they held when
 * it stopped moving for STALL_MS (a stall), or undefined once it is empty.
 */
async function drain(jsm: JetStreamManager): Promise<number | undefined> {
  const started = performance.now();
  let last = -1;
  let lastChange = started;
  for (let backlog = await backlogOf(jsm); backlog > 0; backlog = await backlogOf(jsm)) {
    if (performance.now() - started > DRAIN_LIMIT_MS)
      throw new Error(`the writers did not drain the stream within 15 min (${backlog} pending)`);
    if (backlog !== last) {
      last = backlog;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > STALL_MS) {
      benchLog(
        `  the writers hold ${fmtInt(backlog)} messages without progress for ${STALL_MS / 1000} s: stalled`,
      );
      return backlog;
    }
    await sleep(200);
  }
  return undefined;
}

/** Runs the simulator with `args` against `system` and judges nothing: it measures. */
export async function loadRun(system: System, args: string[]): Promise<LoadRun> {
  const began = performance.now();
  const nc = await connect({ servers: PIPELINE.natsUrl });
  const jsm = await jetstreamManager(nc);
  const child = spawn(
    process.execPath,
    [
      "scripts/simulate.ts",
      ...["--file", PIPELINE.kioskFile, "--runs", PIPELINE.runDir, "--url", system.apiUrl],
      ...["--flat", "--json", "--quiet", "--seed", "42"],
      ...args,
    ],
    { cwd: REPO_ROOT, env: serviceEnv({}), stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = collectOutput(child);
  const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void closed.then(() => process.off("exit", killOnExit));
  const resources = measureResources({ ...system.pids }, PIPELINE.databaseUrl);
  const t0 = performance.now();
  const samples: Sample[] = [];
  let done = false;
  void closed.then(() => {
    done = true;
  });
  let lastSay = 0;
  while (!done) {
    const sample = { t: (performance.now() - t0) / 1000, backlog: await backlogOf(jsm) };
    samples.push(sample);
    if (sample.t - lastSay >= 10) {
      lastSay = sample.t;
      benchLog(`  ${sample.t.toFixed(0)} s: backlog ${fmtInt(sample.backlog)} messages`);
    }
    await Promise.race([sleep(1_000), closed]);
  }
  const used = resources.stop();
  const code = await closed;
  if (code !== 0) throw new Error(`simulator exited with ${code}: ${output.stderr}`);
  const summary = JSON.parse(output.stdout) as SimSummary;
  // The simulator reports its own CPU time and peak RSS (it has exited by now).
  const wall = (performance.now() - t0) / 1000;
  used.cpu.simulator = (summary.process.cpuSeconds / wall) * 100;
  used.peakRssMb.simulator = summary.process.peakRssMb;
  const ours = Object.values(used.cpu).reduce((a, b) => a + b, 0);
  used.cpu["everything else on the machine"] = Math.max(0, used.machineBusyPct - ours);
  const endT = performance.now();
  const stalledBacklog = await drain(jsm);
  const drainS = (performance.now() - endT) / 1000;
  await nc.close();
  const verify = await verifyRun({
    runFile: summary.runFile,
    databaseUrl: PIPELINE.databaseUrl,
    natsUrl: PIPELINE.natsUrl,
    natsAuth: readNatsAuth(process.env, "migrate"),
    redisUrl: PIPELINE.redisUrl,
    redisKeyPrefix: PIPELINE.redisKeyPrefix,
    streamName: PIPELINE.stream,
    consumerName: PIPELINE.consumer,
    // After a stall, waiting would only delay the verdict: verify checks at once, and
    // reports the backlog and the votes not stored.
    drainTimeoutMs: stalledBacklog === undefined ? 600_000 : 0,
    publishTimeoutMs: 60_000,
    log: (line) => benchLog(`  verify: ${line.split("\n")[0]}`),
  });
  return {
    summary,
    samples,
    resources: used,
    drainS,
    stalledBacklog,
    verify,
    pipelineS: (endT - t0) / 1000 + drainS + verify.seconds.drain + verify.seconds.publish,
    wallS: (performance.now() - began) / 1000,
  };
}

/** Everything a child writes, as text, read once it has closed. */
function collectOutput(child: ChildProcessByStdio<null, Readable, Readable>): {
  readonly stdout: string;
  readonly stderr: string;
} {
  const chunks = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  child.stdout.on("data", (c: Buffer) => chunks.stdout.push(c));
  child.stderr.on("data", (c: Buffer) => chunks.stderr.push(c));
  return {
    get stdout() {
      return Buffer.concat(chunks.stdout).toString("utf8");
    },
    get stderr() {
      return Buffer.concat(chunks.stderr).toString("utf8");
    },
  };
}
