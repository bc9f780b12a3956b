import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";
import { readInt } from "../common/env.ts";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { ensureVotesStream } from "../common/votes-stream.ts";
import { type ProfileSummary, summarizeCpuProfile } from "./bench/cpu-profile.ts";
import {
  failures,
  type LoadRequest,
  type LoadResult,
  medianRun,
  okPerSecond,
  runLoad,
} from "./bench/load.ts";
import {
  type Child,
  findPids,
  freePort,
  startNode,
  waitUntilReady,
  watchCpu,
} from "./bench/processes.ts";

// `npm run bench:ingest`: throughput of the real ingest API (child process) against a
// bare node:http server doing only the same awaited JetStream publish (child process),
// both loaded by autocannon from this process, alternating so that drift on a small,
// shared machine hits both alike. Then the batch endpoint in votes/s. Prints a markdown
// report on stdout (server logs and progress go to stderr).
//
// Tunables (env): BENCH_CONNECTIONS (50), BENCH_DURATION s (12), BENCH_WARMUP s (3),
// BENCH_ROUNDS (3), BENCH_BATCH_CONNECTIONS (4), BENCH_BATCH_DURATION s (10),
// BENCH_CPU_PROF=1 (extra profiled run of each server, top self time printed),
// BENCH_FIXED_RATE req/s (2000; 0 = skip the CPU-cost runs), BENCH_MAX_REST_CPU %
// (30) and BENCH_RETRIES (3): a run during which processes other than the server, NATS,
// Redis and the generator used more CPU than that (someone else's tests) is discarded and
// repeated, and the report says so.
// BENCH_PG_URL (postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL.

const env = process.env;
const settings = {
  connections: readInt(env, "BENCH_CONNECTIONS", 50, { min: 1 }),
  durationS: readInt(env, "BENCH_DURATION", 12, { min: 1 }),
  warmupS: readInt(env, "BENCH_WARMUP", 3, { min: 0 }),
  rounds: readInt(env, "BENCH_ROUNDS", 3, { min: 1 }),
  batchConnections: readInt(env, "BENCH_BATCH_CONNECTIONS", 4, { min: 1 }),
  batchDurationS: readInt(env, "BENCH_BATCH_DURATION", 10, { min: 1 }),
  batchSize: 1_000,
  cpuProfile: env.BENCH_CPU_PROF === "1",
  fixedRate: readInt(env, "BENCH_FIXED_RATE", 2_000, { min: 0 }),
  fixedRateDurationS: 8,
  maxRestCpuPct: readInt(env, "BENCH_MAX_REST_CPU", 30, { min: 0 }),
  retries: readInt(env, "BENCH_RETRIES", 3, { min: 0 }),
};

// Names of the bench's own resources, distinct from the default ones (VOTES, votes.*,
// tallyflow:, database tallyflow) and unique per run: `npm run bench` may start this
// script while another copy runs, and fixed names would let one drop the other's
// database and stream mid-run. Everything is removed at the end (also on Ctrl-C).
const runId = randomBytes(3).toString("hex");
const names = {
  database: `tallyflow_bench_ingest_${runId}`,
  stream: `VOTES_BENCH_${runId}`,
  subjectPrefix: `benchvotes_${runId}`,
  redisKeyPrefix: `tallyflow-bench-ingest:${runId}:`,
};
const ADMIN_TOKEN = "bench-admin-token-0123456789";
const POLL_ID = "bench";
const OPTION_IDS = ["red", "green", "blue", "yellow"];
const databaseUrl = `${env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432"}/${names.database}`;
const natsUrl = env.NATS_URL ?? "nats://127.0.0.1:4222";
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379";
const repoRoot = join(import.meta.dirname, "..");
const profileDir = join(repoRoot, "artifacts", "cpu-prof");

type Target = "reference" | "api" | "batch";
type Kind = "max" | "fixed-rate" | "profiled";

interface Run {
  target: Target;
  kind: Kind;
  round: number;
  okPerSecond: number;
  /** votes/s: equals okPerSecond for single votes, × batch size for batches. */
  votesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  statusCodes: string;
  /** 2xx answers whose body did not say every vote was accepted. */
  notAccepted: number;
  /** Messages JetStream holds after the run (stream purged before it). */
  streamMessages: number;
  cpu: Record<string, number>;
  machineBusyPct: number;
  /** CPU used by everything not watched (kernel threads, other processes), % of one core. */
  restCpuPct: number;
  /** Discarded because something else loaded the machine; repeated. */
  disturbed: boolean;
}

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const logger = createLogger("warn", { service: "bench-ingest" });

