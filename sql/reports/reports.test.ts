import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { loadPolls } from "../../result-publisher/published-version.ts";
import { visibleResults } from "../../result-publisher/results.ts";
import { loadRollups } from "../../result-publisher/rollup-store.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { buildDataset, seedDataset } from "./test-dataset.ts";
import { parseCsv, type Run, run } from "./test-psql.ts";
import * as ref from "./test-reference.ts";

// Every report runs through the real psql client on the hand-built data set
// (test-dataset.ts) and is compared (a) with rows written by hand for the key facts and
// (b) with an independent computation in TypeScript (test-reference.ts); report 02 also
// with the result publisher's own visibleResults. `npm run report` is tested last.

const ROOT = join(import.meta.dirname, "..", "..");
const PSQL = process.env.PSQL ?? "psql";
const data = buildDataset();
const LONDON = "Europe/London";

type Col = "text" | "int" | "dec" | "approx" | "ts" | "date" | "interval";
const t = "text";
const i = "int";
const n = "dec";
const a = "approx";
const s = "ts";
const dt = "date";
const iv = "interval";

const COLUMNS: Record<string, { header: string; types: Col[] }> = {
  totals: { header: "rank,option_id,label,votes,share_pct", types: [i, t, t, i, n] },
  distribution: { header: "bucket_start,option_id,label,votes", types: [s, t, t, i] },
  calendar: { header: "period,period_start,option_id,label,votes", types: [t, dt, t, t, i] },
  turnout: { header: "hour_start,votes,cumulative_votes,cumulative_pct", types: [s, i, i, n] },
  peak: { header: "rank,bucket_start,bucket_end,votes,share_pct", types: [i, s, s, i, n] },
  activity: {
    header: "kiosk_id,kiosk_name,votes,first_vote_at,last_vote_at,share_pct,rank",
    types: [t, t, i, s, s, n, i],
  },
  silences: {
    header: "kiosk_id,kiosk_name,silent_from,silent_until,silence,note",
    types: [t, t, s, s, iv, t],
  },
  bursts: {
    header:
      "kiosk_id,bucket_start,votes,active_buckets,median,mean,stddev,z_score,ratio_to_median,top_option_id,top_option_votes",
    types: [t, s, i, i, n, a, a, a, a, t, i],
  },
  delays: {
    header: "delay_class,delay_from,delay_to,votes,share_pct,cumulative_pct",
    types: [t, iv, iv, i, n, n],
  },
  kioskDelays: {
    header: "kiosk_id,votes,median_delay,p95_delay,max_delay,delayed_over_1h",
    types: [t, i, iv, iv, iv, i],
  },
  afterPublish: {
    header:
      "event_id,kiosk_id,option_id,cast_at,received_at,stored_at,bucket_start,published_by,late_by",
    types: [t, t, t, s, s, s, s, s, iv],
  },
  refusals: {
    header: "poll_id,kind,reason,kiosk_id,refusals,first_day,last_day",
    types: [t, t, t, t, i, dt, dt],
  },
  consistency: {
    header: "result,poll_id,option_id,bucket_start,rollup_count,votes_count,difference,detail",
    types: [t, t, t, s, i, i, i, t],
  },
  attendanceDays: {
    header: "day,weekday,present,voters,share_pct,session_day",
    types: [dt, t, i, i, n, t],
  },
  attendanceVoters: {
    header: "voter_id,days_present,session_days,share_pct,first_day,last_day",
    types: [t, i, i, n, dt, dt],
  },
};

function canonical(value: string, type: Col): string | number {
  if (value === "") return "";
  switch (type) {
    case "int":
      return String(Number(value));
    case "approx":
      return Number(value);
    case "ts":
      return ref.ts(ref.parsePgTimestamp(value));
    case "interval":
      return ref.interval(ref.parsePgInterval(value));
    default:
      return value;
  }
}

let db: TestDatabase;
/** The reports run as an analyst (migration 016's read-only role), as they do in production. */
let analyst: LoginRole;

async function psql(file: string, vars: Record<string, string> = {}): Promise<Run> {
  const args = ["-X", "-v", "ON_ERROR_STOP=1", "--csv", "--dbname", analyst.url];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  args.push("-f", join(ROOT, "sql", "reports", file));
  return run(PSQL, args);
}

