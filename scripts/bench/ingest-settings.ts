import { readInt } from "../../common/env.ts";

// What `npm run bench:ingest` is told: environment variables, not flags (`npm run bench`
// passes them through to it unchanged). A bad value fails at start naming the variable.

export const INGEST_USAGE = `usage: npm run bench:ingest   (tuned by environment variables)
  BENCH_CONNECTIONS        connections of the single-vote runs (default 50)
  BENCH_DURATION           seconds of each single-vote run (default 12)
  BENCH_WARMUP             seconds of warmup per server (default 3)
  BENCH_ROUNDS             alternating reference/API rounds (default 3)
  BENCH_BATCH_CONNECTIONS  connections of the batch run (default 4)
  BENCH_BATCH_DURATION     seconds of the batch run (default 10)
  BENCH_CPU_PROF=1         an extra profiled run of each server, top self time printed
  BENCH_FIXED_RATE         req/s of the CPU-cost runs; 0 = skip them (default 2000)
  BENCH_MAX_REST_CPU       % of one core other processes may use before a run is
                           discarded and repeated (default 30)
  BENCH_RETRIES            repeats of a disturbed run at most (default 3)
  BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL`;

export interface IngestSettings {
  connections: number;
  durationS: number;
  warmupS: number;
  rounds: number;
  batchConnections: number;
  batchDurationS: number;
  batchSize: number;
  cpuProfile: boolean;
  fixedRate: number;
  fixedRateDurationS: number;
  maxRestCpuPct: number;
  retries: number;
}

/** Throws ConfigError naming the variable. */
export function readIngestSettings(env: NodeJS.ProcessEnv): IngestSettings {
  return Object.freeze({
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
  });
}
