import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import {
  type Child,
  freePort,
  processCpuSeconds,
  startNode,
  waitUntilReady,
  watchCpu,
} from "./bench/processes.ts";
import { REPO_ROOT } from "./simulator/kiosk-file.ts";
import { seed } from "./simulator/seeding.ts";
import type { SimSummary } from "./simulator/simulation.ts";
import { fmtInt, fmtMs } from "./simulator/stats.ts";
import { type VerifyResult, verifyRun } from "./simulator/verification.ts";

// `npm run bench`: the individual benchmarks (bench:* scripts that exist), then the whole
// pipeline end to end: ingest API, batch writer(s) and result publisher as separate
// processes with a database, stream and Redis prefix of their own, loaded by the kiosk
// simulator (another process). Single votes: the rate is ramped in steps; the sustained
// rate is the highest step whose backlog does not grow, with no errors and the generator
// on target; every step is verified (no loss, no extra, published totals agree).
// Batches: N votes (10 million by default, a reference design's day) through the batch
// endpoint, timed until stored and published. Writes its section of BENCHMARKS.md.

const { values } = parseArgs({
  options: {
    "skip-individual": { type: "boolean", default: false },
    "only-individual": { type: "boolean", default: false },
    /** Pass the individual benchmarks their own default sizes (long). */
    "full-individual": { type: "boolean", default: false },
    steps: { type: "string", default: "1000,1500,2000,2500,3000,4000,5000,7500,10000" },
    "step-seconds": { type: "string", default: "25" },
    kiosks: { type: "string", default: "500" },
    "batch-votes": { type: "string", default: "10000000" },
    "batch-kiosks": { type: "string", default: "16" },
    writers: { type: "string", default: "1" },
    // One API process: on 2 cores a second one costs more CPU per vote than it adds
    // (measured: 1,500 req/s sustained with two, 2,500 with one, same session).
    ingest: { type: "string", default: "1" },
    "wait-quiet": { type: "string", default: "0" },
    "no-write": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
  },
});
const STEPS = values.steps === "none" ? [] : values.steps.split(",").map(Number);
const STEP_SECONDS = Number(values["step-seconds"]);
const KIOSKS = Number(values.kiosks);
const BATCH_VOTES = Number(values["batch-votes"]);
const BATCH_KIOSKS = Number(values["batch-kiosks"]);
const WRITERS = Number(values.writers);
const INGESTS = Number(values.ingest);
const TARGET_SINGLE = 5 * 1_500;
const DAY_VOTES = 10_000_000;
const DAY_SECONDS = 600;

const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const names = {
  databaseUrl: `${PG}/tallyflow_bench_e2e`,
  stream: "VOTES_E2E",
  subjectPrefix: "e2evotes",
  consumer: "e2e_writer",
  redisKeyPrefix: "tallyflow-e2e:",
  adminToken: "bench-e2e-admin-token",
};
const KIOSK_FILE = join(REPO_ROOT, ".local", "bench-kiosks.json");
const RUN_DIR = join(REPO_ROOT, ".local", "runs", "bench");
const logger = createLogger("warn");
const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);

// --- the machine -------------------------------------------------------------------------

function machineLine(started: Date): string {
  const cpu = cpus();
  return `Machine: ${cpu.length} × ${cpu[0]?.model ?? "?"}, ${Math.round(totalmem() / 2 ** 30)} GB; Node ${process.version}; ${started.toISOString().slice(0, 16).replace("T", " ")} UTC; load average at start ${loadavg()[0]!.toFixed(2)}`;
}

async function waitQuiet(minutes: number): Promise<void> {
  const deadline = Date.now() + minutes * 60_000;
  while (loadavg()[0]! > 1.5 && Date.now() < deadline) {
    say(`load average ${loadavg()[0]!.toFixed(2)} > 1.5: waiting for a quiet machine...`);
    await sleep(30_000);
  }
}

// --- individual benchmarks ------------------------------------------------------------------

interface Individual {
  script: string;
  command: string;
  code: number | null;
  seconds: number;
  output: string;
}