/** Runs a report; it must succeed, print nothing on stderr and print well-formed CSV. */
async function csvReport(
  file: string,
  shape: keyof typeof COLUMNS,
  vars: Record<string, string> = {},
): Promise<string[][]> {
  const r = await psql(file, vars);
  assert.equal(r.stderr, "", `${file} ${JSON.stringify(vars)} wrote to stderr`);
  assert.equal(r.code, 0, `${file} ${JSON.stringify(vars)} exited ${r.code}`);
  const [header, ...rows] = parseCsv(r.stdout);
  assert.equal(header?.join(","), COLUMNS[shape]!.header, `${file}: columns`);
  for (const row of rows) assert.equal(row.length, header!.length, `${file}: ragged CSV row`);
  return rows;
}

/** (b): the report's rows equal the TypeScript computation's, cell by cell. */
async function assertMatchesReference(
  file: string,
  shape: keyof typeof COLUMNS,
  vars: Record<string, string>,
  expected: ref.Row[],
): Promise<string[][]> {
  const rows = await csvReport(file, shape, vars);
  const types = COLUMNS[shape]!.types;
  const actual = rows.map((row) => row.map((v, k) => canonical(v, types[k]!)));
  const wanted = expected.map((row, r) =>
    row.map((cell, k) => {
      if (!(cell instanceof ref.Approx)) return cell;
      const got = actual[r]?.[k];
      // within 0.01: show the report's value, so only real differences remain in the diff
      return typeof got === "number" && Math.abs(got - cell.value) <= 0.01 ? got : cell.value;
    }),
  );
  assert.deepEqual(actual, wanted, `${file} ${JSON.stringify(vars)} differs from the reference`);
  return rows;
}

const R = (lo: string | number, hi: string | number): ref.Range => ({
  lo: typeof lo === "number" ? lo : Date.parse(lo),
  hi: typeof hi === "number" ? hi : Date.parse(hi),
});
const londonDay = (day: string, next: string) =>
  R(ref.localMidnight(day, LONDON), ref.localMidnight(next, LONDON));

before(async () => {
  db = await createTestDatabase(testNames().database);
  await seedDataset(db.pool, data);
  analyst = await createLoginRole(db, "tallyflow_analyst");
});

after(async () => {
  await analyst?.drop();
  await db?.drop();
});

