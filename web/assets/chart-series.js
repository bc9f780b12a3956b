// What the dashboard's distribution chart draws, from the published distribution: a
// 100-option poll over two days is 28,800 bars, which a browser draws in seconds (and
// nobody can read 100 stacked colours). The chart shows the leading options and "Other",
// and groups consecutive buckets into wider bars; the table and the JSON keep every
// option and every 10-minute bucket.

/** Options drawn one by one; the others are summed into one "Other" series. */
export const MAX_CHART_SERIES = 10;
/** Bars at most; beyond, consecutive 10-minute buckets are summed into one bar. */
export const MAX_CHART_BARS = 144;

/**
 * @param {{ bucketMinutes: number, buckets: number,
 *   series: { optionId: string, counts: number[] }[] }} distribution
 * @param {{ id: string, count: number }[]} options totals, to pick the leading options
 * @returns {{ minutesPerBar: number, bars: number,
 *   series: { optionId: string | null, others: number, counts: number[] }[] }}
 *   optionId null for the "Other" series, which sums `others` options
 */
export function chartSeries(distribution, options) {
  const group = Math.max(1, Math.ceil(distribution.buckets / MAX_CHART_BARS));
  const bars = Math.ceil(distribution.buckets / group);
  const grouped = (counts) => {
    const out = new Array(bars).fill(0);
    counts.forEach((n, i) => {
      out[Math.floor(i / group)] += n;
    });
    return out;
  };
  const countOf = new Map(options.map((o) => [o.id, o.count]));
  const all = distribution.series;
  let kept = all;
  let rest = [];
  if (all.length > MAX_CHART_SERIES) {
    // The leading options by total (ties: option order), drawn in option order.
    const leading = new Set(
      all
        .map((s, i) => ({ id: s.optionId, count: countOf.get(s.optionId) ?? 0, i }))
        .sort((a, b) => b.count - a.count || a.i - b.i)
        .slice(0, MAX_CHART_SERIES - 1)
        .map((s) => s.id),
    );
    kept = all.filter((s) => leading.has(s.optionId));
    rest = all.filter((s) => !leading.has(s.optionId));
  }
  const series = kept.map((s) => ({ optionId: s.optionId, others: 0, counts: grouped(s.counts) }));
  if (rest.length > 0) {
    const sum = new Array(distribution.buckets).fill(0);
    for (const s of rest)
      s.counts.forEach((n, i) => {
        sum[i] += n;
      });
    series.push({ optionId: null, others: rest.length, counts: grouped(sum) });
  }
  return { minutesPerBar: group * distribution.bucketMinutes, bars, series };
}
