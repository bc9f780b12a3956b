// The live dashboard: /dashboard/:pollId. Totals (chart and table), the 10-minute
// distribution (stacked chart and table), and how fresh the data is, updated from the
// results' Server-Sent Events (or by polling while they are unavailable).

import { distributionLook, spanText, totalsLook } from "/common/browser/chart-look.js";
import {
  el,
  formatCount,
  formatHourMinute,
  formatShare,
  formatTime,
  freshnessText,
  windowText,
} from "./format.js";
import { pollIdFromPath, runResultsPage, serverNow } from "./live.js";

/** The Chart.js UMD bundle (loaded before this module); absent if it failed to load. */
const Chart = globalThis.Chart;
const TABLE_BUCKETS = 36; // the distribution table lists the latest 6 hours
const ANIMATED_BARS = 400; // beyond, the distribution chart is drawn without animation
const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pollId = pollIdFromPath();

/** What the page knows about the poll: the public registry entry, then the results. */
const poll = { id: pollId, title: pollId, timeZone: "UTC", opensAt: null, closesAt: null };
/** What the page shows: the poll, and the results drawn (undefined: none, or hidden). */
const view = { poll, shown: /** @type {import("./live.js").Results | undefined} */ (undefined) };
let totalsChart;
let distributionChart;

$("kiosk-link").setAttribute("href", `/kiosk/${encodeURIComponent(pollId)}`);
// The table lists the latest buckets only (a month is 4,320 rows); the JSON has them all.
$("distribution-json").setAttribute("href", `/v1/polls/${encodeURIComponent(pollId)}/results`);

function setTitle(title) {
  poll.title = title;
  $("title").textContent = title;
  document.title = `${title} — live results`;
}

function showMessage(text) {
  const message = $("message");
  message.textContent = text;
  message.hidden = false;
  $("results").hidden = true;
}

/** after_close polls: a plain message instead of counts (the API answers 403). */
function showHidden() {
  const closes = poll.closesAt
    ? ` at ${formatTime(new Date(poll.closesAt), poll.timeZone)} (${poll.timeZone})`
    : "";
  showMessage(
    `The results of this poll are hidden until it closes${closes}. They will appear here by themselves.`,
  );
  tickClock();
}

function tickClock() {
  const now = serverNow();
  $("window").textContent = windowText(poll, now);
  $("freshness").textContent = view.shown?.hidden
    ? ""
    : view.shown
      ? (freshnessText(view.shown.asOf, poll.timeZone, now) ?? "no votes yet")
      : "";
}

function chartOptions(extra) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: reducedMotion ? false : { duration: 300 },
    plugins: { tooltip: { enabled: true } },
    ...extra,
  };
}

/** Draws "9 · 56.3%" at the end of each totals bar (the PNG's label too). */
const barValueLabels = {
  id: "barValueLabels",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const meta = chart.getDatasetMeta(0);
    const values = chart.data.datasets[0]?.values ?? [];
    ctx.save();
    ctx.fillStyle = "#1a1a1a";
    ctx.font = "600 14px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    meta.data.forEach((bar, i) => {
      ctx.fillText(values[i] ?? "", bar.x + 8, bar.y);
    });
    ctx.restore();
  },
};

function renderTotals(results) {
  const options = results.options ?? [];
  $("total-votes").textContent = formatCount(results.totalVotes ?? 0);
  $("totals-foot").textContent = formatCount(results.totalVotes ?? 0);
  $("totals-body").replaceChildren(
    ...options.map((o) => {
      const row = el("tr", null, { "data-option-id": o.id });
      row.append(
        el("th", o.label, { scope: "row" }),
        el("td", formatCount(o.count), { class: "num" }),
        el("td", formatShare(o.share), { class: "num" }),
      );
      return row;
    }),
  );
  const summary = options
    .map((o) => `${o.label}: ${formatCount(o.count)} (${formatShare(o.share)})`)
    .join(", ");
  $("totals-chart").setAttribute(
    "aria-label",
    `Bar chart of votes per option. ${summary}. Total ${formatCount(results.totalVotes ?? 0)}.`,
  );
  if (!Chart) return;
  $("totals-box").style.height = `${Math.max(120, options.length * 52 + 40)}px`;
  const bars = totalsLook(options);
  const data = {
    labels: bars.map((b) => b.label),
    datasets: [
      {
        label: "Votes",
        data: options.map((o) => o.count),
        values: bars.map((b) => b.value),
        backgroundColor: bars.map((b) => b.color),
        borderRadius: 4,
        maxBarThickness: 40,
      },
    ],
  };
  if (totalsChart) {
    totalsChart.data = data;
    totalsChart.update();
    return;
  }
  totalsChart = new Chart(/** @type {HTMLCanvasElement} */ ($("totals-chart")), {
    type: "bar",
    data,
    plugins: [barValueLabels],
    options: chartOptions({
      indexAxis: "y",
      layout: { padding: { right: 110 } },
      plugins: { legend: { display: false } },
      scales: {
        x: { beginAtZero: true, ticks: { precision: 0, color: "#333" } },
        y: { ticks: { color: "#1a1a1a", font: { size: 15, weight: "600" } } },
      },
    }),
  });
}

