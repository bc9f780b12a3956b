import { BUCKET_MS, bucketStartMs } from "../../common/rollup-buckets.ts";
import type { Dataset, Poll } from "./test-dataset.ts";

// An independent computation of every report in TypeScript, over the in-memory data set
// (test-dataset.ts), for reports.test.ts to compare with what psql prints. Time zones come
// from Intl (ICU), not from Postgres; nothing here reads SQL. Every row is returned in a
// canonical form: timestamps as ISO UTC strings, intervals as milliseconds, numbers as
// printed with their scale; `Approx` marks derived statistics compared within 0.01.

export { BUCKET_MS };

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface Range {
  lo: number;
  hi: number;
}
export const ALL: Range = { lo: Number.NEGATIVE_INFINITY, hi: Number.POSITIVE_INFINITY };

/** A number compared within 0.01 (z-scores, means: float here, numeric in Postgres). */
export class Approx {
  readonly value: number;
  constructor(value: number) {
    this.value = value;
  }
}
export type Cell = string | Approx;
export type Row = Cell[];

// --- time zones through Intl --------------------------------------------------------------

const formats = new Map<string, Intl.DateTimeFormat>();

function localParts(ms: number, tz: string) {
  let f = formats.get(tz);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formats.set(tz, f);
  }
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  return {
    year: Number(p.year),
    month: Number(p.month),
    day: Number(p.day),
    hour: Number(p.hour),
    minute: Number(p.minute),
    second: Number(p.second),
  };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** The local calendar date (YYYY-MM-DD) of an instant. */
export function localDate(ms: number, tz: string): string {
  const p = localParts(ms, tz);
  return `${p.year}-${pad(p.month)}-${pad(p.day)}`;
}

function offsetMs(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  const whole = ms - (((ms % 1000) + 1000) % 1000);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - whole;
}

/** The instant of local midnight starting `date` (a date whose midnight exists). */
export function localMidnight(date: string, tz: string): number {
  const naive = Date.parse(`${date}T00:00:00Z`);
  const first = naive - offsetMs(naive, tz);
  return naive - offsetMs(first, tz);
}

/** The instant the local clock last showed hh:00 (the two 01:00 of a fall-back day differ). */
export function localHourStart(ms: number, tz: string): number {
  const p = localParts(ms, tz);
  return ms - (p.minute * 60 + p.second) * 1000 - (((ms % 1000) + 1000) % 1000);
}

export const bucketOf = bucketStartMs;

function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

function mondayOf(date: string): string {
  const weekday = new Date(`${date}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(date, -((weekday + 6) % 7));
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

// --- canonical forms -------------------------------------------------------------------------

export const ts = (ms: number) => new Date(ms).toISOString();
export const interval = (ms: number) => String(ms);

/** round(100.0 * a / b, 2) as Postgres prints it (half away from zero; exact halves here). */
export function pct(a: number, b: number): string {
  if (b === 0) return "";
  return (Math.round((10_000 * a) / b) / 100).toFixed(2);
}

/** Postgres timestamptz output (ISO DateStyle), e.g. 2026-03-29 12:20:00.5+01 -> epoch ms. */
export function parsePgTimestamp(text: string): number {
  const m = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::(\d\d))?$/.exec(text);
  if (!m) throw new Error(`not a timestamptz: ${text}`);
  const ms = Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4] ?? "00"}`);
  if (Number.isNaN(ms)) throw new Error(`not a timestamptz: ${text}`);
  return ms;
}

/** Postgres interval output (postgres IntervalStyle), e.g. "1 day 02:59:59.5" -> ms. */
export function parsePgInterval(text: string): number {
  const m = /^(?:(-?\d+) days? ?)?(?:(-)?(\d+):(\d\d):(\d\d(?:\.\d+)?))?$/.exec(text);
  if (!m || text === "") throw new Error(`not an interval: ${text}`);
  const days = m[1] === undefined ? 0 : Number(m[1]);
  const time =
    m[3] === undefined
      ? 0
      : (Number(m[3]) * 3600 + Number(m[4]) * 60 + Number(m[5])) * 1000 * (m[2] ? -1 : 1);
  return Math.round(days * DAY_MS + time);
}

