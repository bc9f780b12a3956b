import { createRequire } from "node:module";

// A typed view of the parts of autocannon's programmatic API the benchmarks use.
// autocannon ships no type declarations; loading it through createRequire and casting to
// these interfaces keeps `tsc` strict without an ambient `declare module` (which would
// need a default export, forbidden here).

export interface LoadHistogram {
  average: number;
  mean: number;
  stddev: number;
  min: number;
  max: number;
  p50: number;
  p90: number;
  p97_5: number;
  p99: number;
}

export interface LoadRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** Called for every request (pipelining 1): returns the request to send. */
  setupRequest?: (request: LoadRequest, context: Record<string, unknown>) => LoadRequest;
  onResponse?: (status: number, body: string, context: Record<string, unknown>) => void;
}

export interface LoadOptions {
  url: string;
  connections: number;
  pipelining: number;
  /** Seconds. */
  duration: number;
  /** Seconds to wait for one response before counting a timeout. */
  timeout?: number;
  requests: LoadRequest[];
  /** Requests per second over all connections; unlimited when absent. */
  overallRate?: number;
  title?: string;
}

export interface LoadResult {
  title?: string;
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  "2xx": number;
  statusCodeStats: Record<string, { count: number }>;
  requests: LoadHistogram & { sent: number };
  latency: LoadHistogram;
}

type Autocannon = (options: LoadOptions) => Promise<LoadResult>;

const require = createRequire(import.meta.url);
const autocannon = require("autocannon") as Autocannon;

/** One autocannon run; resolves when the duration is over and every client is closed. */
export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return autocannon(options);
}

/** 2xx responses per second over the whole run (non-2xx answers are not throughput). */
export function okPerSecond(result: LoadResult): number {
  return result["2xx"] / result.duration;
}

/** Responses that were not a success, plus connection errors and timeouts. */
export function failures(result: LoadResult): number {
  return result.non2xx + result.errors + result.mismatches;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The run whose 2xx rate is the median (the upper middle one for an even count). */
export function medianRun<T extends { okPerSecond: number }>(runs: readonly T[]): T {
  const sorted = [...runs].sort((a, b) => a.okPerSecond - b.okPerSecond);
  const run = sorted[Math.floor(sorted.length / 2)];
  if (run === undefined) throw new Error("no runs");
  return run;
}