// Module state, declared before anything runs (the load callbacks use it).
const children: Child[] = [];
const nc = await connect({ servers: natsUrl, name: "bench-ingest" });
const jsm = await jetstreamManager(nc);
const redis = createClient({ url: redisUrl });
await redis.connect();
let voteCounter = 0;
let notAccepted = 0;
// Reported with the results: a loaded machine (other test runs) distorts every number.
const loadBefore = loadavg();

interface LoadTarget {
  url: string;
  requests: LoadRequest[];
  connections: number;
}

async function prepareResources(): Promise<void> {
  await ensureDatabase(databaseUrl);
  const pool = createPool(databaseUrl, logger, { max: 1, applicationName: "bench-ingest" });
  try {
    await migrate(pool, logger);
  } finally {
    await pool.end();
  }
  await jsm.streams.delete(names.stream).catch(() => false);
  // Created here (the API would do it too) so that the reference server can start first.
  await ensureVotesStream(nc, {
    streamName: names.stream,
    subjectPrefix: names.subjectPrefix,
    duplicateWindowMs: 600_000,
    maxBytes: 0,
    replicas: 1,
  });
  await deleteRedisKeys();
}

function childEnv(port: number): NodeJS.ProcessEnv {
  return {
    ...env,
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    REDIS_URL: redisUrl,
    STREAM_NAME: names.stream,
    SUBJECT_PREFIX: names.subjectPrefix,
    REDIS_KEY_PREFIX: names.redisKeyPrefix,
    ADMIN_TOKEN,
    LOG_LEVEL: "warn",
    // One kiosk token carries the whole load here: the per-kiosk limits would measure
    // themselves. Set them (e.g. very high) to measure the limiter's cost instead.
    RATE_LIMIT_KIOSK_VOTES_PER_S: env.RATE_LIMIT_KIOSK_VOTES_PER_S ?? "0",
    RATE_LIMIT_KIOSK_BATCHES_PER_S: env.RATE_LIMIT_KIOSK_BATCHES_PER_S ?? "0",
  };
}

async function startApi(name: string, nodeArgs: string[]) {
  const port = await freePort();
  const child = startNode(
    name,
    [...nodeArgs, join(repoRoot, "ingest-api", "main.ts")],
    childEnv(port),
  );
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, `${url}/readyz`);
  return { child, url };
}

async function startReference(name: string, nodeArgs: string[]) {
  const port = await freePort();
  const script = join(repoRoot, "scripts", "bench", "reference-server.ts");
  const child = startNode(name, [...nodeArgs, script], childEnv(port));
  children.push(child);
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, `${url}/readyz`);
  return { child, url };
}

/** The real admin API: a poll with a few options and a kiosk, whose token we return. */
async function createPollAndKiosk(apiUrl: string): Promise<string> {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  const poll = await fetch(`${apiUrl}/v1/polls`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({
      id: POLL_ID,
      title: "Benchmark poll",
      options: OPTION_IDS.map((id) => ({ id, label: id })),
    }),
  });
  if (poll.status !== 201) throw new Error(`create poll: ${poll.status} ${await poll.text()}`);
  const kiosk = await fetch(`${apiUrl}/v1/kiosks`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ id: "bench-kiosk", name: "Benchmark kiosk" }),
  });
  if (kiosk.status !== 201) throw new Error(`create kiosk: ${kiosk.status} ${await kiosk.text()}`);
  const { token } = (await kiosk.json()) as { token?: unknown };
  if (typeof token !== "string") throw new Error("create kiosk: no token in the answer");
  return token;
}

const nextOption = () => OPTION_IDS[voteCounter++ % OPTION_IDS.length]!;
const voteJson = () =>
  `{"eventId":"${randomUUID()}","pollId":"${POLL_ID}","optionId":"${nextOption()}"}`;