// --- shared pieces ---------------------------------------------------------------------------

function pollOf(d: Dataset, id: string): Poll {
  const poll = d.polls.find((p) => p.id === id);
  if (!poll) throw new Error(`no poll ${id}`);
  return poll;
}

const inRange = (t: number, r: Range) => t >= r.lo && t < r.hi;
const votesOf = (d: Dataset, pollId: string, r: Range) =>
  d.votes.filter((v) => v.pollId === pollId && inRange(v.castAt, r));

/** Listed options in position order, then ids with votes that are not listed, by id. */
function optionList(poll: Poll, withVotes: Iterable<string>): { id: string; label: string }[] {
  const listed = new Set(poll.options.map((o) => o.id));
  const unlisted = [...new Set(withVotes)].filter((id) => !listed.has(id)).sort();
  return [...poll.options, ...unlisted.map((id) => ({ id, label: id }))];
}

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);

// --- 01 totals -------------------------------------------------------------------------------

export function totals(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const votes = votesOf(d, pollId, r);
  const counts = countBy(votes, (v) => v.optionId);
  const rows = optionList(pollOf(d, pollId), counts.keys()).map((o) => ({
    o,
    n: counts.get(o.id) ?? 0,
  }));
  rows.sort((a, b) => b.n - a.n); // stable: ties keep option order
  return rows.map(({ o, n }) => [
    String(1 + rows.filter((x) => x.n > n).length),
    o.id,
    o.label,
    String(n),
    pct(n, votes.length),
  ]);
}

// --- 03 calendar ------------------------------------------------------------------------------

export function calendar(
  d: Dataset,
  pollId: string,
  r: Range = ALL,
  period: "day" | "week" | "month" | "all" = "all",
): Row[] {
  const poll = pollOf(d, pollId);
  const votes = votesOf(d, pollId, r);
  const byDay = new Map<string, Map<string, number>>();
  for (const v of votes) {
    const day = localDate(v.castAt, poll.timeZone);
    const m = byDay.get(day) ?? new Map<string, number>();
    m.set(v.optionId, (m.get(v.optionId) ?? 0) + 1);
    byDay.set(day, m);
  }
  const sortedDays = [...byDay.keys()].sort();
  const first = Number.isFinite(r.lo) ? localDate(r.lo, poll.timeZone) : sortedDays[0];
  const last = Number.isFinite(r.hi) ? localDate(r.hi - 1, poll.timeZone) : sortedDays.at(-1);
  const days: string[] = [];
  if (first !== undefined && last !== undefined)
    for (let day = first; day <= last; day = addDays(day, 1)) days.push(day);
  const options = optionList(
    poll,
    votes.map((v) => v.optionId),
  );
  const rows: Row[] = [];
  const periods = [
    ["day", (day: string) => day],
    ["week", mondayOf],
    ["month", (day: string) => `${day.slice(0, 7)}-01`],
  ] as const;
  for (const [name, startOf] of periods) {
    if (period !== "all" && period !== name) continue;
    const starts = [...new Set(days.map(startOf))].sort();
    for (const start of starts) {
      const inPeriod = days.filter((day) => startOf(day) === start);
      for (const o of options) {
        const n = inPeriod.reduce((sum, day) => sum + (byDay.get(day)?.get(o.id) ?? 0), 0);
        rows.push([name, start, o.id, o.label, String(n)]);
      }
    }
  }
  return rows;
}

// --- 04 turnout and peak ---------------------------------------------------------------------

