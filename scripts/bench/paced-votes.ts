import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Agent, request } from "node:http";
import { promisify } from "node:util";

// An open-loop single-vote load at a steady rate, run as its own process (pacedVotesInChild): votes are due every 1/rate s, and each one's latency is
// counted from the moment it was due, not from when it went out, so a stalled server (or
// generator) shows in the percentiles instead of hiding as fewer requests (coordinated
// omission). autocannon's `overallRate` sends each second's quota back to back at the
// start of the second: a 1,000-request burst every second, not 1,000 votes/s.
//
// argv[2]: the options (PacedVotesOptions) as JSON.
// Prints one JSON line on stdout: {sent, accepted, failed, statuses, latenciesMs…}.

export interface PacedVotesOptions {
  url: string;
  token: string;
  pollId: string;
  optionId: string;
  /** Votes per second, evenly spaced. */
  rate: number;
  durationS: number;
  /**
   * Seconds sent at the same rate before the measured ones and not counted: the sockets'
   * connects and the JIT's first compiles are not what a kiosk with warm connections sees.
   */
  warmupS: number;
  /** Keep-alive sockets at most (a vote waits for a free one: that wait is latency too). */
  connections: number;
  timeoutMs: number;
}

export interface PacedVotesResult {
  due: number;
  sent: number;
  accepted: number;
  failed: number;
  statuses: Record<string, number>;
  /** Seconds from the first measured vote due to the last answer. */
  seconds: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** p99 of the votes due in each second of the run: where a stall happened. */
  p99BySecondMs: number[];
  /** How far behind schedule the generator itself sent, worst case (its own stalls). */
  maxSendLagMs: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

export async function runPacedVotes(o: PacedVotesOptions): Promise<PacedVotesResult> {
  const target = new URL("/v1/votes", o.url);
  const agent = new Agent({ keepAlive: true, maxSockets: o.connections });
  const headers = {
    "content-type": "application/json",
    authorization: `Bearer ${o.token}`,
  };
  const interval = 1000 / o.rate;
  const warmup = Math.round(o.rate * o.warmupS);
  const total = warmup + Math.round(o.rate * o.durationS);
  const latencies: number[] = [];
  const bySecond: number[][] = Array.from({ length: Math.ceil(o.durationS) }, () => []);
  const statuses: Record<string, number> = {};
  let sent = 0;
  let settled = 0;
  let maxSendLagMs = 0;
  const count = (status: string) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
  };
  const started = performance.now();
  const measuredFrom = started + o.warmupS * 1000;
  let lastAnswer = started;
  const { promise: done, resolve } = Promise.withResolvers<void>();

  const sendOne = (dueAt: number) => {
    const body = `{"eventId":"${randomUUID()}","pollId":"${o.pollId}","optionId":"${o.optionId}"}`;
    const finish = (status: string) => {
      lastAnswer = performance.now();
      if (dueAt >= measuredFrom) {
        latencies.push(lastAnswer - dueAt);
        bySecond[Math.floor((dueAt - measuredFrom) / 1000)]?.push(lastAnswer - dueAt);
        count(status);
      }
      if (++settled === total) resolve();
    };
    const req = request(
      target,
      {
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        timeout: o.timeoutMs,
      },
      (res) => {
        res.resume();
        res.once("end", () => finish(String(res.statusCode)));
        res.once("error", () => finish("error"));
      },
    );
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", (err) => finish(err.message === "timeout" ? "timeout" : "error"));
    req.end(body);
  };

  // A 1 ms tick sends every vote that has come due: timers cannot fire every 1/rate s
  // exactly, and a late tick catches up instead of dropping votes.
  const tick = setInterval(() => {
    const now = performance.now();
    while (sent < total) {
      const dueAt = started + sent * interval;
      if (dueAt > now) break;
      if (dueAt >= measuredFrom) maxSendLagMs = Math.max(maxSendLagMs, now - dueAt);
      sent++;
      sendOne(dueAt);
    }
    if (sent === total) clearInterval(tick);
  }, 1);
  await done;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    due: total - warmup,
    sent: sent - warmup,
    accepted: statuses["202"] ?? 0,
    failed: total - warmup - (statuses["202"] ?? 0),
    statuses,
    seconds: (lastAnswer - measuredFrom) / 1000,
    p50Ms: quantile(latencies, 0.5),
    p90Ms: quantile(latencies, 0.9),
    p99Ms: quantile(latencies, 0.99),
    p999Ms: quantile(latencies, 0.999),
    maxMs: latencies.at(-1) ?? Number.NaN,
    p99BySecondMs: bySecond.map((l) =>
      quantile(
        l.sort((a, b) => a - b),
        0.99,
      ),
    ),
    maxSendLagMs,
  };
}

/** Runs the load in a child process of its own, so that nothing of ours shares its loop. */
export async function pacedVotesInChild(options: PacedVotesOptions): Promise<PacedVotesResult> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [import.meta.filename, JSON.stringify(options)],
    { maxBuffer: 1 << 20, timeout: (options.durationS + 60) * 1000 },
  );
  return JSON.parse(stdout) as PacedVotesResult;
}

if (import.meta.main) {
  const options = JSON.parse(process.argv[2] ?? "") as PacedVotesOptions;
  process.stdout.write(`${JSON.stringify(await runPacedVotes(options))}\n`);
}
