import { randomBytes, randomUUID } from "node:crypto";
import { availableParallelism, cpus } from "node:os";
import { readInt } from "../common/env.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { connectRedis } from "../common/redis.ts";
import { VoterGuard, voterClaimsKeys } from "../ingest-api/votes/voter-guard.ts";
import { benchCommand } from "./bench/command-line.ts";
import { benchLog as log } from "./bench/progress.ts";
import { valueVerdict, verdictLines } from "./bench/verdict.ts";
import { readCli } from "./cli.ts";

// `npm run bench:voters`: Redis memory of the one-vote-per-voter structure (VoterGuard:
// 2^bits listpack hashes per poll) at a million voters of one poll, against the naive
// layout of one key per voter. Prints a markdown report on stdout; all keys written live
// under a random prefix and are deleted at the end.
//
// Tunables (env): BENCH_VOTERS (1000000), BENCH_NAIVE_VOTERS (200000),
// BENCH_CHUNK (10000 concurrent commands; the client pipelines them), REDIS_URL.

const USAGE = `usage: npm run bench:voters   (tuned by environment variables)
  BENCH_VOTERS        voters of the VoterGuard layout (default 1000000)
  BENCH_NAIVE_VOTERS  voters of the one-key-per-voter layout (default 200000)
  BENCH_CHUNK         commands in flight at once (default 10000)
  REDIS_URL           (default redis://127.0.0.1:6379)`;

readCli({ usage: USAGE, options: {} }, () => undefined);
const env = process.env;
const { voters, naiveVoters, chunk } = configOrExit(() => ({
  voters: readInt(env, "BENCH_VOTERS", 1_000_000, { min: 1 }),
  naiveVoters: readInt(env, "BENCH_NAIVE_VOTERS", 200_000, { min: 1 }),
  chunk: readInt(env, "BENCH_CHUNK", 10_000, { min: 1 }),
}));
// The API's defaults (ingest-api/config.ts): 2^16 buckets per poll, 30-day retention.
const BUCKET_BITS = 16;
const RETENTION_MS = 2_592_000_000;
const POLL_ID = "memory-poll";
// Unique, and as long as the production prefix "tallyflow:" (10 characters), so that key
// names, which dominate the naive layout's cost, are sized as they would be in production.
const prefix = `tfv${randomBytes(3).toString("hex")}:`;

const redis = await connectRedis(
  env.REDIS_URL ?? "redis://127.0.0.1:6379",
  createLogger("warn"),
  "bench-voters",
);

interface Measurement {
  layout: string;
  voters: number;
  keys: number;
  memoryUsageSum: number;
  usedMemoryDelta: number;
  seconds: number;
  encodings: Record<string, number>;
  entries?: { min: number; avg: number; max: number };
}

/** Runs `task(i)` for i in [0, count) with at most `chunk` commands in flight. */
async function inChunks(count: number, task: (i: number) => Promise<unknown>): Promise<void> {
  for (let start = 0; start < count; start += chunk) {
    const end = Math.min(start + chunk, count);
    const pending: Promise<unknown>[] = [];
    for (let i = start; i < end; i++) pending.push(task(i));
    await Promise.all(pending);
  }
}

async function usedMemory(): Promise<number> {
  const info = await redis.info("memory");
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match?.[1]) throw new Error("INFO memory has no used_memory");
  return Number(match[1]);
}

async function keysUnder(match: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 10_000 }))
    keys.push(...batch);
  return keys;
}

/** Σ MEMORY USAGE (every nested value sampled), encodings, and hash sizes of the keys. */
async function inspect(keys: string[], hashes: boolean) {
  let sum = 0;
  const encodings: Record<string, number> = {};
  const lengths: number[] = [];
  await inChunks(keys.length, async (i) => {
    const key = keys[i]!;
    const [bytes, encoding, length] = await Promise.all([
      redis.memoryUsage(key, { SAMPLES: 0 }),
      redis.objectEncoding(key),
      hashes ? redis.hLen(key) : Promise.resolve(0),
    ]);
    sum += bytes ?? 0;
    const name = String(encoding);
    encodings[name] = (encodings[name] ?? 0) + 1;
    if (hashes) lengths.push(length);
  });
  const entries =
    lengths.length === 0
      ? undefined
      : {
          // reduce, not Math.min(...): 65,536 arguments would overflow the stack.
          min: lengths.reduce((a, b) => Math.min(a, b)),
          avg: lengths.reduce((a, b) => a + b, 0) / lengths.length,
          max: lengths.reduce((a, b) => Math.max(a, b)),
        };
  return { sum, encodings, entries };
}

async function deleteUnder(match: string): Promise<void> {
  for await (const batch of redis.scanIterator({ MATCH: match, COUNT: 10_000 }))
    if (batch.length > 0) await redis.unlink(batch);
}