export function turnout(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const poll = pollOf(d, pollId);
  const votes = votesOf(d, pollId, r);
  // the rollup buckets overlapping the range bound the span when the range is open
  const buckets = d.votes
    .filter((v) => v.pollId === pollId)
    .map((v) => bucketOf(v.castAt))
    .filter((b) => b > r.lo - BUCKET_MS && b < r.hi);
  if (buckets.length === 0 && !(Number.isFinite(r.lo) && Number.isFinite(r.hi))) return [];
  const first = Number.isFinite(r.lo) ? r.lo : Math.min(...buckets);
  const end = Number.isFinite(r.hi) ? r.hi : Math.max(...buckets) + BUCKET_MS;
  const hours = new Set<number>();
  for (let t = first; t < end; t += 60_000) hours.add(localHourStart(t, poll.timeZone));
  hours.add(localHourStart(end - 1, poll.timeZone));
  const counts = countBy(votes, (v) => String(localHourStart(v.castAt, poll.timeZone)));
  let cumulative = 0;
  return [...hours]
    .sort((a, b) => a - b)
    .map((h) => {
      const n = counts.get(String(h)) ?? 0;
      cumulative += n;
      return [ts(h), String(n), String(cumulative), pct(cumulative, votes.length)];
    });
}

export function peak(d: Dataset, pollId: string, r: Range = ALL, top = 1): Row[] {
  const votes = votesOf(d, pollId, r);
  const counts = [...countBy(votes, (v) => String(bucketOf(v.castAt))).entries()].map(([b, n]) => ({
    b: Number(b),
    n,
  }));
  counts.sort((x, y) => y.n - x.n || x.b - y.b);
  return counts
    .slice(0, top)
    .map(({ b, n }) => [
      String(1 + counts.filter((x) => x.n > n).length),
      ts(b),
      ts(b + BUCKET_MS),
      String(n),
      pct(n, votes.length),
    ]);
}

// --- 05 kiosks ---------------------------------------------------------------------------------

export function kioskActivity(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const votes = votesOf(d, pollId, r);
  const kiosks = [...new Set(votes.map((v) => v.kioskId))].map((id) => {
    const mine = votes.filter((v) => v.kioskId === id).map((v) => v.castAt);
    return { id, n: mine.length, first: Math.min(...mine), last: Math.max(...mine) };
  });
  kiosks.sort((a, b) => b.n - a.n || cmp(a.id, b.id));
  return kiosks.map((k) => [
    k.id,
    d.kiosks.find((x) => x.id === k.id)?.name ?? "",
    String(k.n),
    ts(k.first),
    ts(k.last),
    pct(k.n, votes.length),
    String(1 + kiosks.filter((x) => x.n > k.n).length),
  ]);
}

export function silences(d: Dataset, pollId: string, gapMs: number, r: Range = ALL): Row[] {
  const poll = pollOf(d, pollId);
  const inRangeTimes = votesOf(d, pollId, r).map((v) => v.castAt);
  let ws = Math.max(poll.opensAt === null ? r.lo : Date.parse(poll.opensAt), r.lo);
  let we = Math.min(poll.closesAt === null ? r.hi : Date.parse(poll.closesAt), r.hi);
  if (!Number.isFinite(ws)) ws = Math.min(...inRangeTimes);
  // Ended by the poll's last vote, the window holds that vote: [ws, we], not [ws, we).
  const endedByLastVote = !Number.isFinite(we);
  if (endedByLastVote) we = Math.max(...inRangeTimes);
  const inWindow = (t: number) => t >= ws && (t < we || (endedByLastVote && t === we));
  const kiosks = [...new Set(d.votes.filter((v) => v.pollId === pollId).map((v) => v.kioskId))];
  const rows: Row[] = [];
  for (const kiosk of kiosks.sort()) {
    const times = d.votes
      .filter((v) => v.pollId === pollId && v.kioskId === kiosk && inWindow(v.castAt))
      .map((v) => v.castAt)
      .sort((a, b) => a - b);
    const points = [{ t: ws, kind: 0 }, ...times.map((t) => ({ t, kind: 1 })), { t: we, kind: 2 }];
    for (let i = 1; i < points.length; i++) {
      const from = points[i - 1]!;
      const until = points[i]!;
      if (until.t - from.t <= gapMs) continue;
      const note =
        from.kind === 0 && until.kind === 2
          ? "no vote in the window"
          : from.kind === 0
            ? "from the window's start"
            : until.kind === 2
              ? "to the window's end"
              : "";
      rows.push([
        kiosk,
        d.kiosks.find((x) => x.id === kiosk)?.name ?? "",
        ts(from.t),
        ts(until.t),
        interval(until.t - from.t),
        note,
      ]);
    }
  }
  return rows;
}

