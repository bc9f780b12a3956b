// Counters and latency percentiles of a simulation. The histogram has log-spaced buckets
// (2 % wide, 10 µs to 2 min), so recording is O(1) and percentiles are within 2 %.

const MIN_MS = 0.01;
const GROWTH = 1.02;
const BUCKETS = Math.ceil(Math.log(120_000 / MIN_MS) / Math.log(GROWTH)) + 1;
const LOG_GROWTH = Math.log(GROWTH);

export class LatencyHistogram {
  readonly #counts = new Float64Array(BUCKETS);
  #total = 0;
  #max = 0;

  record(ms: number): void {
    const i =
      ms <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(ms / MIN_MS) / LOG_GROWTH));
    this.#counts[i]! += 1;
    this.#total++;
    if (ms > this.#max) this.#max = ms;
  }

  get count(): number {
    return this.#total;
  }

  get max(): number {
    return this.#max;
  }

  /** The latency under which `p` % of the recorded ones fall (upper edge of its bucket); NaN when empty. */
  percentile(p: number): number {
    if (this.#total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.#total));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i]!;
      if (seen >= rank) return Math.min(this.#max, MIN_MS * GROWTH ** (i + 1));
    }
    return this.#max;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#total = 0;
    this.#max = 0;
  }
}

/** Everything counted during a run. Votes are counted per vote, requests per HTTP request. */
export class SimStats {
  requests = 0;
  /** Requests that were a resend after a (simulated) dropped response. */
  resends = 0;
  votesCast = 0;
  votesSent = 0;
  accepted = 0;
  duplicates = 0;
  refused = 0;
  /** Failed requests: 5xx, network errors, timeouts. */
  errors = 0;
  /** Votes a kiosk gave up on after its retries (no 202 ever seen). */
  abandoned = 0;
  readonly refusedByCode = new Map<string, number>();
  readonly errorsByKind = new Map<string, number>();
  readonly latency = new LatencyHistogram();
  /** Reset at each progress report: latency over the last interval. */
  readonly recentLatency = new LatencyHistogram();

  refuse(code: string, n = 1): void {
    this.refused += n;
    this.refusedByCode.set(code, (this.refusedByCode.get(code) ?? 0) + n);
  }

  error(kind: string): void {
    this.errors++;
    this.errorsByKind.set(kind, (this.errorsByKind.get(kind) ?? 0) + 1);
  }

  observe(ms: number): void {
    this.latency.record(ms);
    this.recentLatency.record(ms);
  }
}

/** "1,234" */
export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** Latency in ms with a sensible number of digits. */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "–";
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return Math.round(ms).toLocaleString("en-US");
}
