import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";
import { DEFAULT_RESULTS_INTERVAL_MS } from "../common/config.ts";
import { type Env, readEnum, readInt } from "../common/env.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { resultsChannel, resultsKeys } from "../common/results-contract.ts";
import { BUCKET_MINUTES, BUCKET_MS } from "../common/rollup-buckets.ts";
import { type NodeChild, startServer, stopChild } from "../harness/child-processes.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { pollsInserted } from "../ingest-api/registry/registry-changes.ts";
import { benchCommand } from "./bench/command-line.ts";
import { type LoadResult, median, okPerSecond, runLoad } from "./bench/load.ts";
import { pacedVotesInChild } from "./bench/paced-votes.ts";
import { processCpuSeconds } from "./bench/proc-stats.ts";
import { unlinkKeysUnder } from "./bench/run-cleanup.ts";
import { BENCH_ADMIN_HEADERS, BENCH_POLL, benchRun, benchServiceEnv } from "./bench/run-names.ts";
import { StreamHolder } from "./bench/stream-holder.ts";
import {
  ratioText,
  ratioVerdict,
  type Verdict,
  valueVerdict,
  verdictLines,
  verdictText,
} from "./bench/verdict.ts";
import { readCli } from "./cli.ts";

// `npm run bench:reads`: the read side at the seeds' scale, each number beside its
// reference or target measured in the same run:
// 1. GET /v1/polls/:id/results through the real API (child process) against a bare
//    node:http server answering the same bytes from Redis per request, and one answering
//    them from memory; same autocannon load, alternating rounds. Target: API ≥ 0.8× the
//    Redis reference.
// 2. POST /v1/polls latency with 1 poll and with BENCH_REGISTRY_POLLS (10,000) in the
//    registry (the cache applies a change per row, so it should not grow with the count).
// 3. BENCH_SSE_CLIENTS (10,000) event streams held by one API process: its RSS per client,
//    and single-vote p99 at BENCH_VOTE_RATE (1,000) votes/s meanwhile, with a new version
//    announced to every stream at each cadence of BENCH_ANNOUNCE_MS (5000 = the
//    publisher's default interval, and 1000 as a stress rate). Target: p99 < 25 ms.
// Prints a markdown report on stdout (progress on stderr), with the load average.
//
// Tunables (env): BENCH_CONNECTIONS (50), BENCH_DURATION s (8), BENCH_ROUNDS (3),
// BENCH_REGISTRY_POLLS (10000), BENCH_REGISTRY_WRITES (100), BENCH_SSE_CLIENTS (10000),
// BENCH_VOTE_RATE (1000), BENCH_VOTE_DURATION s (30), BENCH_CPU_RATE req/s (2000: the
// fixed-rate runs whose server CPU per request is less moved by other load on the box),
// BENCH_ANNOUNCE_MS (5000,1000), BENCH_PARTS (reads,registry,streams: run only some);
// BENCH_PG_URL, NATS_URL, REDIS_URL.

const USAGE = `usage: npm run bench:reads   (tuned by environment variables)
  BENCH_CONNECTIONS (50), BENCH_DURATION s (8), BENCH_ROUNDS (3), BENCH_REGISTRY_POLLS (10000),
  BENCH_REGISTRY_WRITES (100), BENCH_SSE_CLIENTS (10000), BENCH_VOTE_RATE (1000),
  BENCH_VOTE_DURATION s (30), BENCH_CPU_RATE req/s (2000), BENCH_ANNOUNCE_MS (5000,1000),
  BENCH_PARTS (reads,registry,streams); BENCH_PG_URL, NATS_URL, REDIS_URL`;
readCli({ usage: USAGE, options: {} }, () => undefined);
const env = process.env;
const PARTS = ["reads", "registry", "streams"] as const;
/**
 * A comma-separated variable, each item read by readInt or readEnum under the variable's
 * name, so a bad item fails the way a bad single value does.
 */