// --- 06 bursts ---------------------------------------------------------------------------------

function median(sorted: readonly number[]): number {
  const mid = (sorted.length - 1) / 2;
  return (sorted[Math.floor(mid)]! + sorted[Math.ceil(mid)]!) / 2;
}

export function bursts(
  d: Dataset,
  pollId: string,
  o: { z?: number; k?: number; minVotes?: number; range?: Range } = {},
): Row[] {
  const { z = 3, k = 5, minVotes = 10, range = ALL } = o;
  const votes = votesOf(d, pollId, range);
  const found: { kiosk: string; bucket: number; n: number; row: Row; zs: number; ratio: number }[] =
    [];
  for (const kiosk of new Set(votes.map((v) => v.kioskId))) {
    const mine = votes.filter((v) => v.kioskId === kiosk);
    const perBucket = countBy(mine, (v) => String(bucketOf(v.castAt)));
    const counts = [...perBucket.values()].sort((a, b) => a - b);
    const med = median(counts);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    const sd = Math.sqrt(counts.reduce((a, b) => a + (b - mean) ** 2, 0) / counts.length);
    for (const [b, n] of perBucket) {
      const zs = sd === 0 ? Number.NaN : (n - mean) / sd;
      if (!(n >= minVotes && ((sd > 0 && zs > z) || n > k * med))) continue;
      const byOption = [
        ...countBy(
          mine.filter((v) => bucketOf(v.castAt) === Number(b)),
          (v) => v.optionId,
        ).entries(),
      ].sort((x, y) => y[1] - x[1] || cmp(x[0], y[0]));
      const ratio = med === 0 ? Number.NaN : n / med;
      found.push({
        kiosk,
        bucket: Number(b),
        n,
        zs,
        ratio,
        row: [
          kiosk,
          ts(Number(b)),
          String(n),
          String(counts.length),
          med.toFixed(2),
          new Approx(mean),
          new Approx(sd),
          Number.isNaN(zs) ? "" : new Approx(zs),
          Number.isNaN(ratio) ? "" : new Approx(ratio),
          byOption[0]![0],
          String(byOption[0]![1]),
        ],
      });
    }
  }
  const desc = (a: number, b: number) =>
    Number.isNaN(a) ? (Number.isNaN(b) ? 0 : 1) : Number.isNaN(b) ? -1 : b - a;
  found.sort(
    (a, b) =>
      desc(a.zs, b.zs) || desc(a.ratio, b.ratio) || cmp(a.kiosk, b.kiosk) || a.bucket - b.bucket,
  );
  return found.map((f) => f.row);
}

// --- 07 late arrivals ------------------------------------------------------------------------

const CLASSES: [string, number | null, number | null][] = [
  ["negative (kiosk clock ahead)", null, 0],
  ["under 1 s", 0, 1_000],
  ["1-5 s", 1_000, 5_000],
  ["5-30 s", 5_000, 30_000],
  ["30 s-1 min", 30_000, 60_000],
  // Fixed delay classes, not the bucket width.
  ["1-10 min", MINUTE_MS, 10 * MINUTE_MS],
  ["10 min-1 h", 10 * MINUTE_MS, HOUR_MS],
  ["1-6 h", HOUR_MS, 6 * HOUR_MS],
  ["6-24 h", 6 * HOUR_MS, DAY_MS],
  ["24 h or more", DAY_MS, null],
];

export function delays(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const votes = votesOf(d, pollId, r);
  let cumulative = 0;
  return CLASSES.map(([label, from, to]) => {
    const n = votes.filter((v) => {
      const delay = v.receivedAt - v.castAt;
      return (from === null || delay >= from) && (to === null || delay < to);
    }).length;
    cumulative += n;
    return [
      label,
      from === null ? "" : interval(from),
      to === null ? "" : interval(to),
      String(n),
      pct(n, votes.length),
      pct(cumulative, votes.length),
    ];
  });
}

