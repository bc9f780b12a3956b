// How results are drawn: the one home of the chart look that the result publisher's PNG
// (result-publisher/chart.ts, Chart.js on @napi-rs/canvas) and the pages (the dashboard's
// Chart.js charts, the kiosk display's bars) share, so that an option has the same colour,
// the same label and the same bars wherever it is shown. A plain ES module with no
// dependencies: browsers load it as it is (types in chart-look.d.ts).

// Option colours, by the option's place in the poll. Okabe-Ito's six hues that read on
// white, then Paul Tol's indigo, wine and dark green: every pair stays apart (CIEDE2000 ≥ 10)
// for protan, deutan and tritan vision too, and apart from OTHER_COLOR. Nine, as many as
// the distribution draws options one by one (MAX_CHART_SERIES - 1); a poll with more
// options repeats them, and the labels tell those apart.
const LIGHT = [
  "#0072B2", // blue
  "#E69F00", // orange
  "#009E73", // bluish green
  "#CC79A7", // reddish purple
  "#56B4E9", // sky blue
  "#D55E00", // vermilion
  "#332288", // indigo
  "#882255", // wine
  "#225522", // dark green
];
// The same hues, lightened to read on the kiosk display's black screen.
const DARK = [
  "#56B4E9",
  "#F0C020",
  "#2EC99A",
  "#E59CC8",
  "#9AD0F5",
  "#FF8A3D",
  "#8877DD",
  "#DD6699",
  "#77BB66",
];

/** Option colours on a light background, by the option's place in the poll. */
export const OPTION_COLORS = Object.freeze([...LIGHT]);
/** The "Other" series (the options not drawn one by one): a grey no option has. */
export const OTHER_COLOR = "#BBBBBB";

/**
 * The colour of the option at `index` in the poll's option order (the totals' order).
 * @param {number} index
 * @param {boolean} [dark] on a dark background (the same hue, lighter)
 * @returns {string}
 */
export function optionColor(index, dark = false) {
  const palette = dark ? DARK : LIGHT;
  return palette[index % palette.length];
}

/** Options drawn one by one in the distribution; the others are summed into one "Other". */
export const MAX_CHART_SERIES = 10;
/** Bars at most in the distribution; beyond, consecutive buckets are summed into one bar. */
export const MAX_CHART_BARS = 144;

/**
 * What a distribution chart draws, from the published distribution: a 100-option poll over
 * two days is 28,800 bars, which a browser draws in seconds (and nobody can read 100
 * stacked colours). The chart shows the leading options and "Other", and groups
 * consecutive buckets into wider bars; tables and the JSON keep every option and bucket.
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

/**
 * The legend entry and colour of a series of chartSeries: its option's label and colour
 * (as in the totals), or "Other (n options)" in OTHER_COLOR.
 * @param {{ optionId: string | null, others: number }} series
 * @param {{ id: string, label: string }[]} options the poll's options, in order
 * @returns {{ label: string, color: string }}
 */
export function seriesLook(series, options) {
  if (series.optionId === null)
    return { label: `Other (${series.others} options)`, color: OTHER_COLOR };
  const index = options.findIndex((o) => o.id === series.optionId);
  if (index === -1) return { label: series.optionId, color: OTHER_COLOR };
  return { label: options[index].label, color: optionColor(index) };
}

const countFormat = new Intl.NumberFormat("en");
const shareFormat = new Intl.NumberFormat("en", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

/**
 * The number at the end of a totals bar: "1,234 · 56.3%".
 * @param {number} count
 * @param {number} share count / total, 0 to 1
 * @returns {string}
 */
export function valueLabel(count, share) {
  return `${countFormat.format(count)} · ${shareFormat.format(share)}`;
}

/**
 * How long one bar is: "10 minutes", "20 minutes", "2 h".
 * @param {number} minutes
 * @returns {string}
 */
export function spanText(minutes) {
  return minutes % 60 === 0 ? `${minutes / 60} h` : `${minutes} minutes`;
}

const DAY_MS = 86_400_000;

/**
 * The time under each bar of chartSeries: the bar's start in the poll's time zone, "11:50",
 * with the date ("29 Mar, 11:50") when the distribution spans more than a day. An unknown
 * time zone throws (RangeError), as Intl does.
 * @param {{ start: string | null, buckets: number, bucketMinutes: number }} distribution
 * @param {{ minutesPerBar: number, bars: number }} drawn what chartSeries returned
 * @param {string | undefined} timeZone undefined: the device's
 * @returns {string[]}
 */
export function barLabels(distribution, drawn, timeZone) {
  const startMs = distribution.start ? Date.parse(distribution.start) : 0;
  const withDate = distribution.buckets * distribution.bucketMinutes * 60_000 > DAY_MS;
  const format = new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    ...(withDate ? { day: "numeric", month: "short" } : {}),
  });
  const stepMs = drawn.minutesPerBar * 60_000;
  return Array.from({ length: drawn.bars }, (_, i) => format.format(startMs + i * stepMs));
}

/**
 * The totals chart, one bar per option in option order: its label, colour and the number at
 * its end.
 * @param {{ label: string, count: number, share: number }[]} options
 * @returns {{ label: string, color: string, value: string }[]}
 */
export function totalsLook(options) {
  return options.map((o, i) => ({
    label: o.label,
    color: optionColor(i),
    value: valueLabel(o.count, o.share),
  }));
}

/**
 * The distribution chart: chartSeries's bars and series, with the time under each bar and
 * each series's label and colour. An unknown time zone throws, as barLabels does.
 * @param {{ start: string | null, bucketMinutes: number, buckets: number,
 *   series: { optionId: string, counts: number[] }[] }} distribution
 * @param {{ id: string, label: string, count: number }[]} options
 * @param {string | undefined} timeZone
 * @returns {{ minutesPerBar: number, bars: number, others: number, labels: string[],
 *   datasets: { label: string, color: string, counts: number[] }[] }}
 *   others: how many options the "Other" series sums (0: none)
 */
export function distributionLook(distribution, options, timeZone) {
  const drawn = chartSeries(distribution, options);
  return {
    minutesPerBar: drawn.minutesPerBar,
    bars: drawn.bars,
    others: drawn.series.find((s) => s.optionId === null)?.others ?? 0,
    labels: barLabels(distribution, drawn, timeZone),
    datasets: drawn.series.map((s) => ({ ...seriesLook(s, options), counts: s.counts })),
  };
}