function readList<T>(name: string, fallback: string, item: (env: Env) => T): T[] {
  return (env[name]?.trim() || fallback)
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => item({ [name]: s }));
}
const settings = configOrExit(() => ({
  connections: readInt(env, "BENCH_CONNECTIONS", 50, { min: 1 }),
  durationS: readInt(env, "BENCH_DURATION", 8, { min: 1 }),
  rounds: readInt(env, "BENCH_ROUNDS", 3, { min: 1 }),
  registryPolls: readInt(env, "BENCH_REGISTRY_POLLS", 10_000, { min: 1 }),
  registryWrites: readInt(env, "BENCH_REGISTRY_WRITES", 100, { min: 1 }),
  sseClients: readInt(env, "BENCH_SSE_CLIENTS", 10_000, { min: 0, max: 18_000 }),
  voteRate: readInt(env, "BENCH_VOTE_RATE", 1_000, { min: 1 }),
  voteDurationS: readInt(env, "BENCH_VOTE_DURATION", 30, { min: 1 }),
  cpuRate: readInt(env, "BENCH_CPU_RATE", 2_000, { min: 1 }),
  cpuDurationS: 5,
  cpuProfile: env.BENCH_CPU_PROF === "1",
  announceMs: readList("BENCH_ANNOUNCE_MS", `${DEFAULT_RESULTS_INTERVAL_MS},1000`, (e) =>
    readInt(e, "BENCH_ANNOUNCE_MS", DEFAULT_RESULTS_INTERVAL_MS, { min: 100 }),
  ),
  parts: new Set(
    readList("BENCH_PARTS", PARTS.join(","), (e) => readEnum(e, "BENCH_PARTS", PARTS, "reads")),
  ),
}));

const run = benchRun("reads");
const { names, databaseUrl, natsUrl, redisUrl } = run;
const keys = resultsKeys(names.redisKeyPrefix, BENCH_POLL.id);

const log = (line: string) => process.stderr.write(`[bench:reads] ${line}\n`);
const logger = createLogger("warn", { service: "bench-reads" });
const children: NodeChild[] = [];
const redis = createClient({ url: redisUrl });
await redis.connect();
const loadBefore = loadavg();

function childEnv(port: number): NodeJS.ProcessEnv {
  return {
    ...benchServiceEnv(run, port),
    // Every request comes from 127.0.0.1: the caps and the per-address rate limits are
    // lifted for the bench alone (a results read would otherwise also cost a Redis INCR).
    RATE_LIMIT_RESULTS_PER_S: "0",
    RATE_LIMIT_SSE_CONNECTS_PER_S: "0",
    RATE_LIMIT_KIOSK_VOTES_PER_S: "0",
    SSE_MAX_CLIENTS: String(settings.sseClients + 500),
    SSE_MAX_PER_ADDRESS: String(settings.sseClients + 500),
    HTTP_MAX_CONNECTIONS: String(settings.sseClients + 2_000),
    READS_KEY: keys.json,
  };
}

