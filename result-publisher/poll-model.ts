import { BUCKET_MS, bucketStartMs } from "../common/rollup-buckets.ts";
import type { RollupRow } from "./rollup-store.ts";

const BUCKETS_PER_HOUR = 3_600_000 / BUCKET_MS;

/**
 * What a publication is built from: each option's total, the first and last buckets with
 * votes, and the rows of the buckets at or after `horizonMs` (every one of them). Rows
 * older than the horizon count in the totals only: a poll's memory is its options and the
 * distribution window, not its whole history.
 */
export interface RollupSummary {
  totals: ReadonlyMap<string, number>;
  firstMs: number;
  lastMs: number;
  horizonMs: number;
  recent: Iterable<RollupRow>;
}

const keyOf = (r: RollupRow) => `${r.optionId}\u0000${r.bucketStartMs}`;

/** The bucket the distribution starts at, for a poll whose votes span first..last. */
export function windowStartMs(
  firstMs: number,
  lastMs: number,
  changedAt: Date | null,
  windowHours: number,
): number {
  const asOfBucket = changedAt === null ? lastMs : bucketStartMs(changedAt.getTime());
  const end = Math.max(lastMs, asOfBucket);
  return Math.max(firstMs, end - (windowHours * BUCKETS_PER_HOUR - 1) * BUCKET_MS);
}

/**
 * One poll's rollups as the publisher keeps them between runs. Counts in vote_rollups are
 * absolute, so a row read again replaces the one kept, and its difference goes to its
 * option's total. A row older than the horizon (a vote back-dated past the window) cannot
 * be applied that way, its old count being forgotten: apply() then answers false and the
 * poll is read in full again, which is rare (a kiosk back online after days).
 */
export class PollModel implements RollupSummary {
  readonly createdAtMs: number;
  /**
   * The poll's change_seq (poll_changes, migration 048) whose rollups this model holds: the
   * next read is of the rows written after it. 0 until the publisher sets it.
   */
  changeSeq = 0;
  readonly totals = new Map<string, number>();
  firstMs = Number.POSITIVE_INFINITY;
  lastMs = Number.NEGATIVE_INFINITY;
  horizonMs = Number.NEGATIVE_INFINITY;
  readonly #recent = new Map<string, RollupRow>();

  constructor(createdAtMs: number) {
    this.createdAtMs = createdAtMs;
  }

  get recent(): Iterable<RollupRow> {
    return this.#recent.values();
  }

  /** Applies rows read since the last run; false when one is older than the horizon. */
  apply(rows: readonly RollupRow[]): boolean {
    for (const r of rows) {
      if (r.bucketStartMs < this.horizonMs) return false;
      const key = keyOf(r);
      const old = this.#recent.get(key)?.count ?? 0;
      this.#recent.set(key, r);
      this.totals.set(r.optionId, (this.totals.get(r.optionId) ?? 0) + r.count - old);
      this.firstMs = Math.min(this.firstMs, r.bucketStartMs);
      this.lastMs = Math.max(this.lastMs, r.bucketStartMs);
    }
    return true;
  }

  /**
   * Forgets the rows before the window that a publication at `changedAt` shows. The window
   * only moves forward with the votes, so the horizon does too.
   */
  trim(changedAt: Date | null, windowHours: number): void {
    if (this.#recent.size === 0) return;
    const start = windowStartMs(this.firstMs, this.lastMs, changedAt, windowHours);
    if (start <= this.horizonMs) return;
    this.horizonMs = start;
    for (const [key, r] of this.#recent) if (r.bucketStartMs < start) this.#recent.delete(key);
  }
}

/** The summary of every row of a poll (a report, a bench, a test): nothing trimmed. */
export function summarize(rows: readonly RollupRow[]): RollupSummary {
  const model = new PollModel(0);
  model.apply(rows);
  return model;
}