describe("analyst reports through psql", () => {
  test("01 totals: per option, share and rank; local-day and unaligned ranges", async () => {
    const all = await assertMatchesReference(
      "01_totals.sql",
      "totals",
      { poll_id: "lunch" },
      ref.totals(data, "lunch"),
    );
    assert.deepEqual(all, [
      ["1", "pizza", "Pizza", "61", "71.76"],
      ["2", "salad", "Salad, green", "23", "27.06"],
      ["3", "curry", "curry", "1", "1.18"],
      ["4", "soup", "Soup", "0", "0.00"],
    ]);
    // from/to without an offset: the poll's local midnights (the 23-hour DST day)
    const day = await assertMatchesReference(
      "01_totals.sql",
      "totals",
      { poll_id: "lunch", from: "2026-03-29", to: "2026-03-30" },
      ref.totals(data, "lunch", londonDay("2026-03-29", "2026-03-30")),
    );
    assert.deepEqual(
      day.map((r) => r[3]),
      ["56", "18", "1", "0"],
    );
    // a range cutting one bucket: 2 of the 40 burst votes (11:20:35 and :45; :55 is `to`)
    const cut = await assertMatchesReference(
      "01_totals.sql",
      "totals",
      { poll_id: "lunch", from: "2026-03-29T11:20:30Z", to: "2026-03-29T11:20:55Z" },
      ref.totals(data, "lunch", R("2026-03-29T11:20:30Z", "2026-03-29T11:20:55Z")),
    );
    assert.deepEqual(cut[0], ["1", "pizza", "Pizza", "2", "100.00"]);
    for (const poll of ["board", "checkin"])
      await assertMatchesReference(
        "01_totals.sql",
        "totals",
        { poll_id: poll },
        ref.totals(data, poll),
      );
  });

  test("02 distribution: what the result publisher shows, zero-filled", async () => {
    const polls = await loadPolls(db.pool);
    for (const poll of polls) {
      const rows = await csvReport("02_distribution.sql", "distribution", { poll_id: poll.id });
      // A window wider than the data: the report is compared with every bucket.
      const rollups = await loadRollups(db.pool, poll.id);
      const published = visibleResults(poll, rollups, Date.now(), null, 24 * 366);
      const starts = [...new Set(rows.map((r) => ref.parsePgTimestamp(r[0]!)))];
      assert.equal(starts.length, published.distribution.buckets, `${poll.id}: bucket count`);
      assert.equal(ref.ts(starts[0]!), published.distribution.start, `${poll.id}: first bucket`);
      for (const [k, start] of starts.entries())
        assert.equal(start, starts[0]! + k * ref.BUCKET_MS, `${poll.id}: consecutive buckets`);
      const series = published.distribution.series.map((x) => ({
        optionId: x.optionId,
        counts: rows.filter((r) => r[1] === x.optionId).map((r) => Number(r[3])),
      }));
      assert.deepEqual(
        series,
        published.distribution.series.map(({ optionId, counts }) => ({ optionId, counts })),
        `${poll.id}: series`,
      );
      assert.deepEqual(
        rows.slice(0, published.distribution.series.length).map((r) => r[1]),
        published.distribution.series.map((x) => x.optionId),
        `${poll.id}: option order`,
      );
    }
    const lunch = await csvReport("02_distribution.sql", "distribution", { poll_id: "lunch" });
    // 2026-03-28 12:00 UTC .. the bucket of the last write (17:00:00.5 UTC on the 30th)
    assert.equal(lunch.length, 319 * 4);
    assert.deepEqual(lunch[0], ["2026-03-28 12:00:00+00", "pizza", "Pizza", "1"]);
    assert.ok(lunch.some((r) => r.join() === "2026-03-29 12:20:00+01,pizza,Pizza,40"));
    assert.deepEqual(
      lunch.slice(-4).map((r) => `${r[0]} ${r[1]} ${r[3]}`),
      ["pizza", "salad", "soup", "curry"].map((o) => `2026-03-30 18:00:00+01 ${o} 0`),
    );
    // from/to narrow the span to the buckets starting in [from, to)
    const narrow = await csvReport("02_distribution.sql", "distribution", {
      poll_id: "lunch",
      from: "2026-03-29T11:10:00Z",
      to: "2026-03-29T11:30:00Z",
    });
    assert.deepEqual(
      narrow.filter((r) => r[1] === "pizza").map((r) => `${r[0]} ${r[3]}`),
      ["2026-03-29 12:10:00+01 1", "2026-03-29 12:20:00+01 40"],
    );
  });

  test("03 calendar: local days, weeks and months across both DST changes", async () => {
    const lunch = await assertMatchesReference(
      "03_calendar.sql",
      "calendar",
      { poll_id: "lunch" },
      ref.calendar(data, "lunch"),
    );
    // 23:30 UTC on the 29th is the 30th in London: 75 votes on the 29th, not 76
    assert.deepEqual(
      lunch.filter((r) => r[0] === "day" && r[4] !== "0").map((r) => `${r[1]} ${r[2]} ${r[4]}`),
      [
        "2026-03-28 pizza 4",
        "2026-03-28 salad 2",
        "2026-03-29 pizza 56",
        "2026-03-29 salad 18",
        "2026-03-29 curry 1",
        "2026-03-30 pizza 1",
        "2026-03-30 salad 3",
      ],
    );
    assert.deepEqual(
      lunch.filter((r) => r[0] !== "day" && r[2] === "pizza").map((r) => `${r[0]} ${r[1]} ${r[4]}`),
      ["week 2026-03-23 60", "week 2026-03-30 1", "month 2026-03-01 61"],
    );
    const board = await assertMatchesReference(
      "03_calendar.sql",
      "calendar",
      { poll_id: "board", period: "day" },
      ref.calendar(data, "board", ref.ALL, "day"),
    );
    // the 25-hour day holds all 7 votes (00:30 BST to 23:30 GMT)
    assert.deepEqual(board, [
      ["day", "2026-10-25", "alice", "Alice", "4"],
      ["day", "2026-10-25", "bob", "Bob", "3"],
    ]);
    await assertMatchesReference(
      "03_calendar.sql",
      "calendar",
      { poll_id: "checkin", period: "week" },
      ref.calendar(data, "checkin", ref.ALL, "week"),
    );
    await assertMatchesReference(
      "03_calendar.sql",
      "calendar",
      { poll_id: "lunch", from: "2026-03-29", to: "2026-03-31" },
      ref.calendar(data, "lunch", londonDay("2026-03-29", "2026-03-31")),
    );
    await assertMatchesReference(
      "03_calendar.sql",
      "calendar",
      { poll_id: "lunch", from: "2026-03-29T11:25:00Z", to: "2026-03-29T23:45:00Z" },
      ref.calendar(data, "lunch", R("2026-03-29T11:25:00Z", "2026-03-29T23:45:00Z")),
    );
  });

  test("04 turnout: local hours (01:00 twice on the fall-back day) and the peak bucket", async () => {
    const board = await assertMatchesReference(
      "04_turnout.sql",
      "turnout",
      { poll_id: "board" },
      ref.turnout(data, "board"),
    );
    assert.equal(board.length, 25);
    assert.deepEqual(board.slice(0, 4), [
      ["2026-10-25 00:00:00+01", "1", "1", "14.29"],
      ["2026-10-25 01:00:00+01", "2", "3", "42.86"],
      ["2026-10-25 01:00:00+00", "2", "5", "71.43"],
      ["2026-10-25 02:00:00+00", "0", "5", "71.43"],
    ]);
    assert.deepEqual(board.at(-1), ["2026-10-25 23:00:00+00", "1", "7", "100.00"]);
    const lunch = await assertMatchesReference(
      "04_turnout.sql",
      "turnout",
      { poll_id: "lunch" },
      ref.turnout(data, "lunch"),
    );
    // spring forward: 00:00 GMT is followed by 02:00 BST
    const k = lunch.findIndex((r) => r[0] === "2026-03-29 00:00:00+00");
    assert.equal(lunch[k + 1]?.[0], "2026-03-29 02:00:00+01");
    assert.equal(lunch.length, 53);
    assert.deepEqual(lunch.at(-1)?.slice(2), ["85", "100.00"]);
    for (const [poll, range, vars] of [
      ["checkin", ref.ALL, {}],
      [
        "lunch",
        R("2026-03-29T11:20:30Z", "2026-03-29T12:21:00Z"),
        {
          from: "2026-03-29T11:20:30Z",
          to: "2026-03-29T12:21:00Z",
        },
      ],
    ] as const)
      await assertMatchesReference(
        "04_turnout.sql",
        "turnout",
        { poll_id: poll, ...vars },
        ref.turnout(data, poll, range),
      );

    const peak = await assertMatchesReference(
      "04_turnout.sql",
      "peak",
      { poll_id: "lunch", part: "peak" },
      ref.peak(data, "lunch"),
    );
    assert.deepEqual(peak, [
      ["1", "2026-03-29 12:20:00+01", "2026-03-29 12:30:00+01", "40", "47.06"],
    ]);
    await assertMatchesReference(
      "04_turnout.sql",
      "peak",
      { poll_id: "lunch", part: "peak", top: "5" },
      ref.peak(data, "lunch", ref.ALL, 5),
    );
    await assertMatchesReference(
      "04_turnout.sql",
      "peak",
      { poll_id: "board", part: "peak", top: "3", from: "2026-10-25T00:30:00Z" },
      ref.peak(data, "board", R("2026-10-25T00:30:00Z", Number.POSITIVE_INFINITY), 3),
    );
  });

  test("05 kiosks: activity, and silences while the poll was open", async () => {
    const activity = await assertMatchesReference(
      "05_kiosks.sql",
      "activity",
      { poll_id: "lunch" },
      ref.kioskActivity(data, "lunch"),
    );
    assert.deepEqual(
      activity.map((r) => `${r[0]} ${r[2]} ${r[5]}`),
      ["k-south 68 80.00", "k-north 9 10.59", "k-east 5 5.88", "k-late 3 3.53"],
    );
    assert.deepEqual(activity[0]?.slice(3, 5), [
      "2026-03-29 10:01:00+01",
      "2026-03-29 12:26:35+01",
    ]);
    const quiet = await assertMatchesReference(
      "05_kiosks.sql",
      "silences",
      { poll_id: "lunch", part: "silences", gap: "20 hours" },
      ref.silences(data, "lunch", 20 * 3_600_000),
    );
    assert.deepEqual(
      quiet.map((r) => `${r[0]} ${r[2]} ${r[4]} ${r[5]}`),
      [
        "k-east 2026-03-29 15:00:00+01 1 day 02:59:59 ",
        "k-late 2026-03-28 08:00:00+00 1 day 02:00:00 from the window's start",
        "k-late 2026-03-29 11:31:00+01 1 day 06:29:00 to the window's end",
        "k-north 2026-03-28 13:20:00+00 20:49:58 ",
        "k-south 2026-03-28 08:00:00+00 1 day 01:01:00 from the window's start",
        "k-south 2026-03-29 12:26:35+01 1 day 05:33:25 to the window's end",
      ],
    );
    await assertMatchesReference(
      "05_kiosks.sql",
      "silences",
      { poll_id: "lunch", part: "silences" },
      ref.silences(data, "lunch", 3_600_000),
    );
    // a window given by from/to: k-late cast nothing in it
    const window = await assertMatchesReference(
      "05_kiosks.sql",
      "silences",
      {
        poll_id: "lunch",
        part: "silences",
        from: "2026-03-29T11:00:00Z",
        to: "2026-03-29T14:00:00Z",
      },
      ref.silences(data, "lunch", 3_600_000, R("2026-03-29T11:00:00Z", "2026-03-29T14:00:00Z")),
    );
    assert.ok(window.some((r) => r[0] === "k-late" && r[5] === "no vote in the window"));
    // a poll without closes_at: its last vote ends the window and is inside it, so k-west,
    // whose only vote that is, was silent from the window's start until then (not "no vote")
    const open = await assertMatchesReference(
      "05_kiosks.sql",
      "silences",
      { poll_id: "ideas", part: "silences" },
      ref.silences(data, "ideas", 3_600_000),
    );
    assert.deepEqual(
      open.map((r) => `${r[0]} ${r[2]} ${r[3]} ${r[4]} ${r[5]}`),
      [
        "k-east 2026-01-15 08:00:00+00 2026-01-15 09:30:00+00 01:30:00 from the window's start",
        "k-east 2026-01-15 09:30:00+00 2026-01-15 16:00:00+00 06:30:00 to the window's end",
        "k-north 2026-01-15 09:00:00+00 2026-01-15 12:00:00+00 03:00:00 ",
        "k-north 2026-01-15 12:00:00+00 2026-01-15 16:00:00+00 04:00:00 to the window's end",
        "k-west 2026-01-15 08:00:00+00 2026-01-15 16:00:00+00 08:00:00 from the window's start",
      ],
    );
    for (const poll of ["board", "checkin", "ideas"]) {
      await assertMatchesReference(
        "05_kiosks.sql",
        "activity",
        { poll_id: poll },
        ref.kioskActivity(data, poll),
      );
      await assertMatchesReference(
        "05_kiosks.sql",
        "silences",
        { poll_id: poll, part: "silences", gap: "6 hours" },
        ref.silences(data, poll, 6 * 3_600_000),
      );
    }
  });

  test("06 bursts: the stuck button, and nothing else", async () => {
    const lunch = await assertMatchesReference(
      "06_bursts.sql",
      "bursts",
      { poll_id: "lunch" },
      ref.bursts(data, "lunch"),
    );
    assert.deepEqual(lunch, [
      [
        "k-south",
        "2026-03-29 12:20:00+01",
        "40",
        "15",
        "2.00",
        "4.53",
        "9.48",
        "3.74",
        "20.00",
        "pizza",
        "40",
      ],
    ]);
    // looser thresholds flag more buckets: still the same answers as the reference
    await assertMatchesReference(
      "06_bursts.sql",
      "bursts",
      { poll_id: "lunch", z_score: "1", median_factor: "1.5", min_votes: "2" },
      ref.bursts(data, "lunch", { z: 1, k: 1.5, minVotes: 2 }),
    );
    for (const poll of ["board", "checkin"])
      assert.deepEqual(await csvReport("06_bursts.sql", "bursts", { poll_id: poll }), []);
  });

  test("07 late arrivals: delays, late kiosks, votes stored after publication", async () => {
    const classes = await assertMatchesReference(
      "07_late_arrivals.sql",
      "delays",
      { poll_id: "lunch" },
      ref.delays(data, "lunch"),
    );
    assert.deepEqual(
      classes.map((r) => r[3]),
      ["0", "80", "2", "0", "0", "0", "0", "3", "0", "0"],
    );
    const kiosks = await assertMatchesReference(
      "07_late_arrivals.sql",
      "kioskDelays",
      { poll_id: "lunch", part: "kiosks" },
      ref.kioskDelays(data, "lunch"),
    );
    assert.deepEqual(kiosks[0], ["k-late", "3", "02:57:01", "03:00:00", "03:00:00", "3"]);
    const late = await assertMatchesReference(
      "07_late_arrivals.sql",
      "afterPublish",
      { poll_id: "lunch", part: "after_publish" },
      ref.afterPublish(data, "lunch"),
    );
    assert.deepEqual(
      late.map((r) => `${r[1]} ${r[6]} ${r[8]}`),
      [
        "k-north 2026-03-29 11:10:00+01 00:00:01",
        "k-late 2026-03-29 11:00:00+01 02:49:56",
        "k-late 2026-03-29 11:00:00+01 02:49:57",
        "k-late 2026-03-29 11:30:00+01 02:19:58",
      ],
    );
    // a longer publish interval: the vote one second late is no longer late
    await assertMatchesReference(
      "07_late_arrivals.sql",
      "afterPublish",
      { poll_id: "lunch", part: "after_publish", publish_interval: "10 seconds" },
      ref.afterPublish(data, "lunch", 10_000),
    );
    for (const poll of ["board", "checkin"]) {
      await assertMatchesReference(
        "07_late_arrivals.sql",
        "delays",
        { poll_id: poll },
        ref.delays(data, poll),
      );
      await assertMatchesReference(
        "07_late_arrivals.sql",
        "kioskDelays",
        { poll_id: poll, part: "kiosks" },
        ref.kioskDelays(data, poll),
      );
    }
  });

  test("08 refusals: duplicates, conflicts, second votes, dead letters by reason and kiosk", async () => {
    const all = await assertMatchesReference(
      "08_refusals.sql",
      "refusals",
      {},
      ref.refusals(data, null),
    );
    assert.deepEqual(all, [
      ["board", "rejected", "voter_already_voted", "k-hall", "1", "2026-10-25", "2026-10-25"],
      ["lunch", "conflict", "event_id_conflict", "k-gate", "2", "2026-03-29", "2026-03-30"],
      ["lunch", "conflict", "event_id_conflict", "k-hall", "1", "2026-03-29", "2026-03-29"],
      [
        "lunch",
        "dead_letter",
        `not JSON: Unexpected token 'o', "not json, at all" is not valid JSON`,
        "",
        "1",
        "2026-03-29",
        "2026-03-29",
      ],
      [
        "lunch",
        "dead_letter",
        'optionId: must be 1-64 letters, digits, "-" or "_"',
        "k-east",
        "1",
        "2026-03-29",
        "2026-03-29",
      ],
      ["lunch", "duplicate", "already stored", "k-north", "2", "2026-03-29", "2026-03-29"],
    ]);
    // half-open: the dead letter at 12:00 and the conflict at 12:02 are in, the dead letter
    // at 12:05, the conflicts at 13:00 and the UTC day of the duplicates are out
    const range = await assertMatchesReference(
      "08_refusals.sql",
      "refusals",
      { poll_id: "lunch", from: "2026-03-29T12:00:00Z", to: "2026-03-29T12:05:00Z" },
      ref.refusals(data, "lunch", R("2026-03-29T12:00:00Z", "2026-03-29T12:05:00Z")),
    );
    assert.deepEqual(
      range.map((r) => [r[1], r[3]]),
      [
        ["conflict", "k-hall"],
        ["dead_letter", "k-east"],
      ],
    );
    await assertMatchesReference(
      "08_refusals.sql",
      "refusals",
      { poll_id: "board" },
      ref.refusals(data, "board"),
    );
  });

  test("09 consistency: a summary when rollups agree, every differing bucket when not", async () => {
    const all = await assertMatchesReference("09_consistency.sql", "consistency", {}, [
      ref.consistencySummary(data, null),
    ]);
    assert.deepEqual(all, [
      ["summary", "(all polls)", "", "", "111", "111", "0", "ok: all 63 buckets agree"],
    ]);
    for (const poll of ["lunch", "board", "checkin", "ideas"])
      await assertMatchesReference("09_consistency.sql", "consistency", { poll_id: poll }, [
        ref.consistencySummary(data, poll),
      ]);

    // break two buckets, one count off and one rollup row missing, then put them back
    await db.pool.query(
      `update vote_rollups set count = count + 1
       where poll_id = 'lunch' and option_id = 'pizza' and bucket_start = '2026-03-29T11:20:00Z'`,
    );
    const { rows: removed } = await db.pool.query(
      `delete from vote_rollups where poll_id = 'board' and option_id = 'bob'
       and bucket_start = '2026-10-25T10:00:00Z' returning *`,
    );
    try {
      const broken = await csvReport("09_consistency.sql", "consistency", {});
      assert.deepEqual(broken, [
        ["mismatch", "board", "bob", "2026-10-25 10:00:00+00", "0", "1", "1", ""],
        ["mismatch", "lunch", "pizza", "2026-03-29 11:20:00+00", "41", "40", "-1", ""],
        ["summary", "(all polls)", "", "", "111", "111", "0", "2 of 63 buckets differ"],
      ]);
      const lunch = await csvReport("09_consistency.sql", "consistency", { poll_id: "lunch" });
      assert.deepEqual(lunch.at(-1), [
        "summary",
        "lunch",
        "",
        "",
        "86",
        "85",
        "-1",
        "1 of 40 buckets differ",
      ]);
      assert.equal(lunch[0]?.[3], "2026-03-29 12:20:00+01");
    } finally {
      await db.pool.query(
        `update vote_rollups set count = count - 1
         where poll_id = 'lunch' and option_id = 'pizza' and bucket_start = '2026-03-29T11:20:00Z'`,
      );
      for (const r of removed)
        await db.pool.query(
          "insert into vote_rollups (poll_id, option_id, bucket_start, count) values ($1, $2, $3, $4)",
          [r.poll_id, r.option_id, r.bucket_start, r.count],
        );
    }
  });

  test("10 attendance: a check-in poll per local day and per voter", async () => {
    const days = await assertMatchesReference(
      "10_attendance.sql",
      "attendanceDays",
      { poll_id: "checkin" },
      ref.attendanceDays(data, "checkin"),
    );
    // 23:30 local check-ins count on their local day (UTC would move them to the next)
    assert.deepEqual(days, [
      ["2026-10-29", "Thu", "3", "4", "75.00", "t"],
      ["2026-10-30", "Fri", "3", "4", "75.00", "t"],
      ["2026-10-31", "Sat", "2", "4", "50.00", "t"],
      ["2026-11-01", "Sun", "2", "4", "50.00", "t"],
      ["2026-11-02", "Mon", "3", "4", "75.00", "t"],
    ]);
    const voters = await assertMatchesReference(
      "10_attendance.sql",
      "attendanceVoters",
      { poll_id: "checkin", part: "voters" },
      ref.attendanceVoters(data, "checkin"),
    );
    assert.deepEqual(voters, [
      ["v1", "5", "5", "100.00", "2026-10-29", "2026-11-02"],
      ["v2", "4", "5", "80.00", "2026-10-29", "2026-11-02"],
    ]);
    const NY = "America/New_York";
    const range = R(ref.localMidnight("2026-10-28", NY), ref.localMidnight("2026-11-01", NY));
    const ranged = await assertMatchesReference(
      "10_attendance.sql",
      "attendanceDays",
      { poll_id: "checkin", from: "2026-10-28", to: "2026-11-01" },
      ref.attendanceDays(data, "checkin", range),
    );
    assert.deepEqual(ranged[0], ["2026-10-28", "Wed", "0", "3", "0.00", "f"]);
    await assertMatchesReference(
      "10_attendance.sql",
      "attendanceVoters",
      { poll_id: "checkin", part: "voters", min_share: "50", from: "2026-10-28", to: "2026-11-01" },
      ref.attendanceVoters(data, "checkin", 50, range),
    );
    for (const [poll, why] of [
      ["board", "allows one vote per voter"],
      ["lunch", "carry no voter_id"],
    ] as const) {
      const r = await psql("10_attendance.sql", { poll_id: poll });
      assert.equal(r.code, 3);
      assert.match(r.stderr, new RegExp(`poll "${poll}" is not a check-in poll: .*${why}`));
      assert.equal(r.stdout, "");
    }
  });

  test("the reports refuse missing or wrong variables with psql's error exit", async () => {
    const missing = await psql("01_totals.sql");
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /poll_id is required/);
    const unknown = await psql("06_bursts.sql", { poll_id: "nope" });
    assert.equal(unknown.code, 3);
    assert.match(unknown.stderr, /no poll with id "nope"/);
    const part = await psql("05_kiosks.sql", { poll_id: "lunch", part: "gaps" });
    assert.equal(part.code, 3);
    assert.match(part.stderr, /part must be activity or silences/);
    for (const r of [missing, unknown, part]) assert.equal(r.stdout, "");
  });
});