async function measureGuard(): Promise<Measurement> {
  const guard = new VoterGuard(redis, prefix, BUCKET_BITS, RETENTION_MS);
  // The claims of this scratch prefix are complete (there is nothing to restore): without
  // the marker every claim would answer voter_claims_rebuilding.
  await redis.set(voterClaimsKeys(prefix).restored, "bench");
  const before = await usedMemory();
  const started = performance.now();
  // The first claim loads the Lua script; after that every claim is one EVALSHA.
  const results = { claimed: 0, other: 0 };
  const claim = async (i: number) => {
    const c = guard.claimFor({ pollId: POLL_ID, incarnation: 1 }, `voter-${i}`, randomUUID());
    if ((await guard.claim(c)) === "claimed") results.claimed++;
    else results.other++;
  };
  await claim(0);
  await inChunks(voters - 1, (i) => claim(i + 1));
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory();
  // 1M voters hash to 2^64 fields; a collision (one voter refused) has odds ~1e-8.
  if (results.claimed !== voters)
    log(`warning: ${results.other} claims were not "claimed" (hash collision?)`);
  const keys = await keysUnder(`${prefix}voters:*`);
  const { sum, encodings, entries } = await inspect(keys, true);
  return {
    layout: `VoterGuard: ${2 ** BUCKET_BITS} hashes/poll, field 8 B + tag 4 B, PEXPIRE`,
    voters,
    keys: keys.length,
    memoryUsageSum: sum,
    usedMemoryDelta: after - before,
    seconds,
    encodings,
    ...(entries === undefined ? {} : { entries }),
  };
}

async function measureNaive(withExpiry: boolean): Promise<Measurement> {
  const base = `${prefix}naive${withExpiry ? "px" : ""}:${POLL_ID}:`;
  const before = await usedMemory();
  const started = performance.now();
  await inChunks(naiveVoters, (i) =>
    withExpiry
      ? redis.set(`${base}voter-${i}`, "1", { expiration: { type: "PX", value: RETENTION_MS } })
      : redis.set(`${base}voter-${i}`, "1"),
  );
  const seconds = (performance.now() - started) / 1000;
  const after = await usedMemory();
  const keys = await keysUnder(`${base}*`);
  const { sum, encodings } = await inspect(keys, false);
  return {
    layout: withExpiry
      ? "Naive: one key per voter, `SET <poll>:<voterId> 1 PX <30 d>`"
      : "Naive: one key per voter, `SET <poll>:<voterId> 1`",
    voters: naiveVoters,
    keys: keys.length,
    memoryUsageSum: sum,
    usedMemoryDelta: after - before,
    seconds,
    encodings,
  };
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");

function report(rows: Measurement[], config: Record<string, string>, version: string): string {
  const guard = rows[0]!;
  const perVoter = guard.memoryUsageSum / guard.voters;
  const perVoterInfo = guard.usedMemoryDelta / guard.voters;
  const lines = [
    "| | |",
    "|---|---|",
    `| Machine | ${availableParallelism()} cores, ${cpus()[0]?.model.trim() ?? "unknown CPU"} |`,
    `| Node / Redis | ${process.version} / Redis ${version} |`,
    `| Date | ${new Date().toISOString()} |`,
    `| Command | \`${benchCommand("bench:voters", env, [])}\` |`,
    `| Redis settings | hash-max-listpack-entries ${config["hash-max-listpack-entries"] ?? "?"}, hash-max-listpack-value ${config["hash-max-listpack-value"] ?? "?"} |`,
    "",
    "| Layout | Voters | Keys | Σ MEMORY USAGE | B/voter (Σ MEMORY USAGE) | used_memory Δ | B/voter (used_memory Δ) | Writes/s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      (r) =>
        `| ${r.layout} | ${int(r.voters)} | ${int(r.keys)} | ${int(r.memoryUsageSum)} | ${(r.memoryUsageSum / r.voters).toFixed(1)} | ${int(r.usedMemoryDelta)} | ${(r.usedMemoryDelta / r.voters).toFixed(1)} | ${int(r.voters / r.seconds)} |`,
    ),
    "",
    `VoterGuard buckets: ${Object.entries(guard.encodings)
      .map(([e, n]) => `${int(n)} ${e}`)
      .join(", ")}; voters per bucket min ${guard.entries?.min ?? "?"}, ` +
      `avg ${guard.entries?.avg.toFixed(1) ?? "?"}, max ${guard.entries?.max ?? "?"}.`,
    ...rows
      .slice(1)
      .map(
        (r) =>
          `${r.layout}: ${(r.memoryUsageSum / r.voters / perVoter).toFixed(1)}× the VoterGuard's bytes per voter by Σ MEMORY USAGE, ${(r.usedMemoryDelta / r.voters / perVoterInfo).toFixed(1)}× by used_memory Δ.`,
      ),
  ];
  const bytes = (n: number) => `${n.toFixed(1)} B/voter`;
  lines.push(
    "",
    ...verdictLines([
      valueVerdict(
        `VoterGuard at ${int(guard.voters)} voters, by Σ MEMORY USAGE`,
        perVoter,
        "<",
        40,
        bytes,
      ),
      valueVerdict(
        `VoterGuard at ${int(guard.voters)} voters, by used_memory Δ`,
        perVoterInfo,
        "<",
        40,
        bytes,
      ),
    ]),
  );
  return `${lines.join("\n")}\n`;
}

try {
  const config = await redis.configGet("hash-max-listpack-*");
  const version = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1] ?? "?";
  log(`VoterGuard: ${voters} claims under ${prefix}`);
  const guard = await measureGuard();
  await deleteUnder(`${prefix}voters:*`);
  log(`naive: ${naiveVoters} SETs`);
  const naive = await measureNaive(false);
  await deleteUnder(`${prefix}naive:*`);
  const naiveExpiring = await measureNaive(true);
  process.stdout.write(report([guard, naive, naiveExpiring], config, version));
} finally {
  await deleteUnder(`${prefix}*`);
  const left = (await keysUnder(`${prefix}*`)).length;
  if (left > 0) log(`warning: ${left} keys left under ${prefix}`);
  await redis.close();
}