function bucketLabels(distribution) {
  const start = distribution.start ? Date.parse(distribution.start) : 0;
  const step = distribution.bucketMinutes * 60_000;
  return Array.from({ length: distribution.buckets }, (_, i) =>
    formatHourMinute(new Date(start + i * step), poll.timeZone),
  );
}

/** The distribution chart's look, with times in the poll's zone (the device's if unknown). */
function distributionChartLook(distribution, options) {
  try {
    return distributionLook(distribution, options, poll.timeZone);
  } catch {
    return distributionLook(distribution, options, undefined);
  }
}

function renderDistribution(results) {
  const distribution = results.distribution;
  const options = results.options ?? [];
  const empty = !distribution || distribution.buckets === 0;
  $("distribution-empty").hidden = !empty;
  $("distribution-box").hidden = empty;
  $("distribution-details").hidden = empty;
  if (!distribution) return;
  // The bucket width the results were published with.
  const perBucket = `Votes per ${spanText(distribution.bucketMinutes)}`;
  $("distribution-heading").textContent = perBucket;
  $("distribution-summary").textContent =
    `Show the numbers per ${spanText(distribution.bucketMinutes)}`;
  if (empty) return;
  const labels = bucketLabels(distribution);
  const labelOf = new Map(options.map((o) => [o.id, o.label]));
  const series = distribution.series;
  // The distribution covers at most the window; earlier votes are in the totals only.
  const before = series.reduce((sum, s) => sum + (s.before ?? 0), 0);
  $("distribution-window").hidden = before === 0;
  $("distribution-window").textContent =
    before === 0
      ? ""
      : `Showing the latest ${distribution.windowHours} hours from ${labels[0]}; ${formatCount(before)} earlier ${before === 1 ? "vote is" : "votes are"} counted in the totals only.`;

  // The table: the latest buckets, newest first, one column per option.
  const from = Math.max(0, labels.length - TABLE_BUCKETS);
  $("distribution-caption").textContent =
    from === 0
      ? `${perBucket} (times in ${poll.timeZone})`
      : `${perBucket}, the latest ${TABLE_BUCKETS} of ${labels.length} (times in ${poll.timeZone})`;
  const head = el("tr");
  head.append(el("th", "From", { scope: "col" }));
  for (const s of series)
    head.append(el("th", labelOf.get(s.optionId) ?? s.optionId, { scope: "col", class: "num" }));
  head.append(el("th", "All", { scope: "col", class: "num" }));
  $("distribution-head").replaceChildren(head);
  const rows = [];
  for (let i = labels.length - 1; i >= from; i--) {
    const row = el("tr");
    row.append(el("th", labels[i], { scope: "row" }));
    let sum = 0;
    for (const s of series) {
      const n = s.counts[i] ?? 0;
      sum += n;
      row.append(el("td", formatCount(n), { class: "num" }));
    }
    row.append(el("td", formatCount(sum), { class: "num" }));
    rows.push(row);
  }
  $("distribution-body").replaceChildren(...rows);
  // The leading options and "Other", in bars of up to MAX_CHART_BARS, as the PNG draws them.
  const look = distributionChartLook(distribution, options);
  $("distribution-chart").setAttribute(
    "aria-label",
    `Stacked bar chart of votes per ${spanText(look.minutesPerBar)} from ${labels[0]} to ${labels.at(-1)} (${poll.timeZone}), one color per option${look.others > 0 ? `, the ${look.datasets.length - 1} leading options and the other ${look.others} together` : ""}. The numbers are in the table below.`,
  );
  if (!Chart) return;
  const data = {
    labels: look.labels,
    // Each option in its own colour and label, as in the totals chart.
    datasets: look.datasets.map((d) => ({
      label: d.label,
      data: d.counts,
      backgroundColor: d.color,
      stack: "votes",
    })),
  };
  if (distributionChart) {
    distributionChart.data = data;
    distributionChart.update();
    return;
  }
  distributionChart = new Chart(/** @type {HTMLCanvasElement} */ ($("distribution-chart")), {
    type: "bar",
    data,
    options: chartOptions({
      // Animating hundreds of stacked bars costs every frame of the first second.
      ...(look.bars * look.datasets.length > ANIMATED_BARS ? { animation: false } : {}),
      plugins: {
        legend: { position: "bottom", labels: { color: "#1a1a1a", font: { size: 14 } } },
      },
      scales: {
        x: { stacked: true, ticks: { color: "#333", maxRotation: 0, autoSkip: true } },
        y: { stacked: true, beginAtZero: true, ticks: { precision: 0, color: "#333" } },
      },
    }),
  });
}

function render(results) {
  setTitle(results.title);
  if (results.hidden) return showHidden();
  $("message").hidden = true;
  $("results").hidden = false; // before drawing: Chart.js sizes itself to a visible box
  renderTotals(results);
  renderDistribution(results);
  tickClock();
}

runResultsPage(pollId, view, {
  render,
  setTitle,
  notReadyText: "No results have been published yet. This page updates by itself.",
  showMessage,
  showHidden,
  tick: tickClock,
});
