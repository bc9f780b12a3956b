import { fmtInt, fmtMs } from "../simulator/stats.ts";
import { type LoadRun, type Sample, STALL_MS } from "./pipeline-run.ts";

// Whether a single-vote step of the ramp was sustained: no errors, p99 under the bound,
// the generator on target, the backlog not growing, the writers draining (a stall fails
// the step like anything else) and verify passing.

/** Above this p99 the API no longer keeps up: requests wait in the queue. */
export const MAX_P99_MS = 1_000;

export interface Step {
  rate: number;
  run: LoadRun;
  slope: number;
  maxBacklog: number;
  endBacklog: number;
  sustained: boolean;
  /** "sustained", or every reason it was not, joined by "; ". */
  why: string;
}

/** Least-squares slope (messages/s) of the backlog over the second half of the run. */
export function backlogSlope(samples: readonly Sample[]): number {
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

/** Judges the run of the step at `rate` req/s. */
export function judge(rate: number, run: LoadRun): Step {
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
  if (!run.verify.ok) reasons.push("verify failed");
  // Growing: the backlog rises by more than 2 % of the arrival rate per second, and holds
  // more than a second of votes at the end.
  if (slope > 0.02 * rate && endBacklog > rate) reasons.push(`backlog grows ${fmtInt(slope)}/s`);
  if (run.stalledBacklog !== undefined)
    reasons.push(
      `writers stalled: ${fmtInt(run.stalledBacklog)} messages held ${STALL_MS / 1000} s without progress`,
    );
  return {
    rate,
    run,
    slope,
    maxBacklog,
    endBacklog,
    sustained: reasons.length === 0,
    why: reasons.join("; ") || "sustained",
  };
}