const profileDir = join(REPO_ROOT, "artifacts", "cpu-prof", "reads");
/** BENCH_CPU_PROF=1: the API child runs under --cpu-prof; its profile is summarised at the end. */
function profileEnv(): NodeJS.ProcessEnv {
  return settings.cpuProfile ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profileDir}` } : {};
}

async function start(name: string, script: string, extra: NodeJS.ProcessEnv = {}) {
  const server = await startServer(name, [script], (port) => ({ ...childEnv(port), ...extra }));
  children.push(server.child);
  return server;
}

/** A results document of the usual shape: 4 options, a day of rollup buckets. */
function resultsDocument(version: string): string {
  const buckets = 86_400_000 / BUCKET_MS;
  return JSON.stringify({
    pollId: BENCH_POLL.id,
    title: "Benchmark poll",
    timeZone: "UTC",
    opensAt: null,
    closesAt: null,
    status: "open",
    version,
    asOf: new Date().toISOString(),
    publishedAt: new Date().toISOString(),
    hidden: false,
    totalVotes: 4 * buckets * 3,
    options: BENCH_POLL.optionIds.map((id) => ({ id, label: id, count: buckets * 3, share: 0.25 })),
    distribution: {
      bucketMinutes: BUCKET_MINUTES,
      start: new Date(Date.now() - buckets * BUCKET_MS).toISOString(),
      buckets,
      series: BENCH_POLL.optionIds.map((optionId) => ({
        optionId,
        counts: Array.from({ length: buckets }, (_, i) => (i * 7) % 5),
      })),
    },
    chart: null,
  });
}

let versionCounter = 0;
// `<change>-<registry time, base 36>` as the publisher makes them; an hour ahead, since a
// registry time before the poll's creation reads as an earlier poll's publication.
const VERSION_STAMP = (Date.now() + 3_600_000).toString(36);
/** A new publication, written as the publisher does (one MULTI with the announcement). */
async function publish(): Promise<string> {
  const version = `${++versionCounter}-${VERSION_STAMP}`;
  await redis
    .multi()
    .set(keys.json, resultsDocument(version))
    .set(keys.version, version)
    .publish(
      resultsChannel(names.redisKeyPrefix),
      JSON.stringify({ pollId: BENCH_POLL.id, version }),
    )
    .exec();
  return version;
}

async function post(url: string, path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: "POST",
    headers: BENCH_ADMIN_HEADERS,
    body: JSON.stringify(body),
  });
}

const pollBody = (id: string) => ({
  id,
  title: `Poll ${id}`,
  options: BENCH_POLL.optionIds.map((o) => ({ id: o, label: o })),
});

// --- 1. results GET ------------------------------------------------------------------

interface ReadRun {
  target: string;
  okPerSecond: number;
  p99Ms: number;
  failed: number;
}

/** Server CPU per request at a fixed rate below saturation: less moved by a busy machine. */
interface CpuRun {
  target: string;
  cpuMicrosPerRequest: number;
}

async function readLoad(url: string, durationS: number, overallRate?: number): Promise<LoadResult> {
  return runLoad({
    ...(overallRate === undefined ? {} : { overallRate }),
    url: `${url}/v1/polls/${BENCH_POLL.id}/results`,
    connections: settings.connections,
    pipelining: 1,
    duration: durationS,
    timeout: 10,
    requests: [{ method: "GET" }],
  });
}

async function benchReads(api: { child: NodeChild; url: string }) {
  const redisRef = await start("ref-redis", "scripts/bench/reads-reference-server.ts", {
    READS_FROM: "redis",
  });
  const memoryRef = await start("ref-memory", "scripts/bench/reads-reference-server.ts", {
    READS_FROM: "memory",
  });
  const targets = [
    { target: "API (in-process cache)", url: api.url, pid: api.child.pid },
    { target: "node:http + Redis GET", url: redisRef.url, pid: redisRef.child.pid },
    { target: "node:http from memory", url: memoryRef.url, pid: memoryRef.child.pid },
  ];
  // Same bytes from all three (the API's copy is of the version written last).
  const bodies = await Promise.all(
    targets.map(async (t) =>
      (await fetch(`${t.url}/v1/polls/${BENCH_POLL.id}/results`))
        .arrayBuffer()
        .then((b) => b.byteLength),
    ),
  );
  if (new Set(bodies).size !== 1) throw new Error(`different bodies: ${bodies.join(", ")} bytes`);
  for (const t of targets) await readLoad(t.url, 2); // warm-up (JIT, connections)
  const runs: ReadRun[] = [];
  for (let round = 1; round <= settings.rounds; round++)
    for (const t of targets) {
      const result = await readLoad(t.url, settings.durationS);
      runs.push({
        target: t.target,
        okPerSecond: okPerSecond(result),
        p99Ms: result.latency.p99,
        failed: result.non2xx + result.errors + result.timeouts,
      });
      log(`round ${round} ${t.target}: ${Math.round(okPerSecond(result))} req/s`);
    }
  const cpu: CpuRun[] = [];
  for (let round = 1; round <= settings.rounds; round++)
    for (const t of targets) {
      const before = processCpuSeconds(t.pid) ?? Number.NaN;
      const result = await readLoad(t.url, settings.cpuDurationS, settings.cpuRate);
      const used = (processCpuSeconds(t.pid) ?? Number.NaN) - before;
      cpu.push({
        target: t.target,
        cpuMicrosPerRequest: (used * 1e6) / Math.max(1, result["2xx"]),
      });
    }
  await stopChild(redisRef.child);
  await stopChild(memoryRef.child);
  return { runs, cpu };
}

// --- 2. registry writes ----------------------------------------------------------------

async function writeLatencies(apiUrl: string, label: string): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < settings.registryWrites; i++) {
    const started = performance.now();
    const res = await post(apiUrl, "/v1/polls", pollBody(`w-${label}-${i}`));
    latencies.push(performance.now() - started);
    if (res.status !== 201) throw new Error(`create poll: ${res.status} ${await res.text()}`);
  }
  return latencies;
}

const quantile = (values: number[], q: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};

// --- 3. SSE clients and votes meanwhile ------------------------------------------------

function rssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("VmRSS:"));
  return Number(line?.split(/\s+/)[1] ?? Number.NaN) * 1024;
}

/**
 * Single votes at BENCH_VOTE_RATE for BENCH_VOTE_DURATION s, evenly spaced, from a process
 * of their own (paced-votes.ts), a new version announced every `announceMs` meanwhile.
 */
async function voteLoad(
  api: { child: NodeChild; url: string },
  token: string,
  holder: StreamHolder,
  announceMs: number,
) {
  await holder.takeEvents();
  const cpuBefore = processCpuSeconds(api.child.pid) ?? Number.NaN;
  let announcements = 0;
  const announcer = setInterval(() => {
    announcements++;
    void publish();
  }, announceMs);
  const result = await pacedVotesInChild({
    url: api.url,
    token,
    pollId: BENCH_POLL.id,
    optionId: "red",
    rate: settings.voteRate,
    durationS: settings.voteDurationS,
    warmupS: 1,
    connections: 64,
    timeoutMs: 10_000,
  });
  clearInterval(announcer);
  const apiCpuShare =
    ((processCpuSeconds(api.child.pid) ?? Number.NaN) - cpuBefore) / result.seconds;
  await sleep(1_000); // the last announcement's events
  return {
    announceMs,
    votesPerSecond: result.accepted / result.seconds,
    p50Ms: result.p50Ms,
    p99Ms: result.p99Ms,
    p999Ms: result.p999Ms,
    maxMs: result.maxMs,
    sendLagMs: result.maxSendLagMs,
    p99BySecondMs: result.p99BySecondMs,
    apiCpuShare,
    failed: result.failed,
    announcements,
    eventsDelivered: await holder.takeEvents(),
  };
}

async function benchStreams(api: { child: NodeChild; url: string }, token: string) {
  const port = Number(new URL(api.url).port);
  const holder = new StreamHolder();
  try {
    // The same vote load with no stream open: the reference the streams' cost shows against.
    const alone = await voteLoad(api, token, holder, Math.min(...settings.announceMs));
    const rssBefore = rssBytes(api.child.pid);
    const opened = performance.now();
    await holder.open(port, BENCH_POLL.id, settings.sseClients);
    const openSeconds = (performance.now() - opened) / 1000;
    await sleep(3_000); // let buffers and the heap settle
    const rssAfter = rssBytes(api.child.pid);
    log(`${settings.sseClients} streams open in ${openSeconds.toFixed(1)} s`);
    const held = [];
    for (const announceMs of settings.announceMs)
      held.push(await voteLoad(api, token, holder, announceMs));
    return {
      clients: settings.sseClients,
      openSeconds,
      rssPerClientBytes: (rssAfter - rssBefore) / Math.max(1, settings.sseClients),
      rssBeforeBytes: rssBefore,
      rssAfterBytes: rssAfter,
      alone,
      held,
    };
  } finally {
    await holder.close();
  }
}

// --- the run -----------------------------------------------------------------------------

async function cleanup(): Promise<void> {
  await Promise.allSettled(children.map((c) => stopChild(c)));
  const nc = await connect({ servers: natsUrl, name: "bench-reads-cleanup" }).catch(() => null);
  if (nc) {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(names.stream).catch(() => false);
    await nc.close();
  }
  await unlinkKeysUnder(redis, names.redisKeyPrefix);
  await redis.close().catch(() => {});
  await dropDatabase(databaseUrl).catch((err: unknown) => log(`drop database: ${String(err)}`));
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(1) : int(n));
const load3 = (l: number[]) => l.map((n) => n.toFixed(2)).join(" / ");

type Api = { child: NodeChild; url: string };

/** Every section's verdicts, in order: the report ends with them. */
const verdicts: Verdict[] = [];
/** The API's results GET throughput against the Redis reference's: the target's metric. */
const READS_TARGET = 0.8;
/** Single-vote p99 with the streams open. */
const VOTE_P99_TARGET_MS = 25;

async function readsSection(api: Api): Promise<string[]> {
  log("results GET");
  const { runs: reads, cpu } = await benchReads(api);
  const byTarget = (target: string) => reads.filter((r) => r.target === target);
  const medianRate = (target: string) => median(byTarget(target).map((r) => r.okPerSecond));
  const cpuOf = (target: string) =>
    median(cpu.filter((c) => c.target === target).map((c) => c.cpuMicrosPerRequest));
  const targets = ["API (in-process cache)", "node:http + Redis GET", "node:http from memory"];
  const [apiRate, redisRate, memoryRate] = targets.map(medianRate) as [number, number, number];
  const readsVerdict = ratioVerdict(
    `results GET, API / bare node:http + Redis GET req/s (medians of ${settings.rounds} rounds)`,
    apiRate / redisRate,
    "≥",
    READS_TARGET,
  );
  verdicts.push(readsVerdict);
  return [
    "## Results GET (median of rounds)",
    "",
    "| server | req/s | p99 ms | failed | ratio to Redis reference |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...targets.map((t) => {
      const runs = byTarget(t);
      return `| ${t} | ${int(medianRate(t))} | ${ms(median(runs.map((r) => r.p99Ms)))} | ${runs.reduce((a, r) => a + r.failed, 0)} | ${(medianRate(t) / redisRate).toFixed(4)}× |`;
    }),
    "",
    `API / Redis reference req/s: **${verdictText(readsVerdict)}**; ` +
      `API / memory reference: ${ratioText(apiRate / memoryRate)}.`,
    "",
    `Server-process CPU per request at a fixed ${int(settings.cpuRate)} req/s (median of ` +
      `${settings.rounds} × ${settings.cpuDurationS} s; Redis's own CPU not counted): ` +
      targets.map((t) => `${t} ${int(cpuOf(t))} µs`).join(", ") +
      ". Throughput at equal CPU, API / Redis reference: " +
      `${ratioText(cpuOf("node:http + Redis GET") / cpuOf("API (in-process cache)"))} ` +
      "(what the API costs per read; not the target's metric, which is req/s above).",
    "",
  ];
}