const INDIVIDUAL = [
  "bench:ingest",
  "bench:voters",
  "bench:voter-rebuild",
  "bench:writer",
  "bench:results",
  "bench:reports",
];
// Smaller than their defaults so that the whole bench fits in about half an hour.
const SMALLER: Record<string, string[]> = {
  "bench:results": ["--history", "2000000", "--seconds", "20"],
  "bench:reports": ["--votes", "2000000"],
};

async function runIndividual(script: string, command: string): Promise<Individual> {
  const [bin, ...rest] = command.split(/\s+/);
  if (bin !== "node") throw new Error(`${script}: expected "node …", got "${command}"`);
  const args = [...rest, ...(values["full-individual"] ? [] : (SMALLER[script] ?? []))];
  const shown = `npm run ${script}${args.length > rest.length ? ` -- ${args.slice(rest.length).join(" ")}` : ""}`;
  say(`${shown} ...`);
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString("utf8");
    process.stderr.write(c);
  });
  child.stderr.on("data", (c: Buffer) => {
    for (const line of c.toString("utf8").split("\n"))
      if (line.trim() !== "") process.stderr.write(`[${script}] ${line}\n`);
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return {
    script,
    command: shown,
    code,
    seconds: (performance.now() - started) / 1000,
    output: output.trim(),
  };
}

// --- processes and their resources ------------------------------------------------------------

function peakRssMb(pid: number): number {
  try {
    const kb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

/** Pids whose command name (/proc/<pid>/comm) is `comm`. */
function pidsByComm(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() === comm) pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/**
 * CPU seconds of the Postgres processes serving the bench: the backends connected to its
 * database (one per connection) and the server's own processes (WAL writer, checkpointer…),
 * not the backends of other databases (other people's tests on a shared machine).
 */
function postgresCpuSeconds(): Map<number, number> {
  const m = new Map<number, number>();
  const database = new URL(names.databaseUrl).pathname.slice(1);
  for (const pid of pidsByComm("postgres")) {
    let cmdline = "";
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
    } catch {
      continue;
    }
    // Ours: backends and autovacuum workers of the bench database ("postgres: 15/main:
    // postgres tallyflow_bench_e2e 127.0.0.1(50104) idle"), and the server's shared
    // processes. Not: other databases' backends, parallel workers (of other queries).
    const shared = /(checkpointer|background writer|walwriter|launcher)\s*$/.test(cmdline.trim());
    const postmaster = !cmdline.startsWith("postgres:");
    if (!shared && !postmaster && !cmdline.includes(` ${database} `)) continue;
    const s = processCpuSeconds(pid);
    if (s !== undefined) m.set(pid, s);
  }
  return m;
}

/** The Postgres backends connected to the bench's database. */
function benchBackendPids(): number[] {
  const database = new URL(names.databaseUrl).pathname.slice(1);
  return pidsByComm("postgres").filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, "utf8")
        .replaceAll("\0", " ")
        .includes(` ${database} `);
    } catch {
      return false;
    }
  });
}

interface Resources {
  /** % of one core (the machine has cpus().length cores). */
  cpu: Record<string, number>;
  peakRssMb: Record<string, number>;
  machineBusyPct: number;
}

function measureResources(pids: Record<string, number>): { stop(): Resources } {
  const watch = watchCpu(pids);
  const pgStart = postgresCpuSeconds();
  const t0 = performance.now();
  return {
    stop() {
      const { byName, machineBusyPct } = watch.stop();
      const seconds = (performance.now() - t0) / 1000;
      let pgCpu = 0;
      for (const [pid, after] of postgresCpuSeconds()) pgCpu += after - (pgStart.get(pid) ?? 0);
      const cpu: Record<string, number> = { ...byName, postgres: (pgCpu / seconds) * 100 };
      const peak: Record<string, number> = {};
      for (const [name, pid] of Object.entries(pids)) peak[name] = peakRssMb(pid);
      // Postgres serves the bench with many processes that share memory, so a sum would
      // count the shared buffers many times: the largest backend of the bench's database.
      const backends = benchBackendPids()
        .map(peakRssMb)
        .filter((n) => !Number.isNaN(n));
      peak.postgres = backends.length > 0 ? Math.max(...backends) : Number.NaN;
      return { cpu, peakRssMb: peak, machineBusyPct };
    },
  };
}