export function kioskDelays(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const votes = votesOf(d, pollId, r);
  const rows = [...new Set(votes.map((v) => v.kioskId))].map((kiosk) => {
    const ds = votes
      .filter((v) => v.kioskId === kiosk)
      .map((v) => v.receivedAt - v.castAt)
      .sort((a, b) => a - b);
    // percentile_disc: the first value whose cumulative share reaches p
    const disc = (p: number) => ds[Math.max(0, Math.ceil(p * ds.length) - 1)]!;
    return { kiosk, max: ds.at(-1)!, ds, disc };
  });
  rows.sort((a, b) => b.max - a.max || cmp(a.kiosk, b.kiosk));
  return rows.map(({ kiosk, max, ds, disc }) => [
    kiosk,
    String(ds.length),
    interval(disc(0.5)),
    interval(disc(0.95)),
    interval(max),
    String(ds.filter((x) => x > HOUR_MS).length),
  ]);
}

export function afterPublish(
  d: Dataset,
  pollId: string,
  publishIntervalMs = 5_000,
  r: Range = ALL,
): Row[] {
  const late = votesOf(d, pollId, r)
    .map((v) => ({ v, publishedBy: bucketOf(v.castAt) + BUCKET_MS + publishIntervalMs }))
    .filter(({ v, publishedBy }) => v.storedAt > publishedBy);
  late.sort((a, b) => a.v.storedAt - b.v.storedAt || cmp(a.v.eventId, b.v.eventId));
  return late.map(({ v, publishedBy }) => [
    v.eventId,
    v.kioskId,
    v.optionId,
    ts(v.castAt),
    ts(v.receivedAt),
    ts(v.storedAt),
    ts(bucketOf(v.castAt)),
    ts(publishedBy),
    interval(v.storedAt - publishedBy),
  ]);
}

// --- 08 refusals -----------------------------------------------------------------------------

export function refusals(d: Dataset, pollId: string | null, r: Range = ALL): Row[] {
  const items: {
    poll: string;
    kind: string;
    reason: string;
    kiosk: string;
    n: number;
    day: string;
  }[] = [];
  const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  for (const x of d.duplicates) {
    if (inRange(Date.parse(`${x.day}T00:00:00Z`), r))
      items.push({
        poll: x.pollId,
        kind: "duplicate",
        reason: "already stored",
        kiosk: x.kioskId,
        n: x.count,
        day: x.day,
      });
  }
  for (const x of d.rejected) {
    if (inRange(x.rejectedAt, r))
      items.push({
        poll: x.pollId,
        kind: "rejected",
        reason: x.reason,
        kiosk: x.kioskId,
        n: 1,
        day: utcDay(x.rejectedAt),
      });
  }
  for (const x of d.conflicts) {
    if (inRange(x.recordedAt, r))
      items.push({
        poll: x.pollId,
        kind: "conflict",
        reason: "event_id_conflict",
        kiosk: x.kioskId,
        n: 1,
        day: utcDay(x.recordedAt),
      });
  }
  for (const x of d.deadLetters) {
    if (!inRange(x.firstSeen, r)) continue;
    let kiosk = "";
    if (x.itemIndex >= 0) {
      const parsed = JSON.parse(x.raw) as { kioskId?: unknown };
      if (typeof parsed.kioskId === "string") kiosk = parsed.kioskId;
    }
    items.push({
      poll: x.subject.slice(x.subject.lastIndexOf(".") + 1),
      kind: "dead_letter",
      reason: x.error,
      kiosk,
      n: 1,
      day: utcDay(x.firstSeen),
    });
  }
  const groups = new Map<string, { key: (typeof items)[number]; n: number; days: string[] }>();
  for (const item of items) {
    if (pollId !== null && item.poll !== pollId) continue;
    const key = JSON.stringify([item.poll, item.kind, item.reason, item.kiosk]);
    const g = groups.get(key) ?? { key: item, n: 0, days: [] };
    g.n += item.n;
    g.days.push(item.day);
    groups.set(key, g);
  }
  const rows = [...groups.values()];
  rows.sort(
    (a, b) =>
      cmp(a.key.poll, b.key.poll) ||
      cmp(a.key.kind, b.key.kind) ||
      b.n - a.n ||
      cmp(a.key.reason, b.key.reason) ||
      (a.key.kiosk === "" ? 1 : 0) - (b.key.kiosk === "" ? 1 : 0) ||
      cmp(a.key.kiosk, b.key.kiosk),
  );
  return rows.map((g) => [
    g.key.poll,
    g.key.kind,
    g.key.reason,
    g.key.kiosk,
    String(g.n),
    g.days.sort()[0]!,
    g.days.at(-1)!,
  ]);
}