async function registrySection(api: Api, pool: ReturnType<typeof createPool>): Promise<string[]> {
  log("registry writes");
  const small = await writeLatencies(api.url, "small");
  const { rows: seeded } = await pool.query<{ id: string }>(
    `insert into polls (id, slug, title) select 'seed-' || n, 'seed-' || n, 'Seed ' || n from generate_series(1, $1::int) n
     returning id`,
    [settings.registryPolls],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select 'seed-' || n, o.id, o.id, o.position
     from generate_series(1, $1::int) n, unnest($2::text[]) with ordinality o(id, position)`,
    [settings.registryPolls, BENCH_POLL.optionIds],
  );
  // Told as the API's store tells a create: a NOTIFY per poll, a burst the cache takes as
  // one full reload.
  await pollsInserted(
    pool,
    seeded.map((r) => r.id),
  );
  await sleep(2_000);
  const large = await writeLatencies(api.url, "large");
  const started = performance.now();
  const list = await fetch(`${api.url}/v1/public/polls`);
  const listBytes = (await list.arrayBuffer()).byteLength;
  const listFirstMs = performance.now() - started;
  const listAgain = performance.now();
  await (await fetch(`${api.url}/v1/public/polls`)).arrayBuffer();
  const listCachedMs = performance.now() - listAgain;
  return [
    "## Registry writes (POST /v1/polls, sequential)",
    "",
    "| polls in the registry | writes | p50 ms | p99 ms |",
    "| ---: | ---: | ---: | ---: |",
    `| ~${settings.registryWrites} | ${small.length} | ${ms(quantile(small, 0.5))} | ${ms(quantile(small, 0.99))} |`,
    `| ~${int(settings.registryPolls + 2 * settings.registryWrites)} | ${large.length} | ${ms(quantile(large, 0.5))} | ${ms(quantile(large, 0.99))} |`,
    "",
    `p50 at ${int(settings.registryPolls)} polls / p50 near empty: ${(quantile(large, 0.5) / quantile(small, 0.5)).toFixed(2)}×. ` +
      `GET /v1/public/polls (${int(listBytes / 1024)} KB): ${ms(listFirstMs)} ms built, ${ms(listCachedMs)} ms from its bytes.`,
    "",
  ];
}

const cadence = (announceMs: number) =>
  announceMs % 1000 === 0 ? `${announceMs / 1000} s` : `${announceMs} ms`;

async function streamsSection(api: Api, token: string): Promise<string[]> {
  log(`${settings.sseClients} event streams, votes at ${settings.voteRate}/s`);
  const streams = await benchStreams(api, token);
  const rows = [
    { open: 0, r: streams.alone },
    ...streams.held.map((r) => ({ open: streams.clients, r })),
  ];
  for (const r of streams.held) {
    verdicts.push(
      valueVerdict(
        `single-vote p99 at ${int(r.votesPerSecond)} votes/s with ${int(streams.clients)} streams open, a version every ${cadence(r.announceMs)}`,
        r.p99Ms,
        "<",
        VOTE_P99_TARGET_MS,
        (n) => `${ms(n)} ms`,
      ),
    );
    const expected = streams.clients * r.announcements;
    verdicts.push({
      what: `events delivered to the ${int(streams.clients)} streams, a version every ${cadence(r.announceMs)}`,
      measured: `${int(r.eventsDelivered)} of ${int(expected)}`,
      target: "every one",
      met: r.eventsDelivered === expected,
    });
  }
  return [
    "## Event streams held, votes meanwhile",
    "",
    `${int(streams.clients)} streams opened in ${streams.openSeconds.toFixed(1)} s; API RSS ` +
      `${int(streams.rssBeforeBytes / 2 ** 20)} MB → ${int(streams.rssAfterBytes / 2 ** 20)} MB: ` +
      `**${(streams.rssPerClientBytes / 1024).toFixed(1)} KB per stream**. Single votes at ` +
      `${int(settings.voteRate)}/s, evenly spaced, for ${settings.voteDurationS} s from a process of ` +
      "their own (latency counted from when each vote was due), the streams held by another, " +
      `a new version announced to every stream at each cadence (the publisher's default interval is ` +
      `${cadence(DEFAULT_RESULTS_INTERVAL_MS)}):`,
    "",
    "| streams open | a version every | votes/s | API CPU (cores) | vote p50 ms | vote p99 ms | p99.9 ms | max ms | worst second's p99 ms | seconds with p99 ≥ 25 ms | generator lag max ms | failed | events delivered |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map(
      ({ open, r }) =>
        `| ${int(open)} | ${cadence(r.announceMs)} | ${int(r.votesPerSecond)} | ${r.apiCpuShare.toFixed(2)} | ${ms(r.p50Ms)} | ${ms(r.p99Ms)} | ${ms(r.p999Ms)} | ${ms(r.maxMs)} | ` +
        `${ms(Math.max(...r.p99BySecondMs))} | ${r.p99BySecondMs.filter((v) => v >= 25).length} of ${r.p99BySecondMs.length} | ${ms(r.sendLagMs)} | ${r.failed} | ` +
        (open === 0 ? "– |" : `${int(r.eventsDelivered)} of ${int(open * r.announcements)} |`),
    ),
    "",
    `Vote p99 with ${int(streams.clients)} streams: ` +
      streams.held
        .map((r) => `**${ms(r.p99Ms)} ms** with a version every ${cadence(r.announceMs)}`)
        .join(", ") +
      ` (target < ${VOTE_P99_TARGET_MS} ms; ${ms(streams.alone.p99Ms)} ms with none, same run: not a target, the reference).`,
    "",
  ];
}