// --- the system under test ---------------------------------------------------------------------

interface System {
  apiUrl: string;
  pids: Record<string, number>;
  restartWriters(): Promise<void>;
  stop(): Promise<void>;
}

const STALL_MS = 20_000;
/** Above this p99 the API no longer keeps up: requests wait in the queue. */
const MAX_P99_MS = 1_000;

function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: names.databaseUrl,
    NATS_URL,
    REDIS_URL,
    STREAM_NAME: names.stream,
    SUBJECT_PREFIX: names.subjectPrefix,
    CONSUMER_NAME: names.consumer,
    REDIS_KEY_PREFIX: names.redisKeyPrefix,
    ADMIN_TOKEN: names.adminToken,
    WRITER_METRICS_PORT: "0",
    PUBLISHER_METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    ...extra,
  };
}

async function resetWorld(): Promise<void> {
  await dropDatabase(names.databaseUrl);
  await ensureDatabase(names.databaseUrl);
  const pool = createPool(names.databaseUrl, logger, { max: 1 });
  await migrate(pool, logger);
  await pool.end();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for (const s of [names.stream, `${names.stream}_MAXDELIVER`])
    await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  const redis = await connectRedis(REDIS_URL, logger, "bench");
  for await (const keys of redis.scanIterator({ MATCH: `${names.redisKeyPrefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis.close();
  await rm(KIOSK_FILE, { force: true });
}

async function startSystem(): Promise<System> {
  // Several ingest APIs listen on ports of their own; the simulator spreads its kiosks
  // over them as a load balancer would.
  const ingests: Child[] = [];
  const urls: string[] = [];
  for (let i = 0; i < INGESTS; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = startNode(
      `ingest${INGESTS > 1 ? i + 1 : ""}`,
      ["ingest-api/main.ts"],
      serviceEnv({ PORT: String(port) }),
    );
    await waitUntilReady(child, `${url}/readyz`, 60_000);
    ingests.push(child);
    urls.push(url);
  }
  const apiUrl = urls.join(",");
  const startWriters = () =>
    Array.from({ length: WRITERS }, (_, i) =>
      startNode(`writer${WRITERS > 1 ? i + 1 : ""}`, ["batch-writer/main.ts"], serviceEnv({})),
    );
  let writers: Child[] = startWriters();
  const publisher = startNode("publisher", ["result-publisher/main.ts"], serviceEnv({}));
  // The writer has created its consumer when it shows up in JetStream.
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  for (let i = 0; ; i++) {
    if (await jsm.consumers.info(names.stream, names.consumer).catch(() => undefined)) break;
    if (i > 300) throw new Error("the writer did not create its consumer within 30 s");
    await sleep(100);
  }
  await nc.close();
  const pids: Record<string, number> = {};
  for (const c of [...ingests, ...writers, publisher]) pids[c.name] = c.pid;
  const nats = pidsByComm("nats-server")[0];
  const redis = pidsByComm("redis-server")[0];
  if (nats) pids["nats-server"] = nats;
  if (redis) pids["redis-server"] = redis;
  return {
    apiUrl,
    pids,
    async restartWriters() {
      for (const w of writers) await w.stop(20_000);
      writers = startWriters();
      for (const w of writers) pids[w.name] = w.pid;
    },
    async stop() {
      for (const c of [...ingests, ...writers, publisher]) await c.stop(20_000);
    },
  };
}

// --- one load run ----------------------------------------------------------------------------

interface Sample {
  t: number;
  backlog: number;
}

interface LoadRun {
  summary: SimSummary;
  samples: Sample[];
  resources: Resources;
  /** Seconds after the simulator ended until the writers had nothing pending. */
  drainS: number;
  verify: VerifyResult;
  /** From the first request until every vote was stored and its results published. */
  pipelineS: number;
  writerRestarts: number;
}

async function backlogOf(jsm: Awaited<ReturnType<typeof jetstreamManager>>): Promise<number> {
  const info = await jsm.consumers.info(names.stream, names.consumer);
  return info.num_pending + info.num_ack_pending;
}

async function loadRun(system: System, args: string[]): Promise<LoadRun> {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  const child = spawn(
    process.execPath,
    [
      "scripts/simulate.ts",
      ...["--file", KIOSK_FILE, "--runs", RUN_DIR, "--url", system.apiUrl],
      ...["--flat", "--json", "--quiet", "--seed", "42"],
      ...args,
    ],
    { cwd: REPO_ROOT, env: serviceEnv({}), stdio: ["ignore", "pipe", "pipe"] },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const closed = new Promise<number | null>((resolve) => child.once("close", resolve));
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  void closed.then(() => process.off("exit", killOnExit));
  const resources = measureResources({ ...system.pids });
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
      say(`  ${sample.t.toFixed(0)} s: backlog ${fmtInt(sample.backlog)} messages`);
    }
    await Promise.race([sleep(1_000), closed]);
  }
  const used = resources.stop();
  const code = await closed;
  if (code !== 0) throw new Error(`simulator exited with ${code}: ${stderr}`);
  const summary = JSON.parse(stdout) as SimSummary;
  // The simulator reports its own CPU time and peak RSS (it has exited by now).
  const wall = (performance.now() - t0) / 1000;
  used.cpu.simulator = (summary.process.cpuSeconds / wall) * 100;
  used.peakRssMb.simulator = summary.process.peakRssMb;
  const ours = Object.values(used.cpu).reduce((a, b) => a + b, 0);
  used.cpu["everything else on the machine"] = Math.max(0, used.machineBusyPct - ours);
  const endT = performance.now();
  // A writer can stall holding messages it will never store (see the report): when the
  // backlog has not moved for STALL_MS, restart the writers; JetStream redelivers.
  let writerRestarts = 0;
  let last = -1;
  let lastChange = performance.now();
  for (let backlog = await backlogOf(jsm); backlog > 0; backlog = await backlogOf(jsm)) {
    if (performance.now() - endT > 900_000)
      throw new Error(`the writers did not drain the stream within 15 min (${backlog} pending)`);
    if (backlog !== last) {
      last = backlog;
      lastChange = performance.now();
    } else if (writerRestarts === 0 && performance.now() - lastChange > STALL_MS) {
      // Once: JetStream redelivers what the old writer held after its back-off (30 s, then
      // longer), so restarting again would only reset the wait.
      say(`  the writers hold ${fmtInt(backlog)} messages without progress: restarting them`);
      await system.restartWriters();
      writerRestarts++;
      lastChange = performance.now();
    }
    await sleep(200);
  }
  const drainS = (performance.now() - endT) / 1000;
  await nc.close();
  const verify = await verifyRun({
    runFile: summary.runFile,
    databaseUrl: names.databaseUrl,
    natsUrl: NATS_URL,
    redisUrl: REDIS_URL,
    redisKeyPrefix: names.redisKeyPrefix,
    streamName: names.stream,
    consumerName: names.consumer,
    drainTimeoutMs: 600_000,
    publishTimeoutMs: 60_000,
    log: (line) => say(`  verify: ${line.split("\n")[0]}`),
  });
  return {
    summary,
    samples,
    resources: used,
    drainS,
    verify,
    writerRestarts,
    pipelineS: (endT - t0) / 1000 + drainS + verify.seconds.drain + verify.seconds.publish,
  };
}

/** Least-squares slope (messages/s) of the backlog over the second half of the run. */
function backlogSlope(samples: Sample[]): number {
  const half = samples.slice(Math.floor(samples.length / 2));
  if (half.length < 3) return 0;
  const n = half.length;
  const mt = half.reduce((a, s) => a + s.t, 0) / n;
  const mb = half.reduce((a, s) => a + s.backlog, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of half) {
    num += (s.t - mt) * (s.backlog - mb);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Step {
  rate: number;
  run: LoadRun;
  slope: number;
  maxBacklog: number;
  endBacklog: number;
  sustained: boolean;
  /** Sustained but for a writer stall (and the backlog it left): the API and the rest kept up. */
  sustainedButStall: boolean;
  why: string;
}

function judge(rate: number, run: LoadRun): Step {
  const s = run.summary;
  const slope = backlogSlope(run.samples);
  const maxBacklog = Math.max(0, ...run.samples.map((x) => x.backlog));
  const endBacklog = run.samples.at(-1)?.backlog ?? 0;
  const reasons: string[] = [];
  if (s.errors > 0) reasons.push(`${s.errors} errors`);
  if (s.latencyMs.p99 > MAX_P99_MS)
    reasons.push(`p99 ${fmtMs(s.latencyMs.p99)} ms > ${fmtInt(MAX_P99_MS)} ms (requests queue up)`);
  if (s.votesPerSecond < 0.97 * rate)
    reasons.push(`generator reached ${fmtInt(s.votesPerSecond)}/s only`);
  // Growing: the backlog rises by more than 2 % of the arrival rate per second, and holds
  // more than a second of votes at the end.
  if (!run.verify.ok) reasons.push("verify failed");
  const capacityReasons = reasons.length;
  // A stalled writer holds its messages until it is restarted, so the backlog grows
  // whatever the rate: that growth is the stall's, not a capacity limit.
  const growing = slope > 0.02 * rate && endBacklog > rate;
  if (growing) reasons.push(`backlog grows ${fmtInt(slope)}/s`);
  if (run.writerRestarts > 0)
    reasons.push("writer stalled: held messages without storing them (restarted to drain)");
  return {
    rate,
    run,
    slope,
    maxBacklog,
    endBacklog,
    sustained: reasons.length === 0,
    sustainedButStall: run.writerRestarts > 0 && capacityReasons === 0,
    why: reasons.join("; ") || "sustained",
  };
}

// --- report ---------------------------------------------------------------------------------

const pctCore = (n: number | undefined) => (n === undefined ? "–" : `${n.toFixed(0)} %`);
const mb = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "–" : `${fmtInt(n)} MB`;

function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

function resourceTable(r: Resources, title: string): string[] {
  const rows = Object.keys(r.cpu).sort((a, b) => (r.cpu[b] ?? 0) - (r.cpu[a] ?? 0));
  return [
    title,
    "",
    "| process | CPU (% of one core) | share of the machine | peak RSS |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map(
      (name) =>
        `| ${name} | ${pctCore(r.cpu[name])} | ${((r.cpu[name] ?? 0) / cpus().length).toFixed(0)} % | ${mb(r.peakRssMb[name])}${name === "postgres" ? " (largest backend)" : ""} |`,
    ),
    `| whole machine (busy) | ${pctCore(r.machineBusyPct)} | ${(r.machineBusyPct / cpus().length).toFixed(0)} % | |`,
  ];
}

const SECTION = "## Whole pipeline (`npm run bench`)";
const INDIVIDUAL_HEADING = "Individual benchmarks";

async function writeSection(body: string): Promise<void> {
  const path = join(REPO_ROOT, "BENCHMARKS.md");
  let text = await readFile(path, "utf8").catch(() => "# Benchmarks\n");
  const start = text.indexOf(SECTION);
  const section = `${SECTION}\n\n${body.trim()}\n`;
  if (start === -1) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf("\n## ", start + SECTION.length);
    text = `${text.slice(0, start)}${section}${next === -1 ? "" : `\n${text.slice(next + 1)}`}`;
  }
  await writeFile(path, text.endsWith("\n") ? text : `${text}\n`);
}

// --- main -----------------------------------------------------------------------------------

// Ctrl-C or a timeout: exit through process.exit so that startNode's exit hook kills the
// services this run started.
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => process.exit(130));

const started = new Date();
if (Number(values["wait-quiet"]) > 0) await waitQuiet(Number(values["wait-quiet"]));
const machine = machineLine(started);
say(machine);

const individual: Individual[] = [];
if (!values["skip-individual"]) {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  for (const script of INDIVIDUAL) {
    const command = pkg.scripts[script];
    if (command) individual.push(await runIndividual(script, command));
  }
}

const steps: Step[] = [];
let batchRun: LoadRun | undefined;
let batchError: string | undefined;
if (!values["only-individual"]) {
  say("end to end: resetting the bench database, stream and Redis prefix...");
  await resetWorld();
  const system = await startSystem();
  try {
    await seed({
      apiUrl: system.apiUrl.split(",")[0]!,
      adminToken: names.adminToken,
      kiosks: Math.max(KIOSKS, BATCH_KIOSKS),
      file: KIOSK_FILE,
    });
    for (const rate of STEPS) {
      say(`single votes: ${fmtInt(rate)} req/s for ${STEP_SECONDS} s...`);
      const run = await loadRun(system, [
        ...["--kiosks", String(KIOSKS), "--rate", String(rate), "--duration", `${STEP_SECONDS}s`],
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
      // A writer stall is a defect, not the capacity: keep ramping to find the capacity.
      if (!step.sustained && !step.sustainedButStall) break;
    }
    if (BATCH_VOTES > 0)
      say(`batches: ${fmtInt(BATCH_VOTES)} votes through POST /v1/votes/batch...`);
    if (BATCH_VOTES > 0)
      try {
        batchRun = await loadRun(system, [
          ...["--kiosks", String(BATCH_KIOSKS), "--batch", "1000", "--linger", "200ms"],
          ...["--votes", String(BATCH_VOTES), "--rate", "10000000", "--duration", "0"],
          ...["--voters", "50000000", "--twice", "0%", "--connections", String(BATCH_KIOSKS)],
        ]);
        say(
          `  ${fmtInt(batchRun.summary.votesPerSecond)} votes/s ingested; stored and published in ${duration(batchRun.pipelineS)}; verify ${batchRun.verify.ok ? "passed" : "FAILED"}`,
        );
      } catch (err) {
        batchError = err instanceof Error ? err.message : String(err);
        say(`batch run failed: ${batchError}`);
      }
  } finally {
    await system.stop();
    if (!values.keep) {
      await dropDatabase(names.databaseUrl).catch(() => {});
      await rm(RUN_DIR, { recursive: true, force: true });
    }
  }
}

// --- the section -------------------------------------------------------------------------------

const lines: string[] = [machine];
const e2eCommand = `npm run bench -- --steps ${values.steps} --step-seconds ${STEP_SECONDS} --kiosks ${KIOSKS} --batch-votes ${BATCH_VOTES} --batch-kiosks ${BATCH_KIOSKS} --writers ${WRITERS} --ingest ${INGESTS}`;
lines.push(
  `Command: \`${values["skip-individual"] ? e2eCommand.replace("--steps", "--skip-individual --steps") : e2eCommand}\``,
);
lines.push("");
if (steps.length > 0 || batchRun) {
  const best = [...steps].reverse().find((s) => s.sustained);
  const stalled = steps.filter((s) => s.run.writerRestarts > 0).length;
  const bestButStall = [...steps].reverse().find((s) => s.sustained || s.sustainedButStall);
  const b = batchRun;
  const batchVotesPerS = b ? b.summary.accepted / b.pipelineS : 0;
  const tenMillionS = b ? DAY_VOTES / batchVotesPerS : 0;
  const measured = b !== undefined && b.summary.votesCast >= DAY_VOTES;
  lines.push(
    `Every component runs as its own process on this machine: ingest API (${INGESTS}${INGESTS > 1 ? ", on ports of their own, the simulator spreading its kiosks over them" : ""}), batch writer (${WRITERS}), result publisher (1), with NATS, Postgres and Redis, and the kiosk simulator generating the load (also on this machine, its CPU shown below).`,
    "",
    "| measure | result | target | |",
    "| --- | ---: | --- | --- |",
    `| sustained single-vote requests/s, end to end (accepted → stored → published, backlog flat, 0 errors) | ${best ? fmtInt(best.rate) : "none of the steps"} | ≥ ${fmtInt(TARGET_SINGLE)} (5 × 1,500) | ${best && best.rate >= TARGET_SINGLE ? "met" : "missed"} |`,
    ...(best
      ? [
          `| latency at that rate, p50 / p99 | ${fmtMs(best.run.summary.latencyMs.p50)} / ${fmtMs(best.run.summary.latencyMs.p99)} ms | | |`,
          `| zero loss at that rate (\`verify\`: every 202 stored once, nothing extra, published totals = SQL) | ${best.run.verify.ok ? "passed" : "FAILED"} (${fmtInt(best.run.verify.eventIds)} votes) | pass | ${best.run.verify.ok ? "met" : "missed"} |`,
        ]
      : []),
    ...(stalled > 0
      ? [
          `| the same, setting the writer stall aside (API, NATS, Postgres, publisher keep up: p99, errors and verify pass; the writer stalled in ${stalled} of ${steps.length} steps) | ${bestButStall ? fmtInt(bestButStall.rate) : "none"} | ≥ ${fmtInt(TARGET_SINGLE)} | ${bestButStall && bestButStall.rate >= TARGET_SINGLE ? "met" : "missed"} |`,
        ]
      : []),
    ...(b
      ? [
          `| batches (1,000 votes each): votes/s end to end | ${fmtInt(batchVotesPerS)} (ingest alone ${fmtInt(b.summary.votesPerSecond)}) | ≥ ${fmtInt(DAY_VOTES / DAY_SECONDS)} | ${batchVotesPerS >= DAY_VOTES / DAY_SECONDS ? "met" : "missed"} |`,
          `| ${fmtInt(DAY_VOTES)} votes (a day of the reference design) ingested → stored → published | ${duration(tenMillionS)} ${measured ? "(measured)" : `(projected from ${fmtInt(b.summary.votesCast)} votes measured in ${duration(b.pipelineS)})`} | < 10 min | ${tenMillionS < DAY_SECONDS ? "met" : "missed"} |`,
          `| zero loss in the batch run (\`verify\`) | ${b.verify.ok ? "passed" : "FAILED"} (${fmtInt(b.verify.eventIds)} votes) | pass | ${b.verify.ok ? "met" : "missed"} |`,
        ]
      : batchError
        ? [`| batches | failed: ${batchError} | | |`]
        : []),
    "",
    `Single-vote ramp (${KIOSKS} kiosks, ${STEP_SECONDS} s per step, 64 keep-alive connections, 1 % of responses "dropped" and resent, voter ids on the check-in poll; backlog = the writer consumer's pending + unacked messages, sampled every second). A step is sustained when it has no errors, the generator stays within 3 % of the target, p99 ≤ ${fmtInt(MAX_P99_MS)} ms, the backlog does not grow (slope over the second half ≤ 2 % of the rate, or less than a second of votes at the end), the writers drain without a stall, and verify passes. A step that fails only because a writer stalled (see below) does not end the ramp:`,
    "",
    "| target req/s | achieved | p50 / p99 ms | errors | backlog max / end | backlog slope | drain after | verify | verdict |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ...steps.map(
      (s) =>
        `| ${fmtInt(s.rate)} | ${fmtInt(s.run.summary.votesPerSecond)} | ${fmtMs(s.run.summary.latencyMs.p50)} / ${fmtMs(s.run.summary.latencyMs.p99)} | ${s.run.summary.errors} | ${fmtInt(s.maxBacklog)} / ${fmtInt(s.endBacklog)} | ${fmtInt(s.slope)}/s | ${s.run.drainS.toFixed(1)} s | ${s.run.verify.ok ? "passed" : "FAILED"} | ${s.why} |`,
    ),
    "",
  );
  if (stalled > 0)
    lines.push(
      "Writer stall (a defect this benchmark found, in batch-writer/writer.ts): when a pull fails mid-way (nats.js reports `heartbeats missed` if the writer's event loop is busy for about a second, e.g. storing the previous batch), the messages that fetch had already received stay in the writer's in-hand set. Its keep-alive timer sends `working()` for them forever, so JetStream never redelivers them and they are never stored while that writer lives. Nothing is lost (they were acknowledged to the kiosks by JetStream and are redelivered once the writer restarts, which the bench does after 20 s without progress), but the backlog stops draining. Fix: on a failed fetch, nak (or forget) the messages it had received.",
      "",
    );
  const shown = best ?? bestButStall;
  if (shown)
    lines.push(
      ...resourceTable(
        shown.run.resources,
        `Resource use at ${fmtInt(shown.rate)} req/s (CPU over the step; peak RSS = VmHWM since start):`,
      ),
      "",
    );
  if (b) {
    lines.push(
      `Batch run: ${fmtInt(b.summary.votesCast)} votes from ${BATCH_KIOSKS} kiosks in batches of 1,000 (one batch in flight per kiosk), voter ids on the check-in poll. Ingest took ${duration(b.summary.castingS + b.summary.drainS)} (${fmtInt(b.summary.votesPerSecond)} votes/s, p99 ${fmtMs(b.summary.latencyMs.p99)} ms per batch); the backlog peaked at ${fmtInt(Math.max(0, ...b.samples.map((x) => x.backlog)))} messages; the writers finished ${b.drainS.toFixed(1)} s after the last batch; verify (which also waits for the publisher) took ${(b.verify.seconds.publish + b.verify.seconds.check).toFixed(1)} s more. ${fmtInt(b.summary.accepted)} votes accepted, ${fmtInt(b.summary.refused)} refused (${
        Object.entries(b.summary.refusedByCode)
          .map(([c, n]) => `${c} ${fmtInt(n)}`)
          .join(", ") || "none"
      }), ${b.summary.errors} errors.`,
      "",
      ...resourceTable(b.resources, "Resource use during the batch run:"),
      "",
    );
  }
}
if (individual.length > 0) {
  lines.push(
    `${INDIVIDUAL_HEADING}, run first in the same invocation` +
      (values["full-individual"]
        ? ":"
        : " (bench:results and bench:reports with 2 million stored votes instead of their default 10 million, to keep the whole run near half an hour; `--full-individual` runs their defaults):"),
    "",
    "| command | exit | time |",
    "| --- | ---: | ---: |",
    ...individual.map((i) => `| \`${i.command}\` | ${i.code} | ${duration(i.seconds)} |`),
    "",
    ...individual.flatMap((i) => [`### \`${i.command}\``, "", i.output || "(no output)", ""]),
  );
}
if (individual.length === 0 && !values["only-individual"]) {
  // End to end only: keep the individual benchmarks of the last full run, saying when.
  const previous = await readFile(join(REPO_ROOT, "BENCHMARKS.md"), "utf8").catch(() => "");
  const start = previous.indexOf(SECTION);
  const next = start === -1 ? -1 : previous.indexOf("\n## ", start + SECTION.length);
  const old = start === -1 ? "" : previous.slice(start, next === -1 ? undefined : next);
  const from = old.indexOf(INDIVIDUAL_HEADING);
  const when = /^Machine: .*$/m.exec(old)?.[0];
  if (from !== -1 && when) {
    const rest = old.slice(from + INDIVIDUAL_HEADING.length);
    const kept = /^ \(kept from the previous full `npm run bench`; ([^)]*)\)/.exec(rest);
    const whenText = kept?.[1] ?? when.replace(/^Machine: /, "");
    const tail = kept ? rest.slice(kept[0].length) : rest;
    lines.push(
      `${INDIVIDUAL_HEADING} (kept from the previous full \`npm run bench\`; ${whenText})${tail}`.trimEnd(),
      "",
    );
  }
}
const body = lines.join("\n");
process.stdout.write(`${SECTION}\n\n${body}\n`);
if (!values["no-write"]) {
  await writeSection(body);
  say("BENCHMARKS.md updated");
}
process.exit(0);
