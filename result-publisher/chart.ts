import { type Canvas, createCanvas, type SKRSContext2D } from "@napi-rs/canvas";
import {
  Chart,
  type ChartConfiguration,
  type ChartItem,
  type Plugin,
  registerables,
} from "chart.js";
import { distributionLook, spanText, totalsLook } from "../common/browser/chart-look.js";
import type { PublishedResults, VisibleResults } from "../common/results-contract.ts";

// Server-side charts: Chart.js drawing on @napi-rs/canvas (Skia, shipped as a prebuilt
// binary inside its npm package: no Cairo headers, no download at install). Colours, labels
// and the distribution's bars and series come from the chart look the dashboard uses too
// (common/browser/chart-look.js).

Chart.register(...registerables);
Chart.defaults.font.family = "DejaVu Sans, Liberation Sans, Arial, sans-serif";
Chart.defaults.color = "#111827";

/** "1,234 · 56.3%" at the end of each totals bar, readable from across a room. */
function barValues(font: string, labels: string[]): Plugin<"bar"> {
  return {
    id: "barValues",
    afterDatasetsDraw(chart) {
      const ctx = chart.ctx;
      ctx.save();
      ctx.font = font;
      ctx.fillStyle = "#111827";
      ctx.textBaseline = "middle";
      chart.getDatasetMeta(0).data.forEach((bar, i) => {
        ctx.fillText(labels[i] ?? "", bar.x + 8, bar.y);
      });
      ctx.restore();
    },
  };
}

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
  const bars = totalsLook(results.options);
  const big = Math.round(height / 12);
  // Every option keeps its label: the rows shrink to fit the options (below the title,
  // the subtitle and the x axis, about 60% of the height is bars).
  const row = Math.floor((height * 0.6) / Math.max(1, bars.length));
  const labelSize = Math.max(10, Math.min(Math.round(big * 0.6), Math.floor(row * 0.6)));
  const valueFont = `bold ${labelSize}px ${Chart.defaults.font.family}`;
  const values = bars.map((b) => b.value);
  const measure = canvas.getContext("2d");
  measure.font = valueFont;
  const valuesWidth = Math.max(0, ...values.map((v) => measure.measureText(v).width));
  draw(
    canvas,
    {
      type: "bar",
      data: {
        labels: bars.map((b) => b.label),
        datasets: [
          {
            label: "votes",
            data: results.options.map((o) => o.count),
            backgroundColor: bars.map((b) => b.color),
          },
        ],
      },
      options: {
        indexAxis: "y",
        responsive: false,
        animation: false,
        devicePixelRatio: 1,
        layout: { padding: { right: Math.ceil(valuesWidth) + 16, left: 12, top: 8 } },
        plugins: {
          legend: { display: false },
          title: { display: true, text: title, font: { size: big, weight: "bold" } },
          subtitle: { display: true, text: subtitle, font: { size: Math.round(big * 0.55) } },
        },
        scales: {
          x: { beginAtZero: true, ticks: { precision: 0, font: { size: Math.round(big * 0.45) } } },
          y: { ticks: { autoSkip: false, font: { size: labelSize } } },
        },
      },
      plugins: [barValues(valueFont, values) as Plugin],
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
  const { timeZone } = results;
  const look = distributionLook(results.distribution, results.options, timeZone);
  const small = Math.round(height / 22);
  draw(
    canvas,
    {
      type: "bar",
      data: {
        labels: look.labels,
        datasets: look.datasets.map((d) => ({
          label: d.label,
          backgroundColor: d.color,
          data: d.counts,
        })),
      },
      options: {
        responsive: false,
        animation: false,
        devicePixelRatio: 1,
        plugins: {
          title: {
            display: true,
            text: `Votes per ${spanText(look.minutesPerBar)} (${timeZone})`,
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