async function main(): Promise<void> {
  await ensureDatabase(databaseUrl);
  const pool = createPool(databaseUrl, logger, { max: 2, applicationName: "bench-reads" });
  try {
    await migrate(pool, logger);
    await publish();
    const api = await start("api", "ingest-api/main.ts", profileEnv());
    if ((await post(api.url, "/v1/polls", pollBody(BENCH_POLL.id))).status !== 201)
      throw new Error("could not create the bench poll");
    const kiosk = await post(api.url, "/v1/kiosks", { id: "bench-kiosk", name: "Bench" });
    const { token } = (await kiosk.json()) as { token: string };

    const sections: string[] = [];
    if (settings.parts.has("reads")) sections.push(...(await readsSection(api)));
    if (settings.parts.has("registry")) sections.push(...(await registrySection(api, pool)));
    if (settings.parts.has("streams")) sections.push(...(await streamsSection(api, token)));
    const loadAfter = loadavg();
    const lines = [
      `# bench:reads — ${new Date().toISOString()}`,
      "",
      `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "?"}, Node ${process.version}. ` +
        `Load average (1/5/15 min) before: ${load3(loadBefore)}, after: ${load3(loadAfter)}.`,
      `Command: \`${benchCommand("bench:reads", env, [])}\` (parts: ${[...settings.parts].join(", ")}; ` +
        `${settings.connections} connections, ${settings.rounds} rounds × ${settings.durationS} s ` +
        "per read target, alternating).",
      "",
      ...sections,
      ...verdictLines(verdicts),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await pool.end();
  }
}

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
