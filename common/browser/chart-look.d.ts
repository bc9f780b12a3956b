// Types of chart-look.js, the plain ES module the pages load as it is.

export const OPTION_COLORS: readonly string[];
export const OTHER_COLOR: string;
export function optionColor(index: number, dark?: boolean): string;

export const MAX_CHART_SERIES: number;
export const MAX_CHART_BARS: number;

export interface ChartSeries {
  /** null for the "Other" series, which sums `others` options. */
  optionId: string | null;
  others: number;
  counts: number[];
}

export interface DrawnDistribution {
  minutesPerBar: number;
  bars: number;
  series: ChartSeries[];
}

export function chartSeries(
  distribution: {
    bucketMinutes: number;
    buckets: number;
    series: { optionId: string; counts: number[] }[];
  },
  options: { id: string; count: number }[],
): DrawnDistribution;

export function seriesLook(
  series: { optionId: string | null; others: number },
  options: { id: string; label: string }[],
): { label: string; color: string };

export function valueLabel(count: number, share: number): string;

export function spanText(minutes: number): string;

export function barLabels(
  distribution: { start: string | null; buckets: number; bucketMinutes: number },
  drawn: { minutesPerBar: number; bars: number },
  timeZone: string | undefined,
): string[];

export function totalsLook(
  options: { label: string; count: number; share: number }[],
): { label: string; color: string; value: string }[];

export function distributionLook(
  distribution: {
    start: string | null;
    bucketMinutes: number;
    buckets: number;
    series: { optionId: string; counts: number[] }[];
  },
  options: { id: string; label: string; count: number }[],
  timeZone: string | undefined,
): {
  minutesPerBar: number;
  bars: number;
  /** How many options the "Other" series sums (0: none). */
  others: number;
  labels: string[];
  datasets: { label: string; color: string; counts: number[] }[];
};
