// The kiosk / wall display: /kiosk/:pollId, or /kiosk/:pollId?image=1 for devices too weak
// for anything but an image (the server-rendered PNG of the same version).

import { optionColor } from "/common/browser/chart-look.js";
import { el, formatCount, formatShare, formatTime, freshnessText, windowText } from "./format.js";
import { pollIdFromPath, runResultsPage, serverNow } from "./live.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));
const pollId = pollIdFromPath();
const imageMode = new URLSearchParams(location.search).get("image") === "1";
const poll = { id: pollId, timeZone: "UTC", opensAt: null, closesAt: null };
/** What the page shows: the poll, and the results drawn (undefined: none, or hidden). */
const view = { poll, shown: /** @type {import("./live.js").Results | undefined} */ (undefined) };
let imageFailedFor;
// The PNG of a new version is drawn a moment after its JSON (503 chart_unavailable until
// then): the image is asked again this many times, a second apart, before the table shows.
const IMAGE_RETRIES = 5;
const IMAGE_RETRY_MS = 1_000;
let imageRetries = 0;
let imageRetryTimer;

if (imageMode) document.documentElement.classList.add("image-mode");

function showMessage(text) {
  $("message").textContent = text;
  $("message").hidden = false;
  $("totals").hidden = true;
  $("image-view").hidden = true;
  $("total").textContent = "–";
}

/** after_close polls: a plain message instead of counts (the API answers 403). */
function showHidden() {
  const closes = poll.closesAt ? ` at ${formatTime(new Date(poll.closesAt), poll.timeZone)}` : "";
  showMessage(`Results are hidden until the poll closes${closes}.`);
  tickClock();
}

function tickClock() {
  const now = serverNow();
  $("window").textContent = windowText(poll, now);
  $("freshness").textContent = view.shown
    ? (freshnessText(view.shown.asOf, poll.timeZone, now) ?? "no votes yet")
    : "";
}

function altText(results) {
  const parts = (results.options ?? []).map(
    (o) =>
      `${o.label} ${formatCount(o.count)} ${o.count === 1 ? "vote" : "votes"} (${formatShare(o.share)})`,
  );
  return `Results of ${results.title}: ${parts.join(", ")}; ${formatCount(results.totalVotes ?? 0)} votes in total.`;
}

function renderTable(results) {
  const options = results.options ?? [];
  const table = $("totals-table");
  table.style.setProperty("--rows", String(Math.max(2, options.length)));
  $("rows").replaceChildren(
    ...options.map((o, i) => {
      const row = el("tr", null, { "data-option-id": o.id });
      const fill = el("span", null, { class: "fill" });
      fill.style.width = `${(o.share * 100).toFixed(2)}%`;
      fill.style.backgroundColor = optionColor(i, true);
      const track = el("span", null, { class: "track" });
      track.append(fill);
      const bar = el("td", null, { class: "bar", "aria-hidden": "true" });
      bar.append(track);
      const label = el("th", null, { scope: "row" });
      label.append(el("span", o.label, { class: "label", title: o.label }));
      row.append(
        label,
        bar,
        el("td", formatCount(o.count), { class: "count" }),
        el("td", formatShare(o.share), { class: "share" }),
      );
      return row;
    }),
  );
  $("totals").hidden = false;
  $("image-view").hidden = true;
}

function renderImage(results) {
  const img = /** @type {HTMLImageElement} */ ($("chart-image"));
  if (img.dataset.version !== results.version) imageRetries = 0;
  img.dataset.version = results.version;
  clearTimeout(imageRetryTimer);
  img.alt = altText(results);
  // The version in the address: each publication is a new image, never a stale cached one.
  img.src = `/v1/polls/${encodeURIComponent(pollId)}/results.png?v=${encodeURIComponent(results.version)}`;
  $("image-view").hidden = false;
  $("totals").hidden = true;
}

function setTitle(title) {
  $("title").textContent = title;
  document.title = `${title} — results`;
}

function render(results) {
  setTitle(results.title);
  $("message").hidden = true;
  $("total").textContent = formatCount(results.totalVotes ?? 0);
  // No chart for this version (a failed render): the table instead, until the next one.
  if (imageMode && results.chart !== null && imageFailedFor !== results.version)
    renderImage(results);
  else renderTable(results);
  tickClock();
}

$("chart-image").addEventListener("error", () => {
  if (!view.shown) return;
  const img = /** @type {HTMLImageElement} */ ($("chart-image"));
  if (imageRetries < IMAGE_RETRIES && img.dataset.version === view.shown.version) {
    imageRetries++;
    const version = view.shown.version;
    imageRetryTimer = setTimeout(() => {
      if (view.shown?.version !== version) return;
      // Another address (the last parameter stays the version), so the browser asks again.
      img.src = `/v1/polls/${encodeURIComponent(pollId)}/results.png?try=${imageRetries}&v=${encodeURIComponent(version)}`;
    }, IMAGE_RETRY_MS);
    return;
  }
  imageFailedFor = view.shown.version;
  renderTable(view.shown);
});

runResultsPage(pollId, view, {
  render,
  setTitle,
  notReadyText: "No results yet.",
  showMessage,
  showHidden,
  tick: tickClock,
  shortConnectionText: true,
});