describe("npm run report", () => {
  const script = join(ROOT, "scripts", "report.ts");
  const env = () => ({ ...process.env, DATABASE_URL: analyst.url });
  const report = (...args: string[]) => run(process.execPath, [script, ...args], env());

  test("--format csv prints the report as CSV, the same as psql --csv", async () => {
    const viaNpm = await report(
      "totals",
      "--poll",
      "lunch",
      "--from",
      "2026-03-29",
      "--to",
      "2026-03-30",
      "--format",
      "csv",
    );
    assert.equal(viaNpm.code, 0, viaNpm.stderr);
    const direct = await psql("01_totals.sql", {
      poll_id: "lunch",
      from: "2026-03-29",
      to: "2026-03-30",
    });
    assert.equal(viaNpm.stdout, direct.stdout);
    assert.equal(
      viaNpm.stdout,
      [
        "rank,option_id,label,votes,share_pct",
        "1,pizza,Pizza,56,74.67",
        '2,salad,"Salad, green",18,24.00',
        "3,curry,curry,1,1.33",
        "4,soup,Soup,0,0.00",
        "",
      ].join("\n"),
    );
    const parts = await report("07", "--poll", "lunch", "--part", "kiosks", "--format", "csv");
    assert.equal(parts.code, 0, parts.stderr);
    assert.match(parts.stdout, /^kiosk_id,votes,median_delay/);
    const set = await report(
      "kiosks",
      "--poll",
      "lunch",
      "--part",
      "silences",
      "--set",
      "gap=20 hours",
      "--format",
      "csv",
    );
    assert.equal(set.code, 0, set.stderr);
    assert.equal(parseCsv(set.stdout).length, 7);
  });

  test("table format is psql's aligned table", async () => {
    const r = await report("01_totals", "--poll", "lunch");
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split("\n");
    assert.match(lines[0]!, /^ rank \| option_id \|\s+label\s+\| votes \| share_pct $/);
    assert.match(lines[1]!, /^-+\+-+/);
    assert.match(lines[2]!, /^ +1 \| pizza +\| Pizza +\| +61 \| +71\.76$/);
    assert.ok(lines.includes("(4 rows)"));
  });

  test("an unknown report, a bad flag or a failing report exit non-zero", async () => {
    const unknown = await report("nope", "--poll", "lunch");
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown report "nope"/);
    for (const name of ["totals", "distribution", "calendar", "turnout", "kiosks", "bursts"])
      assert.match(unknown.stderr, new RegExp(`\\n  ${name} `));
    const format = await report("totals", "--poll", "lunch", "--format", "xlsx");
    assert.equal(format.code, 2);
    assert.match(format.stderr, /--format must be table or csv/);
    const failing = await report("totals", "--poll", "nope");
    assert.equal(failing.code, 3);
    assert.match(failing.stderr, /no poll with id "nope"/);
    const help = await report("--help");
    assert.equal(help.code, 0);
    assert.match(help.stdout, /attendance +10 /);
  });
});
