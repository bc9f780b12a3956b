import { type Canvas, createCanvas, type SKRSContext2D } from "@napi-rs/canvas";
import {
  Chart,
  type ChartConfiguration,
  type ChartItem,
  type Plugin,
  registerables,
} from "chart.js";
import type { PublishedResults, VisibleResults } from "../common/results-contract.ts";
import { BUCKET_MS } from "../common/rollup-buckets.ts";

// Server-side charts: Chart.js drawing on @napi-rs/canvas (Skia, shipped as a prebuilt
// binary inside its npm package: no Cairo headers, no download at install).

Chart.register(...registerables);
Chart.defaults.font.family = "DejaVu Sans, Liberation Sans, Arial, sans-serif";
Chart.defaults.color = "#111827";

// High-contrast, colour-blind-friendly palette (Okabe-Ito, then Tableau).
const PALETTE = [
  "#0072B2",
  "#E69F00",
  "#009E73",
  "#D55E00",
  "#CC79A7",
  "#56B4E9",
  "#F0E442",
  "#000000",
  "#4E79A7",
  "#F28E2B",
  "#59A14F",
  "#E15759",
  "#76B7B2",
  "#EDC948",
  "#B07AA1",
  "#9C755F",
];
const colour = (i: number) => PALETTE[i % PALETTE.length]!;

// The chart's own resolution: a month of 10-minute buckets would be unreadable bars, so
// the picture groups them (the JSON keeps every 10-minute bucket).
const MAX_CHART_BUCKETS = 144;

/** Numbers at the end of each bar, readable from across a room. */
const barValues: Plugin<"bar"> = {
  id: "barValues",
  afterDatasetsDraw(chart) {
    const ctx = chart.ctx;
    ctx.save();
    ctx.font = `bold ${Math.round(chart.height / 14)}px ${Chart.defaults.font.family}`;
    ctx.fillStyle = "#111827";
    ctx.textBaseline = "middle";
    const meta = chart.getDatasetMeta(0);
    meta.data.forEach((bar, i) => {
      const value = chart.data.datasets[0]?.data[i];
      if (typeof value !== "number") return;
      ctx.fillText(` ${value.toLocaleString("en-US")}`, bar.x + 4, bar.y);
    });
    ctx.restore();
  },
};

function timeLabel(ms: number, timeZone: string, withDate: boolean, withSeconds = false): string {
  return new Intl.DateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    ...(withSeconds ? { second: "2-digit" } : {}),
    ...(withDate ? { day: "2-digit", month: "short" } : {}),
  }).format(ms);
}

/** Draws a chart on its own canvas, copies it onto `target` at `y`, then frees the chart. */
function draw(canvas: Canvas, config: ChartConfiguration, target: SKRSContext2D, y: number): void {
  const chart = new Chart(canvas.getContext("2d") as unknown as ChartItem, config);
  target.drawImage(canvas, 0, y);
  // destroy() also clears the canvas, so it comes after the copy.
  chart.destroy();
}

function header(results: PublishedResults): { title: string; subtitle: string } {
  const asOf = results.asOf
    ? `as of ${timeLabel(Date.parse(results.asOf), results.timeZone, true, true)} (${results.timeZone})`
    : "no votes yet";
  const total = results.hidden ? "" : `${results.totalVotes.toLocaleString("en-US")} votes · `;
  return { title: results.title, subtitle: `${total}${asOf}` };
}

function totalsChart(
  results: VisibleResults,
  width: number,
  height: number,
  target: SKRSContext2D,
): void {
  const canvas = createCanvas(width, height);
  const { title, subtitle } = header(results);
  const big = Math.round(height / 12);
  draw(
    canvas,
    {
      type: "bar",
      data: {
        labels: results.options.map((o) => `${o.label} (${Math.round(o.share * 100)}%)`),
        datasets: [
          {
            label: "votes",
            data: results.options.map((o) => o.count),
            backgroundColor: results.options.map((_, i) => colour(i)),
          },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: false,
        animation: false,
        devicePixelRatio: 1,
        layout: { padding: { right: big * 3, left: 12, top: 8 } },
        plugins: {
          legend: { display: false },
          title: { display: true, text: title, font: { size: big, weight: "bold" } },
          subtitle: { display: true, text: subtitle, font: { size: Math.round(big * 0.55) } },
        },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0, font: { size: Math.round(big * 0.45) } } },
          y: { ticks: { font: { size: Math.round(big * 0.6) } } },
        },
      },
      plugins: [barValues as Plugin],
    },
    target,
    0,
  );
}

function distributionChart(
  results: VisibleResults,
  width: number,
  height: number,
  target: SKRSContext2D,
  y: number,
): void {
  const canvas = createCanvas(width, height);
  const { buckets, series } = results.distribution;
  const startMs = results.distribution.start ? Date.parse(results.distribution.start) : 0;
  const group = Math.max(1, Math.ceil(buckets / MAX_CHART_BUCKETS));
  const groups = Math.ceil(buckets / group);
  const spansDays = buckets * BUCKET_MS > 86_400_000;
  const labels = Array.from({ length: groups }, (_, g) =>
    timeLabel(startMs + g * group * BUCKET_MS, results.timeZone, spansDays),
  );
  const minutes = group * 10;
  const small = Math.round(height / 22);
  draw(
    canvas,
    {
      type: "bar",
      data: {
        labels,
        datasets: series.map((s, i) => ({
          label: results.options[i]?.label ?? s.optionId,
          backgroundColor: colour(i),
          data: Array.from({ length: groups }, (_, g) =>
            s.counts.slice(g * group, (g + 1) * group).reduce((a, b) => a + b, 0),
          ),
        })),
      },
      options: {
        responsive: false,
        animation: false,
        devicePixelRatio: 1,
        plugins: {
          title: {
            display: true,
            text: `Votes per ${minutes >= 60 ? `${minutes / 60} h` : `${minutes} minutes`} (${results.timeZone})`,
            font: { size: Math.round(small * 1.2), weight: "bold" },
          },
          legend: { position: "bottom", labels: { font: { size: small } } },
        },
        scales: {
          x: { stacked: true, ticks: { font: { size: Math.round(small * 0.8) }, autoSkip: true } },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0, font: { size: small } } },
        },
      },
    },
    target,
    y,
  );
}

function hiddenChart(results: PublishedResults, width: number, height: number): Canvas {
  const canvas = createCanvas(width, height);
  const ctx: SKRSContext2D = canvas.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = "#111827";
  ctx.textAlign = "center";
  ctx.font = `bold ${Math.round(height / 12)}px ${Chart.defaults.font.family}`;
  ctx.fillText(results.title, width / 2, height * 0.4, width * 0.9);
  ctx.font = `${Math.round(height / 22)}px ${Chart.defaults.font.family}`;
  const message = results.hidden ? results.message : "";
  ctx.fillText(message, width / 2, height * 0.55, width * 0.9);
  return canvas;
}

/**
 * One PNG per publication: totals on top, the stacked distribution below, on white. A
 * hidden poll gets a placeholder with its title and when results will show: no counts.
 */
export async function renderResultsPng(
  results: PublishedResults,
  width: number,
  height: number,
): Promise<Buffer> {
  if (results.hidden) return hiddenChart(results, width, height).encode("png");
  const topHeight = Math.round(height * 0.45);
  const final = createCanvas(width, height);
  const ctx = final.getContext("2d");
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  totalsChart(results, width, topHeight, ctx);
  distributionChart(results, width, height - topHeight, ctx, topHeight);
  return final.encode("png");
}
