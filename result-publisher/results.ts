import type { HiddenResults, OptionTotal, VisibleResults } from "../common/results-contract.ts";
import { BUCKET_MINUTES, BUCKET_MS, bucketStartMs } from "../common/rollup-buckets.ts";
import { type RollupSummary, summarize, windowStartMs } from "./poll-model.ts";
import { type PollRecord, resultsStatus, resultsVersion } from "./published-version.ts";
import type { RollupRow } from "./rollup-store.ts";

const isRows = (r: readonly RollupRow[] | RollupSummary): r is readonly RollupRow[] =>
  Array.isArray(r);

const iso = (d: Date | null) => (d === null ? null : d.toISOString());

/** The fields every publication has, hidden or not. */
function baseFields(poll: PollRecord, nowMs: number, hidden: boolean) {
  return {
    pollId: poll.id,
    title: poll.title,
    timeZone: poll.timeZone,
    opensAt: iso(poll.opensAt),
    closesAt: iso(poll.closesAt),
    status: resultsStatus(poll, nowMs),
    version: resultsVersion(poll, hidden, nowMs),
    asOf: iso(poll.changedAt),
    publishedAt: new Date(nowMs).toISOString(),
  };
}

export function hiddenResults(poll: PollRecord, nowMs: number): HiddenResults {
  return {
    ...baseFields(poll, nowMs, true),
    // The time of the last vote would tell when (and how often) votes arrive.
    asOf: null,
    hidden: true,
    resultsVisibility: "after_close",
    message:
      poll.closesAt === null
        ? "Results are shown after the poll closes."
        : `Results are shown after the poll closes at ${poll.closesAt.toISOString()}.`,
  };
}

/**
 * Totals and the zero-filled 10-minute distribution from a poll's rollups (every row, or
 * the publisher's summary of them: poll-model.ts). The distribution runs from the first
 * vote's bucket to the bucket of `asOf`, so that one version always has the same content,
 * and is cut to the latest `windowHours` of buckets ending there: one back-dated vote must
 * not make every reader download (and draw) a month of empty buckets. Votes before the
 * window still count in the totals, and each series says how many of its option's votes
 * are before `start`. Votes for options no longer listed still count in the total and are
 * reported under their id.
 */
export function visibleResults(
  poll: PollRecord,
  rollups: readonly RollupRow[] | RollupSummary,
  nowMs: number,
  chart: { width: number; height: number } | null,
  windowHours: number,
): VisibleResults {
  const summary = isRows(rollups) ? summarize(rollups) : rollups;
  const counts = summary.totals;
  const optionIds = poll.options.map((o) => o.id);
  for (const id of counts.keys()) if (!optionIds.includes(id)) optionIds.push(id);
  const labels = new Map(poll.options.map((o) => [o.id, o.label]));
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const options: OptionTotal[] = optionIds.map((id) => {
    const count = counts.get(id) ?? 0;
    return { id, label: labels.get(id) ?? id, count, share: total === 0 ? 0 : count / total };
  });

  let buckets = 0;
  let start: number | null = null;
  if (summary.lastMs >= summary.firstMs) {
    start = windowStartMs(summary.firstMs, summary.lastMs, poll.changedAt, windowHours);
    const asOfBucket =
      poll.changedAt === null ? summary.lastMs : bucketStartMs(poll.changedAt.getTime());
    buckets = (Math.max(summary.lastMs, asOfBucket) - start) / BUCKET_MS + 1;
  }
  const index = new Map(optionIds.map((id, i) => [id, i]));
  const series = optionIds.map((optionId) => ({
    optionId,
    counts: new Array<number>(buckets).fill(0),
    before: counts.get(optionId) ?? 0,
  }));
  if (start !== null) {
    // Each option's votes before the window: its total less what the window shows.
    for (const r of summary.recent) {
      if (r.bucketStartMs < start) continue;
      const s = series[index.get(r.optionId)!]!;
      s.counts[(r.bucketStartMs - start) / BUCKET_MS]! += r.count;
      s.before -= r.count;
    }
  }
  return {
    ...baseFields(poll, nowMs, false),
    hidden: false,
    totalVotes: total,
    options,
    distribution: {
      bucketMinutes: BUCKET_MINUTES,
      start: start === null ? null : new Date(start).toISOString(),
      buckets,
      windowHours,
      series,
    },
    chart,
  };
}
