// Formatting shared by the pages: numbers, shares, times in the poll's time zone.

import { instantMs, pollPhase } from "/common/browser/poll-phase.js";

const numberFormat = new Intl.NumberFormat("en");
const shareFormat = new Intl.NumberFormat("en", {
  style: "percent",
  minimumFractionDigits: 1,
  maximumFractionDigits: 1,
});

/** 1234 → "1,234" */
export function formatCount(n) {
  return numberFormat.format(n);
}

/** 0.5625 → "56.3%" */
export function formatShare(share) {
  return shareFormat.format(share);
}

const formatters = new Map();

/** An Intl.DateTimeFormat in the poll's time zone (the device's when the zone is unknown). */
function formatter(timeZone, options) {
  const key = `${timeZone}|${JSON.stringify(options)}`;
  let f = formatters.get(key);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-GB", { ...options, timeZone });
    } catch {
      f = new Intl.DateTimeFormat("en-GB", options);
    }
    formatters.set(key, f);
  }
  return f;
}

const CLOCK = { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" };
const HOUR_MINUTE = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
const DAY = { day: "numeric", month: "short" };
const DAY_KEY = { year: "numeric", month: "2-digit", day: "2-digit" };

function sameDay(a, b, timeZone) {
  const f = formatter(timeZone, DAY_KEY);
  return f.format(a) === f.format(b);
}

/** "12:04:05", or "21 Nov 12:04:05" when not today (in the poll's time zone). */
export function formatClock(date, timeZone, now = new Date()) {
  const time = formatter(timeZone, CLOCK).format(date);
  return sameDay(date, now, timeZone) ? time : `${formatter(timeZone, DAY).format(date)} ${time}`;
}

/** "18:00", or "22 Nov 18:00" when not today. */
export function formatTime(date, timeZone, now = new Date()) {
  const time = formatter(timeZone, HOUR_MINUTE).format(date);
  return sameDay(date, now, timeZone) ? time : `${formatter(timeZone, DAY).format(date)} ${time}`;
}

/** "11:50" (a bucket's start), always without the date. */
export function formatHourMinute(date, timeZone) {
  return formatter(timeZone, HOUR_MINUTE).format(date);
}

/** 3200 → "3 s ago", 125000 → "2 min ago", 7500000 → "2 h 5 min ago". */
export function formatAgo(ms) {
  const s = Math.floor(Math.max(0, ms) / 1000);
  if (s < 1) return "just now";
  if (s < 60) return `${s} s ago`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.floor(min / 60);
  if (h < 48) return min % 60 === 0 ? `${h} h ago` : `${h} h ${min % 60} min ago`;
  return `${Math.floor(h / 24)} days ago`;
}

/** "as of 12:04:05, 3 s ago" for a publication; undefined before the first vote. */
export function freshnessText(asOf, timeZone, nowMs) {
  if (!asOf) return undefined;
  const date = new Date(asOf);
  return `as of ${formatClock(date, timeZone, new Date(nowMs))}, ${formatAgo(nowMs - date.getTime())}`;
}

/** "Open · closes 22 Nov 18:00", "Closed 18:00", "Opens 09:00" for a poll's window. */
export function windowText(poll, nowMs) {
  const now = new Date(nowMs);
  const opens = poll.opensAt ? new Date(poll.opensAt) : undefined;
  const closes = poll.closesAt ? new Date(poll.closesAt) : undefined;
  const phase = pollPhase(
    { opensAtMs: instantMs(poll.opensAt), closesAtMs: instantMs(poll.closesAt) },
    nowMs,
  );
  if (phase === "not_open" && opens) return `Opens ${formatTime(opens, poll.timeZone, now)}`;
  if (phase === "closed" && closes) return `Closed at ${formatTime(closes, poll.timeZone, now)}`;
  return closes ? `Open · closes ${formatTime(closes, poll.timeZone, now)}` : "Open";
}

/** document.createElement with text and attributes. */
export function el(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}