/** One vote per request with a fresh eventId, so that JetStream never sees a duplicate. */
function singleVoteRequests(auth: Record<string, string>): LoadRequest[] {
  return [
    {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      setupRequest: (request) => ({ ...request, body: voteJson() }),
      // Both servers answer {"eventId":…,"status":"accepted"}; anything else is a failure.
      onResponse: (status, body) => {
        if (status < 300 && !body.endsWith('"status":"accepted"}')) notAccepted++;
      },
    },
  ];
}

function batchRequests(auth: Record<string, string>): LoadRequest[] {
  const prefix = `{"accepted":${settings.batchSize},`;
  return [
    {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      setupRequest: (request) => {
        const votes = new Array<string>(settings.batchSize);
        for (let i = 0; i < votes.length; i++) votes[i] = voteJson();
        return { ...request, body: `{"votes":[${votes.join(",")}]}` };
      },
      onResponse: (status, body) => {
        if (status < 300 && !body.startsWith(prefix)) notAccepted++;
      },
    },
  ];
}

async function warmup(target: LoadTarget): Promise<void> {
  if (settings.warmupS === 0) return;
  const result = await load(target, settings.warmupS);
  if (failures(result) > 0) log(`warmup of ${target.url}: ${failures(result)} failures`);
}

function load(target: LoadTarget, durationS: number, overallRate?: number): Promise<LoadResult> {
  return runLoad({
    url: target.url,
    connections: target.connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    requests: target.requests,
    ...(overallRate === undefined ? {} : { overallRate }),
  });
}

interface Measure {
  target: Target;
  kind: Kind;
  round: number;
  load: LoadTarget;
  durationS: number;
  votesPerRequest: number;
  pids: Record<string, number | "self">;
  overallRate?: number;
}

/** Runs once, or again (up to `settings.retries` times) while the run was disturbed. */
async function measure(m: Measure, discarded: Run[]): Promise<Run> {
  for (let attempt = 0; ; attempt++) {
    const run = await measureOnce(m);
    const watchedRest = Object.keys(m.pids).length > 0;
    if (!watchedRest || run.restCpuPct <= settings.maxRestCpuPct || attempt >= settings.retries)
      return run;
    log(
      `${m.target} round ${m.round}: ${Math.round(run.restCpuPct)} % CPU used by other ` +
        "processes; discarding and repeating",
    );
    discarded.push({ ...run, disturbed: true });
    await sleep(5_000);
  }
}

async function measureOnce(m: Measure): Promise<Run> {
  // Each run starts from an empty stream, so runs are alike and the count below is exact.
  await jsm.streams.purge(names.stream);
  notAccepted = 0;
  const cpu = watchCpu(m.pids);
  const result = await load(m.load, m.durationS, m.overallRate);
  const usage = cpu.stop();
  const info = await jsm.streams.info(names.stream);
  const perSecond = okPerSecond(result);
  return {
    target: m.target,
    kind: m.kind,
    round: m.round,
    okPerSecond: perSecond,
    votesPerSecond: perSecond * m.votesPerRequest,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    ok: result["2xx"],
    failed: failures(result),
    statusCodes: Object.entries(result.statusCodeStats)
      .map(([code, { count }]) => `${code}×${count}`)
      .join(" "),
    notAccepted,
    streamMessages: info.state.messages,
    cpu: usage.byName,
    machineBusyPct: usage.machineBusyPct,
    restCpuPct: usage.machineBusyPct - Object.values(usage.byName).reduce((a, b) => a + b, 0),
    disturbed: false,
  };
}

