import { randomUUID } from "node:crypto";
import { mkdir, readdir, rm } from "node:fs/promises";
import { loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { ensureVotesStream } from "../common/votes-stream.ts";
import { type NodeChild, startServer, stopChild } from "../harness/child-processes.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { summarizeCpuProfile } from "./bench/cpu-profile.ts";
import {
  ingestReport,
  int,
  type Kind,
  type Profile,
  type Run,
  streamMismatch,
  type Target,
} from "./bench/ingest-report.ts";
import { INGEST_USAGE, type IngestSettings, readIngestSettings } from "./bench/ingest-settings.ts";
import { failures, type LoadRequest, type LoadResult, okPerSecond, runLoad } from "./bench/load.ts";
import { findPids, watchCpu } from "./bench/proc-stats.ts";
import { benchLog as log } from "./bench/progress.ts";
import { unlinkKeysUnder } from "./bench/run-cleanup.ts";
import { BENCH_ADMIN_HEADERS, BENCH_POLL, benchRun, benchServiceEnv } from "./bench/run-names.ts";
import { readCli } from "./cli.ts";

// `npm run bench:ingest`: throughput of the real ingest API (child process) against a
// bare node:http server doing only the same awaited JetStream publish (child process),
// both loaded by autocannon from this process, alternating so that drift on a small,
// shared machine hits both alike. Then the batch endpoint in votes/s. Prints a markdown
// report on stdout (server logs and progress go to stderr).
//
// Tuned by environment variables (scripts/bench/ingest-settings.ts, `--help` lists them);
// the report is scripts/bench/ingest-report.ts. Importing this file connects nothing:
// main() runs from the entry guard at the end.

const env = process.env;

const run = benchRun("ingest");
const { names, databaseUrl, natsUrl, redisUrl } = run;
const profileDir = join(REPO_ROOT, "artifacts", "cpu-prof");

const logger = createLogger("warn", { service: "bench-ingest" });

/** A run's connections, children and settings, opened by main(). */
interface Bench {
  settings: IngestSettings;
  nc: NatsConnection;
  jsm: JetStreamManager;
  redis: RedisClient;
  children: NodeChild[];
}

// Counters of the load callbacks (autocannon calls them for every request).
let voteCounter = 0;
let notAccepted = 0;

async function openBench(settings: IngestSettings): Promise<Bench> {
  const nc = await connect({ servers: natsUrl, name: "bench-ingest" });
  const jsm = await jetstreamManager(nc);
  const redis = await connectRedis(redisUrl, logger, "bench-ingest");
  return { settings, nc, jsm, redis, children: [] };
}

interface LoadTarget {
  url: string;
  requests: LoadRequest[];
  connections: number;
}

async function prepareResources({ nc, jsm, redis }: Bench): Promise<void> {
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
  await unlinkKeysUnder(redis, names.redisKeyPrefix);
}

function childEnv(port: number): NodeJS.ProcessEnv {
  return {
    ...benchServiceEnv(run, port),
    // One kiosk token carries the whole load here: the per-kiosk limits would measure
    // themselves. Set them (e.g. very high) to measure the limiter's cost instead.
    RATE_LIMIT_KIOSK_VOTES_PER_S: env.RATE_LIMIT_KIOSK_VOTES_PER_S ?? "0",
    RATE_LIMIT_KIOSK_BATCHES_PER_S: env.RATE_LIMIT_KIOSK_BATCHES_PER_S ?? "0",
  };
}

const API = "ingest-api/main.ts";
const REFERENCE = "scripts/bench/reference-server.ts";

/** The API or the reference server (`script`), a child of the run; `nodeArgs`: --cpu-prof. */
async function startChild(b: Bench, name: string, script: string, nodeArgs: string[] = []) {
  const server = await startServer(name, [...nodeArgs, script], childEnv);
  b.children.push(server.child);
  return server;
}

/** The real admin API: a poll with a few options and a kiosk, whose token we return. */
async function createPollAndKiosk(apiUrl: string): Promise<string> {
  const poll = await fetch(`${apiUrl}/v1/polls`, {
    method: "POST",
    headers: BENCH_ADMIN_HEADERS,
    body: JSON.stringify({
      id: BENCH_POLL.id,
      title: "Benchmark poll",
      options: BENCH_POLL.optionIds.map((id) => ({ id, label: id })),
    }),
  });
  if (poll.status !== 201) throw new Error(`create poll: ${poll.status} ${await poll.text()}`);
  const kiosk = await fetch(`${apiUrl}/v1/kiosks`, {
    method: "POST",
    headers: BENCH_ADMIN_HEADERS,
    body: JSON.stringify({ id: "bench-kiosk", name: "Benchmark kiosk" }),
  });
  if (kiosk.status !== 201) throw new Error(`create kiosk: ${kiosk.status} ${await kiosk.text()}`);
  const { token } = (await kiosk.json()) as { token?: unknown };
  if (typeof token !== "string") throw new Error("create kiosk: no token in the answer");
  return token;
}

const nextOption = () => BENCH_POLL.optionIds[voteCounter++ % BENCH_POLL.optionIds.length]!;
const voteJson = () =>
  `{"eventId":"${randomUUID()}","pollId":"${BENCH_POLL.id}","optionId":"${nextOption()}"}`;

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

function batchRequests(batchSize: number, auth: Record<string, string>): LoadRequest[] {
  const prefix = `{"accepted":${batchSize},`;
  return [
    {
      method: "POST",
      headers: { "content-type": "application/json", ...auth },
      setupRequest: (request) => {
        const votes = new Array<string>(batchSize);
        for (let i = 0; i < votes.length; i++) votes[i] = voteJson();
        return { ...request, body: `{"votes":[${votes.join(",")}]}` };
      },
      onResponse: (status, body) => {
        if (status < 300 && !body.startsWith(prefix)) notAccepted++;
      },
    },
  ];
}

async function warmup(warmupS: number, target: LoadTarget): Promise<void> {
  if (warmupS === 0) return;
  const result = await load(target, warmupS);
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
async function measure(b: Bench, m: Measure, discarded: Run[]): Promise<Run> {
  const { settings } = b;
  for (let attempt = 0; ; attempt++) {
    const run = await measureOnce(b, m);
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

/**
 * The stream's message count once it has held still for half a second: the requests a
 * load left in flight when it stopped have been published by then (or never will be).
 */
async function settledMessages(jsm: JetStreamManager): Promise<number> {
  let last = -1;
  for (let i = 0; i < 40; i++) {
    const messages = (await jsm.streams.info(names.stream)).state.messages;
    if (messages === last) return messages;
    last = messages;
    await sleep(500);
  }
  return last;
}

async function measureOnce({ jsm }: Bench, m: Measure): Promise<Run> {
  // Each run starts from an empty stream, so runs are alike and the count below is exact:
  // the previous load's last requests land before the purge, this run's before the count.
  await settledMessages(jsm);
  await jsm.streams.purge(names.stream);
  notAccepted = 0;
  const cpu = watchCpu(m.pids);
  const result = await load(m.load, m.durationS, m.overallRate);
  const usage = cpu.stop();
  const streamMessages = await settledMessages(jsm);
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
    streamMessages,
    connections: m.load.connections,
    cpu: usage.byName,
    machineBusyPct: usage.machineBusyPct,
    restCpuPct: usage.machineBusyPct - Object.values(usage.byName).reduce((a, b) => a + b, 0),
    disturbed: false,
  };
}

let cleaning: Promise<void> | undefined;
/** Idempotent: a signal during the final cleanup must not run it twice. */
function cleanup(b: Bench): Promise<void> {
  cleaning ??= cleanupOnce(b);
  return cleaning;
}

async function cleanupOnce({ children, jsm, redis, nc }: Bench): Promise<void> {
  await Promise.allSettled(children.map((c) => stopChild(c)));
  await jsm.streams.delete(names.stream).catch(() => false);
  await unlinkKeysUnder(redis, names.redisKeyPrefix).catch(() => {});
  await redis.close().catch(() => {});
  await nc.close().catch(() => {});
  // The database holds one poll and one kiosk; recreating it takes a second, so it is
  // dropped rather than left behind.
  await dropDatabase(databaseUrl).catch((err: unknown) => log(`drop database: ${String(err)}`));
}

/** Every run, then the report on stdout; false when JetStream's count did not match a run's. */
async function measureAll(b: Bench, loadBefore: readonly number[]): Promise<boolean> {
  const { settings } = b;
  if ((loadBefore[0] ?? 0) > 0.5)
    log(
      `warning: load average ${loadBefore[0]?.toFixed(2)} before the run; results may be disturbed`,
    );
  await prepareResources(b);
  const natsPid = findPids("nats-server", String(new URL(natsUrl).port || 4222))[0];
  const redisPid = findPids("redis-server", String(new URL(redisUrl).port || 6379))[0];
  const watched = (serverPid: number): Record<string, number | "self"> => ({
    server: serverPid,
    ...(natsPid === undefined ? {} : { "nats-server": natsPid }),
    ...(redisPid === undefined ? {} : { "redis-server": redisPid }),
    "autocannon (bench)": "self",
  });

  const api = await startChild(b, "api", API);
  const kioskToken = await createPollAndKiosk(api.url);
  const ref = await startChild(b, "reference", REFERENCE);
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
  for (const s of servers) await warmup(settings.warmupS, s.load);

  const runs: Run[] = [];
  const discarded: Run[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const s of servers) {
      const run = await measure(
        b,
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
        b,
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
    requests: batchRequests(settings.batchSize, { authorization: `Bearer ${kioskToken}` }),
    connections: settings.batchConnections,
  };
  log(`batch: warming up, then ${settings.batchDurationS} s`);
  await warmup(settings.warmupS, batch);
  const batchRun = await measure(
    b,
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
    await stopChild(api.child);
    await stopChild(ref.child);
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
          ? await startChild(b, "ref-prof", REFERENCE, profArgs)
          : await startChild(b, "api-prof", API, profArgs);
      const load =
        target === "batch"
          ? { ...batch, url: `${server.url}/v1/votes/batch` }
          : single(server.url, target === "api");
      await warmup(settings.warmupS, load);
      const run = await measureOnce(b, {
        target,
        kind: "profiled",
        round: 0,
        load,
        durationS: target === "batch" ? settings.batchDurationS : settings.durationS,
        votesPerRequest: target === "batch" ? settings.batchSize : 1,
        pids: watched(server.child.pid),
      });
      runs.push(run);
      await stopChild(server.child);
      const file = (await readdir(dir)).find((f) => f.endsWith(".cpuprofile"));
      if (file === undefined) throw new Error(`no CPU profile written for ${target}`);
      profiles.push({
        target,
        okPerSecond: run.okPerSecond,
        summary: await summarizeCpuProfile(join(dir, file)),
      });
    }
  }

  process.stdout.write(ingestReport({ settings, loadBefore, env }, runs, discarded, profiles));
  return [...runs, ...discarded].every((r) => streamMismatch(r) === undefined);
}

async function main(): Promise<void> {
  readCli({ usage: INGEST_USAGE, options: {} }, () => undefined);
  const settings = configOrExit(() => readIngestSettings(env));
  const b = await openBench(settings);
  // Ctrl-C or a supervisor's SIGTERM: still stop the children and remove what we created.
  for (const signal of ["SIGINT", "SIGTERM"] as const)
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      cleanup(b).finally(() => process.exit(130));
    });
  // Reported with the results: a loaded machine (other test runs) distorts every number.
  const loadBefore = loadavg();
  try {
    // A stream that does not hold one message per accepted request is a failed run, not
    // a slow one: exit 1 so that `npm run bench` reports it.
    if (!(await measureAll(b, loadBefore))) process.exitCode = 1;
  } finally {
    await cleanup(b);
  }
}

if (import.meta.main) await main();
