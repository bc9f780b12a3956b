// Types of chart-series.js, the plain ES module the dashboard loads as it is.

export const MAX_CHART_SERIES: number;
export const MAX_CHART_BARS: number;

export function chartSeries(
  distribution: {
    bucketMinutes: number;
    buckets: number;
    series: { optionId: string; counts: number[] }[];
  },
  options: { id: string; count: number }[],
): {
  minutesPerBar: number;
  bars: number;
  series: { optionId: string | null; others: number; counts: number[] }[];
};