async function deleteRedisKeys(): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: `${names.redisKeyPrefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
}

let cleaning: Promise<void> | undefined;
/** Idempotent: a signal during the final cleanup must not run it twice. */
function cleanup(): Promise<void> {
  cleaning ??= cleanupOnce();
  return cleaning;
}

async function cleanupOnce(): Promise<void> {
  await Promise.allSettled(children.map((c) => c.stop()));
  await jsm.streams.delete(names.stream).catch(() => false);
  await deleteRedisKeys().catch(() => {});
  await redis.close().catch(() => {});
  await nc.close().catch(() => {});
  // The database holds one poll and one kiosk; recreating it takes a second, so it is
  // dropped rather than left behind.
  await dropDatabase(databaseUrl).catch((err: unknown) => log(`drop database: ${String(err)}`));
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(1) : int(n));
const pct = (n: number | undefined) => (n === undefined ? "" : `${int(n)} %`);

interface Profile {
  target: Target;
  okPerSecond: number;
  summary: ProfileSummary;
}

/** The BENCH_* settings given, so that the printed command reproduces the run. */
function benchEnv(): string {
  return Object.entries(env)
    .filter(([k, v]) => k.startsWith("BENCH_") && v !== undefined)
    .map(([k, v]) => `${k}=${v} `)
    .join("");
}

function report(runs: Run[], discarded: Run[], profiles: Profile[]): string {
  const of = (t: Target, kind: Kind = "max") =>
    runs.filter((r) => r.target === t && r.kind === kind);
  const ref = medianRun(of("reference"));
  const api = medianRun(of("api"));
  const batch = medianRun(of("batch"));
  const ratio = api.okPerSecond / ref.okPerSecond;
  const failed = runs.reduce((n, r) => n + r.failed + r.notAccepted, 0);
  const cores = availableParallelism();
  const all = (t: Target) =>
    of(t)
      .map((r) => int(r.okPerSecond))
      .join(" / ");
  const verdict = (ok: boolean) => (ok ? "met" : "**missed**");
  const disturbed = (r: Run) => r.kind !== "profiled" && r.restCpuPct > settings.maxRestCpuPct;
  const stillDisturbed = runs.filter(disturbed);
  const lines: string[] = [
    "| | |",
    "|---|---|",
    `| Machine | ${cores} cores, ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${int(totalmem() / 2 ** 30)} GiB RAM; NATS, Redis, Postgres on the same machine |`,
    `| Node | ${process.version} |`,
    `| Date | ${new Date().toISOString()} |`,
    `| Load average before the run | ${loadBefore.map((l) => l.toFixed(2)).join(", ")} (1, 5, 15 min) |`,
    `| Command | \`${benchEnv()}npm run bench:ingest\` |`,
    `| Load | autocannon in the bench process; ${settings.connections} connections, pipelining 1, one vote per request (fresh eventId); ${settings.rounds} × ${settings.durationS} s per server, alternating reference/API, after ${settings.warmupS} s warmup; batch: ${settings.batchConnections} connections × ${settings.batchSize} votes, ${settings.batchDurationS} s |`,
    "",
    "| Metric | Result | Target |",
    "|---|---:|---|",
    `| Reference (bare \`node:http\` + JetStream publish) req/s | ${int(ref.okPerSecond)} (median; runs ${all("reference")}) | |`,
    `| Reference p99 latency | ${ms(ref.p99Ms)} ms (p50 ${ms(ref.p50Ms)} ms) | |`,
    `| API \`POST /v1/votes\` req/s | ${int(api.okPerSecond)} (median; runs ${all("api")}) | |`,
    `| API p99 latency | ${ms(api.p99Ms)} ms (p50 ${ms(api.p50Ms)} ms) | |`,
    `| Ratio API / reference | ${ratio.toFixed(2)} | ≥ 0.9: ${verdict(ratio >= 0.9)} |`,
    `| Batch \`POST /v1/votes/batch\` votes/s | ${int(batch.votesPerSecond)} (${batch.okPerSecond.toFixed(1)} req/s, p99 ${ms(batch.p99Ms)} ms) | ≥ 150,000: ${verdict(batch.votesPerSecond >= 150_000)} |`,
    `| Non-2xx, errors, timeouts, bodies not "accepted" | ${failed === 0 ? "0 (every response was 2xx and accepted)" : `**${int(failed)}: this run had errors, see the runs table**`} | 0 |`,
    `| Runs discarded (other processes used > ${settings.maxRestCpuPct} % CPU) and repeated | ${discarded.length}${stillDisturbed.length > 0 ? `; **${stillDisturbed.length} kept although still disturbed after ${settings.retries} retries: these numbers are unreliable**` : ""} | 0 |`,
  ];

  const fixed = (["reference", "api"] as const).flatMap((t) => of(t, "fixed-rate"));
  if (fixed.length > 0) {
    const perReq = (r: Run, name: string) =>
      r.cpu[name] === undefined ? "" : `${int((r.cpu[name] * 10_000) / r.okPerSecond)} µs`;
    const perVote = (batch.cpu.server ?? 0) * (10_000 / batch.votesPerSecond);
    lines.push(
      "",
      `CPU cost per request at a fixed ${int(settings.fixedRate)} req/s (below saturation, so`,
      "contention does not distort it; CPU time ÷ requests):",
      "",
      "| Server | 2xx/s | p99 ms | server CPU / req | nats-server CPU / req | generator CPU / req |",
      "|---|---:|---:|---:|---:|---:|",
      ...fixed.map(
        (r) =>
          `| ${r.target} | ${int(r.okPerSecond)} | ${ms(r.p99Ms)} | ${perReq(r, "server")} | ${perReq(r, "nats-server")} | ${perReq(r, "autocannon (bench)")} |`,
      ),
      `| API batch (saturated run above) | ${int(batch.votesPerSecond)} votes/s | ${ms(batch.p99Ms)} | ${perVote.toFixed(1)} µs per vote | | |`,
    );
  }

  lines.push(
    "",
    "Every run, with what JetStream holds afterwards (the stream is purged before each run; a",
    "few more messages than 2xx answers are requests still in flight when autocannon stopped)",
    `and CPU use in % of one core (${cores} cores = ${cores * 100} %; "rest" is the kernel's own`,
    "threads and any other process):",
    "",
  );
  const table = [...runs, ...discarded];
  const cpuNames = [...new Set(table.flatMap((r) => Object.keys(r.cpu)))];
  lines.push(
    `| Run | 2xx/s | p99 ms | 2xx | failed | status codes | messages in stream | ${cpuNames.map((n) => `CPU ${n}`).join(" | ")} | CPU rest | CPU machine |`,
    `|---|---:|---:|---:|---:|---|---:|${cpuNames.map(() => "---:|").join("")}---:|---:|`,
  );
  for (const r of table) {
    const name =
      r.kind === "max"
        ? `${r.target} #${r.round}`
        : r.kind === "fixed-rate"
          ? `${r.target} @ ${int(settings.fixedRate)} req/s`
          : `${r.target} (profiled)`;
    const msgs =
      r.target === "batch"
        ? `${int(r.streamMessages)} (× ${settings.batchSize} votes)`
        : int(r.streamMessages);
    lines.push(
      `| ${name}${r.disturbed ? " (discarded: disturbed)" : disturbed(r) ? " (**disturbed, kept**)" : ""} | ${int(r.okPerSecond)} | ${ms(r.p99Ms)} | ${int(r.ok)} | ${r.failed + r.notAccepted} | ${r.statusCodes} | ${msgs} | ${cpuNames.map((n) => pct(r.cpu[n])).join(" | ")} | ${pct(r.restCpuPct)} | ${pct(r.machineBusyPct)} |`,
    );
  }

  for (const p of profiles) {
    lines.push(
      "",
      `CPU profile, ${p.target} workload (\`--cpu-prof\` on a separate server child, file in artifacts/cpu-prof/${p.target}/; ${int(p.okPerSecond)} req/s under the profiler; busy ${int(p.summary.busyMs)} ms of ${int(p.summary.wallMs)} ms wall):`,
      "",
      "| Self time by package | % of busy |",
      "|---|---:|",
      ...p.summary.byPackage.slice(0, 15).map((x) => `| ${x.name} | ${x.pct.toFixed(1)} |`),
      "",
      "| Top self-time functions | % of busy |",
      "|---|---:|",
      ...p.summary.topFunctions.map((x) => `| \`${x.name}\` | ${x.pct.toFixed(1)} |`),
    );
  }
  return `${lines.join("\n")}\n`;
}

