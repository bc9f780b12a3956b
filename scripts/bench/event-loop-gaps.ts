import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";

// Imported into a service of a bench (`--api-node-args="--import=./scripts/bench/event-loop-gaps.ts"`):
// samples perf_hooks.monitorEventLoopDelay and logs each gap of the event loop over 30 ms with
// its end on the monotonic clock in µs (a .cpuprofile's clock), so that
// scripts/bench/cpu-profile-gaps.ts can say what the profile sampled in each. Written to
// EVENT_LOOP_GAPS_DIR (default /tmp) as event-loop-gaps-<pid>.json every 10 s and at exit.

/** What the file holds. */
export interface EventLoopGaps {
  pid: number;
  /** The delay histogram's percentiles and maximum (ms). */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Each gap over 30 ms: its end (µs, monotonic) and length (ms). */
  gaps: { endUs: number; ms: number }[];
}

const TICK_MS = 5;
const histogram = monitorEventLoopDelay({ resolution: TICK_MS });
histogram.enable();
const gaps: EventLoopGaps["gaps"] = [];
let last = process.hrtime.bigint();
setInterval(() => {
  const now = process.hrtime.bigint();
  const ms = Number(now - last) / 1e6 - TICK_MS;
  if (ms > 30) gaps.push({ endUs: Number(now / 1000n), ms: Math.round(ms) });
  last = now;
}, TICK_MS).unref();

const file = join(process.env.EVENT_LOOP_GAPS_DIR ?? "/tmp", `event-loop-gaps-${process.pid}.json`);
const write = () => {
  const out: EventLoopGaps = {
    pid: process.pid,
    p50: histogram.percentile(50) / 1e6,
    p99: histogram.percentile(99) / 1e6,
    p999: histogram.percentile(99.9) / 1e6,
    max: histogram.max / 1e6,
    gaps,
  };
  writeFileSync(file, JSON.stringify(out));
};
process.on("exit", write);
setInterval(write, 10_000).unref();