// --- 09 consistency --------------------------------------------------------------------------

/** The summary row when the rollups were built from the votes (every bucket agrees). */
export function consistencySummary(d: Dataset, pollId: string | null): Row {
  const votes = d.votes.filter((v) => pollId === null || v.pollId === pollId);
  const buckets = new Set(votes.map((v) => `${v.pollId}/${v.optionId}/${bucketOf(v.castAt)}`));
  return [
    "summary",
    pollId ?? "(all polls)",
    "",
    "",
    String(votes.length),
    String(votes.length),
    "0",
    `ok: all ${buckets.size} buckets agree`,
  ];
}

// --- 10 attendance ---------------------------------------------------------------------------

function presence(d: Dataset, pollId: string, r: Range): Map<string, Set<string>> {
  const poll = pollOf(d, pollId);
  const byDay = new Map<string, Set<string>>();
  for (const v of votesOf(d, pollId, r)) {
    if (v.voterId === null) continue;
    const day = localDate(v.castAt, poll.timeZone);
    const set = byDay.get(day) ?? new Set<string>();
    set.add(v.voterId);
    byDay.set(day, set);
  }
  return byDay;
}

export function attendanceDays(d: Dataset, pollId: string, r: Range = ALL): Row[] {
  const poll = pollOf(d, pollId);
  const byDay = presence(d, pollId, r);
  const voters = new Set([...byDay.values()].flatMap((s) => [...s])).size;
  const sorted = [...byDay.keys()].sort();
  const first = Number.isFinite(r.lo) ? localDate(r.lo, poll.timeZone) : sorted[0];
  const last = Number.isFinite(r.hi) ? localDate(r.hi - 1, poll.timeZone) : sorted.at(-1);
  const rows: Row[] = [];
  if (first === undefined || last === undefined) return rows;
  for (let day = first; day <= last; day = addDays(day, 1)) {
    const present = byDay.get(day)?.size ?? 0;
    rows.push([
      day,
      WEEKDAYS[new Date(`${day}T00:00:00Z`).getUTCDay()]!,
      String(present),
      String(voters),
      pct(present, voters),
      byDay.has(day) ? "t" : "f",
    ]);
  }
  return rows;
}

export function attendanceVoters(d: Dataset, pollId: string, minShare = 80, r: Range = ALL): Row[] {
  const byDay = presence(d, pollId, r);
  const sessions = byDay.size;
  const days = new Map<string, string[]>();
  for (const [day, voters] of byDay)
    for (const voter of voters) days.set(voter, [...(days.get(voter) ?? []), day]);
  const rows = [...days.entries()]
    .filter(([, ds]) => 100 * ds.length >= minShare * sessions)
    .map(([voter, ds]) => ({ voter, ds: ds.sort() }));
  rows.sort((a, b) => b.ds.length - a.ds.length || cmp(a.voter, b.voter));
  return rows.map(({ voter, ds }) => [
    voter,
    String(ds.length),
    String(sessions),
    pct(ds.length, sessions),
    ds[0]!,
    ds.at(-1)!,
  ]);
}