async function main(): Promise<void> {
  if ((loadBefore[0] ?? 0) > 0.5)
    log(
      `warning: load average ${loadBefore[0]?.toFixed(2)} before the run; results may be disturbed`,
    );
  await prepareResources();
  const natsPid = findPids("nats-server", String(new URL(natsUrl).port || 4222))[0];
  const redisPid = findPids("redis-server", String(new URL(redisUrl).port || 6379))[0];
  const watched = (serverPid: number): Record<string, number | "self"> => ({
    server: serverPid,
    ...(natsPid === undefined ? {} : { "nats-server": natsPid }),
    ...(redisPid === undefined ? {} : { "redis-server": redisPid }),
    "autocannon (bench)": "self",
  });

  const api = await startApi("api", []);
  const kioskToken = await createPollAndKiosk(api.url);
  const ref = await startReference("reference", []);
  const single = (url: string, auth: boolean): LoadTarget => ({
    url: `${url}/v1/votes`,
    requests: singleVoteRequests(auth ? { authorization: `Bearer ${kioskToken}` } : {}),
    connections: settings.connections,
  });
  const servers = [
    { target: "reference", server: ref, load: single(ref.url, false) },
    { target: "api", server: api, load: single(api.url, true) },
  ] as const;

  log(`warming up (${settings.warmupS} s each)`);
  for (const s of servers) await warmup(s.load);

  const runs: Run[] = [];
  const discarded: Run[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const s of servers) {
      const run = await measure(
        {
          target: s.target,
          kind: "max",
          round,
          load: s.load,
          durationS: settings.durationS,
          votesPerRequest: 1,
          pids: watched(s.server.child.pid),
        },
        discarded,
      );
      runs.push(run);
      log(
        `${s.target} round ${round}: ${int(run.okPerSecond)} req/s, p99 ${run.p99Ms} ms, ` +
          `failed ${run.failed}, server CPU ${int(run.cpu.server ?? 0)} %`,
      );
    }
  }

  if (settings.fixedRate > 0) {
    for (const s of servers) {
      const run = await measure(
        {
          target: s.target,
          kind: "fixed-rate",
          round: 0,
          load: s.load,
          durationS: settings.fixedRateDurationS,
          votesPerRequest: 1,
          pids: watched(s.server.child.pid),
          overallRate: settings.fixedRate,
        },
        discarded,
      );
      runs.push(run);
      log(`${s.target} at ${settings.fixedRate} req/s: server CPU ${int(run.cpu.server ?? 0)} %`);
    }
  }

  const batch: LoadTarget = {
    url: `${api.url}/v1/votes/batch`,
    requests: batchRequests({ authorization: `Bearer ${kioskToken}` }),
    connections: settings.batchConnections,
  };
  log(`batch: warming up, then ${settings.batchDurationS} s`);
  await warmup(batch);
  const batchRun = await measure(
    {
      target: "batch",
      kind: "max",
      round: 1,
      load: batch,
      durationS: settings.batchDurationS,
      votesPerRequest: settings.batchSize,
      pids: watched(api.child.pid),
    },
    discarded,
  );
  runs.push(batchRun);
  log(`batch: ${int(batchRun.votesPerSecond)} votes/s, failed ${batchRun.failed}`);

  const profiles: Profile[] = [];
  if (settings.cpuProfile) {
    await api.child.stop();
    await ref.child.stop();
    // One profiled server per workload; each profile covers the child's whole life
    // (start-up, warmup and the run), which the run dominates.
    for (const target of ["reference", "api", "batch"] as const) {
      // Kept after the run (artifacts/ is git-ignored) for a closer look in DevTools.
      const dir = join(profileDir, target);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      const profArgs = ["--cpu-prof", `--cpu-prof-dir=${dir}`];
      const server =
        target === "reference"
          ? await startReference("ref-prof", profArgs)
          : await startApi("api-prof", profArgs);
      const load =
        target === "batch"
          ? { ...batch, url: `${server.url}/v1/votes/batch` }
          : single(server.url, target === "api");
      await warmup(load);
      const run = await measureOnce({
        target,
        kind: "profiled",
        round: 0,
        load,
        durationS: target === "batch" ? settings.batchDurationS : settings.durationS,
        votesPerRequest: target === "batch" ? settings.batchSize : 1,
        pids: watched(server.child.pid),
      });
      runs.push(run);
      await server.child.stop();
      const file = (await readdir(dir)).find((f) => f.endsWith(".cpuprofile"));
      if (file === undefined) throw new Error(`no CPU profile written for ${target}`);
      profiles.push({
        target,
        okPerSecond: run.okPerSecond,
        summary: await summarizeCpuProfile(join(dir, file)),
      });
    }
  }

  process.stdout.write(report(runs, discarded, profiles));
}

// Ctrl-C or a supervisor's SIGTERM: still stop the children and remove what we created.
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });

try {
  await main();
} finally {
  await cleanup();
}
