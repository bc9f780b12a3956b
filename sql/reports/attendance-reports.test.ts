import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { viewDay } from "../../common/attendance/person-day.ts";
import { dayRules, schoolDays } from "../../common/attendance/school-day.ts";
import {
  buildAttendanceDataset,
  EARLIER,
  NOW,
  SEED,
  seedAttendanceDataset,
} from "../../test-support/attendance-dataset.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import * as ref from "./attendance-reference.ts";
import { parseCsv, run } from "./test-psql.ts";
import { parsePgTimestamp, type Row, ts } from "./test-reference.ts";

// The attendance reports (11-15) and migration 022's functions they read, on a generated data
// set (test-support/attendance-dataset.ts: London across both DST changes, Kathmandu at
// +05:45, a weekend school; ties, anomalies, late, fever, holidays, out-of-order arrival),
// compared with an independent computation in TypeScript (attendance-reference.ts: the
// rules' own home, common/attendance/person-day.ts and school-day.ts), and on a few days
// written by hand with their numbers. Every report runs through the real psql as an analyst.

const ROOT = join(import.meta.dirname, "..", "..");
const PSQL = process.env.PSQL ?? "psql";
const data = buildAttendanceDataset();
const SCHOOLS = ["north", "ktm", "weekend"] as const;
const at = (ms: number) => new Date(ms).toISOString();

/** Each report's columns; `ts` marks the instants, compared as ISO UTC. */
const COLUMNS: Record<string, { header: string; instants: string[] }> = {
  presenceDays: {
    header:
      "person_id,active,groups,day,weekday,school_day,events,first_in,last_out,open_since,minutes,in_now,auto_closed,present,late,fever,max_temperature_c,outs_without_in,double_ins,double_outs,min_present_minutes,day_ends_at,late_after,fever_threshold_c",
    instants: ["first_in", "last_out", "open_since", "day_ends_at", "late_after"],
  },
  presencePeriods: {
    header:
      "person_id,active,groups,period_start,period_end,school_days,present_days,share_pct,min_present_days_pct,present",
    instants: [],
  },
  lowPresence: {
    header: "person_id,active,groups,school_days,present_days,absent_days,share_pct,min_share",
    instants: [],
  },
  fever: {
    header: "day,at,person_id,active,groups,kind,temperature_c,fever_threshold_c,poll_id,kiosk_id",
    instants: ["at"],
  },
  anomalies: {
    header: "day,person_id,active,groups,anomaly,at,event_id,poll_id,kiosk_id,open_since",
    instants: ["at", "open_since"],
  },
  summaryRange: {
    header:
      "group_id,people,school_days,expected_days,present_days,share_pct,present_people,below_people,late_days,fever_days,auto_closed_days,anomalies",
    instants: [],
  },
  summaryDays: {
    header:
      "day,weekday,school_day,group_id,roster,present,absent,in_now,late,fever,auto_closed,anomalies",
    instants: [],
  },
};

let db: TestDatabase;
let analyst: LoginRole;

function psql(file: string, vars: Record<string, string>) {
  const args = ["-X", "-v", "ON_ERROR_STOP=1", "--csv", "--dbname", analyst.url];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  args.push("-f", join(ROOT, "sql", "reports", file));
  return run(PSQL, args);
}

/** Runs a report (exit 0, nothing on stderr), its rows with instants as ISO UTC. */
async function report(
  file: string,
  shape: keyof typeof COLUMNS,
  vars: Record<string, string>,
): Promise<string[][]> {
  const r = await psql(file, vars);
  assert.equal(r.stderr, "", `${file} ${JSON.stringify(vars)} wrote to stderr`);
  assert.equal(r.code, 0, `${file} ${JSON.stringify(vars)} exited ${r.code}`);
  const [header, ...rows] = parseCsv(r.stdout);
  const { header: wanted, instants } = COLUMNS[shape]!;
  assert.equal(header?.join(","), wanted, `${file}: columns`);
  const isInstant = header!.map((h) => instants.includes(h));
  return rows.map((row) => {
    assert.equal(row.length, header!.length, `${file}: ragged CSV row`);
    return row.map((v, k) => (isInstant[k] && v !== "" ? ts(parsePgTimestamp(v)) : v));
  });
}

async function assertReport(
  file: string,
  shape: keyof typeof COLUMNS,
  vars: Record<string, string>,
  expected: Row[],
): Promise<string[][]> {
  const rows = await report(file, shape, vars);
  assert.deepEqual(
    rows,
    expected,
    `${file} ${JSON.stringify(vars)} differs from the reference (data set seed ${SEED})`,
  );
  return rows;
}

const defaults = (school: string, nowMs = NOW) => ref.defaultDays(data, school, nowMs);
const days = (from: string, to: string): ref.Days => ({ from, to });

before(async () => {
  db = await createTestDatabase(testNames().database);
  await seedAttendanceDataset(db.pool, data);
  analyst = await createLoginRole(db, "tallyflow_analyst");
});

after(async () => {
  await analyst?.drop();
  await db?.drop();
});

describe("migration 022: attendance from the raw events", () => {
  test("a day's rules as instants, as luxon reads them: DST gaps and repeats, +05:45", async () => {
    await db.pool.query("insert into schools (id, name) values ('clock', 'Clock')");
    await db.pool.query("insert into school_holidays values ('clock', '2026-03-29', 'Easter')");
    const checkDays = ["2026-03-08", "2026-03-29", "2026-06-01", "2026-10-25", "2026-11-01"];
    let compared = 0;
    for (const timeZone of ["Europe/London", "Asia/Kathmandu", "America/New_York"])
      for (const [end, late] of [
        ["17:00", "08:45"],
        ["01:30", "02:30"],
        ["00:00", null],
        ["23:59", "01:00"],
      ] as const) {
        await db.pool.query(
          `update schools set time_zone = $1, attendance_day_ends_at = $2,
             attendance_late_after = $3, attendance_weekdays = '{7,1,2}' where id = 'clock'`,
          [timeZone, end, late],
        );
        const settings = {
          dayEndsAt: end,
          lateAfter: late,
          minPresentMinutes: 240,
          feverThresholdC: 38,
        } as Parameters<typeof dayRules>[0];
        for (const day of checkDays) {
          const { rows } = await db.pool.query("select * from attendance_day_rules('clock', $1)", [
            day,
          ]);
          const want = dayRules(settings, timeZone, day);
          const what = `${timeZone} ${day} ${end}/${late}`;
          assert.equal(at(rows[0].day_ends_at.getTime()), at(want.dayEndMs), `day end ${what}`);
          assert.equal(
            rows[0].late_after === null ? null : at(rows[0].late_after.getTime()),
            want.lateAfterMs === null ? null : at(want.lateAfterMs),
            `late after ${what}`,
          );
          assert.equal(
            rows[0].school_day,
            schoolDays(day, day, [7, 1, 2], new Set(["2026-03-29"])).length === 1,
            `school day ${what}`,
          );
          compared++;
        }
      }
    assert.equal(compared, 60);
    // 01:30 on 29 March does not exist in London (read as 02:30 BST), 01:30 on 25 October
    // happens twice (the second, GMT, is meant): both sides agree, checked above; here the
    // instants themselves.
    await db.pool.query(
      `update schools set time_zone = 'Europe/London', attendance_day_ends_at = '01:30'
       where id = 'clock'`,
    );
    const { rows } = await db.pool.query(`
      select to_json(day_ends_at) as t from attendance_day_rules('clock', '2026-03-29')
      union all select to_json(day_ends_at) from attendance_day_rules('clock', '2026-10-25')`);
    assert.deepEqual(
      rows.map((r) => r.t),
      ["2026-03-29T01:30:00+00:00", "2026-10-25T01:30:00+00:00"],
    );
    assert.equal(
      (
        await db.pool.query(
          "select count(*)::int as n from attendance_school_days('clock', '-infinity', 'infinity')",
        )
      ).rows[0].n,
      0,
    );
  });

  test("every person-day's state and view equal person-day.ts's over the same events", async () => {
    let compared = 0;
    for (const school of SCHOOLS)
      for (const nowMs of [NOW, EARLIER]) {
        const { rows } = await db.pool.query(
          `select f.*, f.day::text as day_iso
           from attendance_person_days_from_events($1, '-infinity', 'infinity', $2) f
           order by f.person_id, f.day`,
          [school, at(nowMs)],
        );
        const expected = ref.personDays(data, school, days("0001-01-01", "9999-12-31"), nowMs);
        assert.equal(rows.length, expected.length, `${school}: person-days`);
        const ms = (t: Date | null) => (t === null ? null : t.getTime());
        for (const [k, x] of expected.entries()) {
          const r = rows[k];
          const what = `${school} ${x.personId} ${x.day} at ${at(nowMs)} (seed ${SEED})`;
          assert.deepEqual(
            {
              personId: r.person_id,
              day: r.day_iso,
              closedSeconds: r.closed_seconds,
              firstInMs: ms(r.first_in),
              lastOutMs: ms(r.last_out),
              openSinceMs: ms(r.open_since),
              maxTemperatureC: r.max_temperature_c === null ? null : Number(r.max_temperature_c),
              outsWithoutIn: r.outs_without_in,
              doubleIns: r.double_ins,
              doubleOuts: r.double_outs,
              events: r.events,
            },
            { personId: x.personId, day: x.day, ...x.state },
            `state ${what}`,
          );
          assert.deepEqual(
            {
              minutes: r.minutes,
              inNow: r.in_now,
              present: r.present,
              autoClosed: r.auto_closed,
              late: r.late,
              fever: r.fever,
              anomalies: r.anomalies,
            },
            viewDay(x.state, x.rules, nowMs),
            `view ${what}`,
          );
          assert.equal(r.school_day, x.schoolDay, `school day ${what}`);
          compared++;
        }
      }
    // the data set reaches every rule
    const all = SCHOOLS.flatMap((s) =>
      ref.personDays(data, s, days("0001-01-01", "9999-12-31"), NOW),
    );
    for (const [rule, count] of Object.entries({
      autoClosed: all.filter((x) => x.view.autoClosed).length,
      inNow: all.filter((x) => x.view.inNow).length,
      late: all.filter((x) => x.view.late).length,
      fever: all.filter((x) => x.view.fever).length,
      outsWithoutIn: all.filter((x) => x.state.outsWithoutIn > 0).length,
      doubleIns: all.filter((x) => x.state.doubleIns > 0).length,
      doubleOuts: all.filter((x) => x.state.doubleOuts > 0).length,
      absent: all.filter((x) => !x.view.present).length,
      offSchoolDay: all.filter((x) => !x.schoolDay).length,
    }))
      assert.ok(count >= 3, `${rule}: ${count} person-days`);
    assert.ok(compared > 600, `${compared} person-days compared`);
  });
});

describe("attendance reports through psql", () => {
  test("11 presence per day: the days written by hand (DST, +05:45, ties, microseconds)", async () => {
    const pick = (rows: string[][]) =>
      rows.map((r) =>
        // day, school_day, events, minutes, in_now, auto_closed, present, late, fever,
        // outs_without_in, double_ins, double_outs
        [3, 5, 6, 10, 11, 12, 13, 14, 15, 17, 18, 19].map((k) => r[k]).join(" "),
      );
    const north = await report("11_presence.sql", "presenceDays", {
      school_id: "north",
      person: "north-fix",
      from: "2026-03-23",
      to: "2026-04-06",
      now: at(NOW),
    });
    assert.deepEqual(pick(north), [
      "2026-03-23 t 0 0 f f f f f 0 0 0",
      "2026-03-24 t 2 240 f f t f f 0 0 0",
      "2026-03-25 t 2 239 f f f f f 0 0 0",
      "2026-03-26 t 2 434 f f t t t 0 0 0",
      "2026-03-27 t 3 0 f f f t f 0 0 1",
      "2026-03-30 t 2 480 f t t t f 1 0 0",
      "2026-03-31 t 1 0 f t f t f 0 0 0",
      "2026-04-01 t 1 0 f f f f f 1 0 0",
      "2026-04-02 t 0 0 f f f f f 0 0 0",
      "2026-04-03 f 2 420 f f t f f 0 0 0",
    ]);
    // first in, last out, open since, day end and late after of the day the clocks went
    // forward's Monday (BST): 09:00 BST is 08:00 UTC, the day ends 16:00 UTC
    assert.deepEqual(north[5]!.slice(7, 10), [
      "2026-03-30T08:00:00.000Z",
      "",
      "2026-03-30T08:00:00.000Z",
    ]);
    assert.deepEqual(north[5]!.slice(20), [
      "240",
      "2026-03-30T16:00:00.000Z",
      "2026-03-30T07:45:00.000Z",
      "38.0",
    ]);
    assert.equal(north[3]![16], "38.0");
    const today = await report("11_presence.sql", "presenceDays", {
      school_id: "north",
      person: "north-fix",
      from: "2026-10-26",
      now: at(EARLIER),
    });
    assert.deepEqual(pick(today), [
      "2026-10-26 t 4 300 f f t f f 0 0 0",
      // 27 October is a holiday: no absent row; 28 October: in since 08:30, now 09:00
      "2026-10-28 t 1 30 t f t f f 0 0 0",
    ]);
    const weekend = await report("11_presence.sql", "presenceDays", {
      school_id: "weekend",
      person: "weekend-fix",
      now: at(NOW),
    });
    assert.deepEqual(pick(weekend.filter((r) => r[6] !== "0")), [
      "2026-03-28 t 1 60 f t f f f 0 0 0",
      "2026-03-29 t 2 120 f f t f f 0 0 0",
      "2026-10-25 t 2 240 f f t f f 0 0 0",
    ]);
    assert.deepEqual(weekend.find((r) => r[3] === "2026-10-25")!.slice(7, 9), [
      "2026-10-24T23:30:00.000Z",
      "2026-10-25T03:30:00.000Z",
    ]);
    const ktm = await report("11_presence.sql", "presenceDays", {
      school_id: "ktm",
      person: "ktm-fix",
      now: at(NOW),
    });
    assert.deepEqual(pick(ktm.filter((r) => r[6] !== "0")), [
      "2026-03-23 t 2 255 f f f f f 0 0 0",
      "2026-03-24 t 1 135 f t f t f 0 0 0",
      "2026-03-25 t 2 330 f f t f f 0 0 0",
      "2026-03-26 t 2 350 f f t f f 0 0 0",
      "2026-10-28 t 1 375 f t t t f 0 0 0",
    ]);
    // 00:10 in Kathmandu is 18:25 UTC the day before; the day ends at 16:15 local, 10:30 UTC
    const night = ktm.find((r) => r[3] === "2026-03-26")!;
    assert.equal(night[7], "2026-03-25T18:25:00.000Z");
    assert.equal(night[21], "2026-03-26T10:30:00.000Z");
    const earlier = await report("11_presence.sql", "presenceDays", {
      school_id: "ktm",
      person: "ktm-fix",
      from: "2026-10-28",
      now: at(EARLIER),
    });
    assert.deepEqual(pick(earlier), ["2026-10-28 t 1 285 t f t t f 0 0 0"]);
  });

  test("11 presence per day equals the reference in every school, range, moment and filter", async () => {
    for (const school of SCHOOLS) {
      const r = defaults(school);
      const rows = await assertReport(
        "11_presence.sql",
        "presenceDays",
        { school_id: school, now: at(NOW) },
        ref.presenceDays(data, school, r, NOW),
      );
      assert.ok(rows.length > 100, `${school}: ${rows.length} rows`);
      await assertReport(
        "11_presence.sql",
        "presenceDays",
        { school_id: school, now: at(EARLIER), from: "2026-10-01" },
        ref.presenceDays(data, school, days("2026-10-01", defaults(school, EARLIER).to), EARLIER),
      );
    }
    // across the spring DST change, one group and one person
    const spring = days("2026-03-23", "2026-04-06");
    const vars = { school_id: "north", from: spring.from, to: spring.to, now: at(NOW) };
    await assertReport(
      "11_presence.sql",
      "presenceDays",
      vars,
      ref.presenceDays(data, "north", spring, NOW),
    );
    const choir = await assertReport(
      "11_presence.sql",
      "presenceDays",
      { ...vars, group: "choir" },
      ref.presenceDays(data, "north", spring, NOW, { group: "choir" }),
    );
    assert.deepEqual([...new Set(choir.map((r) => r[0]))], ["B-12", "Zoë"]);
    await assertReport(
      "11_presence.sql",
      "presenceDays",
      { ...vars, person: "erased-Q2x9" },
      ref.presenceDays(data, "north", spring, NOW, { person: "erased-Q2x9" }),
    );
    // the inactive person with events, the pseudonym off the roster, the one who never came
    const all = await report("11_presence.sql", "presenceDays", vars);
    const person = (id: string) => all.filter((r) => r[0] === id);
    assert.ok(person("eli").length > 0 && person("eli").every((r) => r[1] === "f"));
    assert.ok(person("erased-Q2x9").every((r) => r[1] === "" && r[2] === ""));
    assert.equal(person("fay").length, 9, "fay: absent on each school day");
    assert.ok(person("fay").every((r) => r[6] === "0" && r[13] === "f"));
    assert.equal(person("gone").length, 0, "gone: inactive and never there");
    // bytewise order: "B-12" and "Zoë" before "a-13"
    assert.ok(all.findIndex((r) => r[0] === "Zoë") < all.findIndex((r) => r[0] === "a-13"));
  });

  test("11 presence per week and month: the rule over school days, up to today", async () => {
    for (const school of SCHOOLS)
      for (const period of ["week", "month"] as const) {
        await assertReport(
          "11_presence.sql",
          "presencePeriods",
          { school_id: school, period, now: at(NOW) },
          ref.presencePeriods(data, school, period, defaults(school), NOW),
        );
        // a range that cuts weeks and months, ending before today
        const cut = days("2026-03-25", "2026-10-21");
        await assertReport(
          "11_presence.sql",
          "presencePeriods",
          { school_id: school, period, from: cut.from, to: cut.to, now: at(EARLIER) },
          ref.presencePeriods(data, school, period, cut, EARLIER),
        );
      }
    const week = await report("11_presence.sql", "presencePeriods", {
      school_id: "north",
      period: "week",
      person: "north-fix",
      from: "2026-03-23",
      to: "2026-04-06",
      now: at(NOW),
    });
    assert.deepEqual(week, [
      // Mon-Fri, all school days; present on the 24th and 26th: 2 of 5 < 80 %
      ["north-fix", "t", "7B", "2026-03-23", "2026-03-29", "5", "2", "40.00", "80", "f"],
      // 3 April is a holiday: 4 school days, present on the 30th (the 3rd does not count)
      ["north-fix", "t", "7B", "2026-03-30", "2026-04-05", "4", "1", "25.00", "80", "f"],
    ]);
    // this week: school days up to today (Mon 26, Wed 28; the 27th is a holiday)
    const now = await report("11_presence.sql", "presencePeriods", {
      school_id: "north",
      period: "week",
      person: "north-fix",
      from: "2026-10-26",
      now: at(NOW),
    });
    assert.deepEqual(now, [
      ["north-fix", "t", "7B", "2026-10-26", "2026-11-01", "2", "2", "100.00", "80", "t"],
    ]);
  });

  test("12 low presence: below the school's rule, or a share given", async () => {
    for (const school of SCHOOLS) {
      const low = await assertReport(
        "12_low_presence.sql",
        "lowPresence",
        { school_id: school, now: at(NOW) },
        ref.lowPresence(data, school, defaults(school), NOW),
      );
      assert.ok(low.length > 0, `${school}: somebody is below`);
      await assertReport(
        "12_low_presence.sql",
        "lowPresence",
        { school_id: school, now: at(NOW), min_share: "50.5", from: "2026-10-01" },
        ref.lowPresence(data, school, days("2026-10-01", defaults(school).to), NOW, "50.5"),
      );
    }
    const sevenA = await assertReport(
      "12_low_presence.sql",
      "lowPresence",
      { school_id: "north", now: at(NOW), group: "7A", min_share: "100" },
      ref.lowPresence(data, "north", defaults("north"), NOW, "100", { group: "7A" }),
    );
    assert.ok(sevenA.length > 0);
    const fay = (
      await report("12_low_presence.sql", "lowPresence", {
        school_id: "north",
        now: at(NOW),
      })
    )[0];
    assert.deepEqual([fay?.[0], fay?.[4], fay?.[6]], ["fay", "0", "0.00"]);
  });

  test("13 fever: every reading at or above the threshold", async () => {
    for (const school of SCHOOLS) {
      const rows = await assertReport(
        "13_fever.sql",
        "fever",
        { school_id: school },
        ref.fever(data, school, defaults(school)),
      );
      assert.ok(rows.length > 0, `${school}: fevers`);
      await assertReport(
        "13_fever.sql",
        "fever",
        { school_id: school, threshold: "37.5", from: "2026-03-25", to: "2026-04-01" },
        ref.fever(data, school, days("2026-03-25", "2026-04-01"), "37.5"),
      );
    }
    const fix = await report("13_fever.sql", "fever", {
      school_id: "north",
      person: "north-fix",
    });
    assert.deepEqual(fix, [
      [
        "2026-03-26",
        "2026-03-26T08:45:00.001Z",
        "north-fix",
        "t",
        "7B",
        "in",
        "38.0",
        "38.0",
        fix[0]![8]!,
        fix[0]![9]!,
      ],
    ]);
  });

  test("14 anomalies: auto-closed days, outs without in, double ins and outs", async () => {
    for (const school of SCHOOLS)
      for (const nowMs of [NOW, EARLIER]) {
        const rows = await assertReport(
          "14_anomalies.sql",
          "anomalies",
          { school_id: school, now: at(nowMs) },
          ref.anomalies(data, school, defaults(school, nowMs), nowMs),
        );
        assert.ok(rows.length > 10, `${school}: ${rows.length} anomalies`);
      }
    const fix = await report("14_anomalies.sql", "anomalies", {
      school_id: "north",
      person: "north-fix",
      to: "2026-04-02",
      now: at(NOW),
    });
    assert.deepEqual(
      fix.map((r) => [r[0], r[4], r[5], r[6], r[9]]),
      [
        // the second out an hour after the 0-minute interval
        ["2026-03-27", "double_out", "2026-03-27T10:00:00.000Z", fix[0]![6], ""],
        // the tie the other way round: out (b1) first, then in (b2), closed at 17:00 BST
        [
          "2026-03-30",
          "out_without_in",
          "2026-03-30T08:00:00.000Z",
          "00000000-0000-7000-8000-0000000000b1",
          "",
        ],
        [
          "2026-03-30",
          "auto_closed",
          "2026-03-30T16:00:00.000Z",
          "00000000-0000-7000-8000-0000000000b2",
          "2026-03-30T08:00:00.000Z",
        ],
        // checked in at 23:40, after the day's end: closed at the day's end, 0 minutes
        [
          "2026-03-31",
          "auto_closed",
          "2026-03-31T16:00:00.000Z",
          fix[3]![6],
          "2026-03-31T22:40:00.000Z",
        ],
        ["2026-04-01", "out_without_in", "2026-03-31T23:20:00.000Z", fix[4]![6], ""],
      ],
    );
    // today's open check-in is in, not auto-closed, until the day ends
    const ktm = (nowMs: number) =>
      report("14_anomalies.sql", "anomalies", {
        school_id: "ktm",
        person: "ktm-fix",
        from: "2026-10-28",
        now: at(nowMs),
      });
    assert.deepEqual(
      (await ktm(NOW)).map((r) => r[4]),
      ["auto_closed"],
    );
    assert.deepEqual(await ktm(EARLIER), []);
  });

  test("15 summary: per group and for the school, over a range and day by day", async () => {
    for (const school of SCHOOLS)
      for (const nowMs of [NOW, EARLIER]) {
        await assertReport(
          "15_attendance_summary.sql",
          "summaryRange",
          { school_id: school, now: at(nowMs) },
          ref.summaryRange(data, school, defaults(school, nowMs), nowMs),
        );
        await assertReport(
          "15_attendance_summary.sql",
          "summaryDays",
          { school_id: school, part: "days", now: at(nowMs), from: "2026-03-20" },
          ref.summaryDays(data, school, days("2026-03-20", defaults(school, nowMs).to), nowMs),
        );
      }
    const range = await report("15_attendance_summary.sql", "summaryRange", {
      school_id: "north",
      from: "2026-03-23",
      to: "2026-04-06",
      now: at(NOW),
    });
    // the school (8 active people), then its groups ("old" has only an inactive person, with
    // no events: no row); 9 school days (3 April is a holiday)
    assert.deepEqual(
      range.map((r) => r.slice(0, 4).join(" ")),
      ["(school) 8 9 72", "7A 2 9 18", "7B 4 9 36", "choir 2 9 18", "staff 1 9 9"],
    );
    const today = await report("15_attendance_summary.sql", "summaryDays", {
      school_id: "north",
      part: "days",
      from: "2026-10-28",
      now: at(EARLIER),
    });
    assert.deepEqual(
      today.map((r) => r.slice(0, 5).join(" ")),
      [
        "2026-10-28 Wed t (school) 8",
        "2026-10-28 Wed t 7A 2",
        "2026-10-28 Wed t 7B 4",
        "2026-10-28 Wed t choir 2",
        "2026-10-28 Wed t staff 1",
      ],
    );
    // fay (staff) never comes: absent; present + absent = roster for the staff row
    assert.deepEqual(today[4]!.slice(4, 7), ["1", "0", "1"]);
  });

  test("the attendance reports refuse a missing school, a wrong day or part", async () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ["11_presence.sql", {}, /psql variable school_id is required/],
      ["12_low_presence.sql", { school_id: "nope" }, /no school with id "nope"/],
      [
        "13_fever.sql",
        { school_id: "north", from: "2026-3-1" },
        /from must be a day, YYYY-MM-DD, not "2026-3-1"/,
      ],
      ["14_anomalies.sql", { school_id: "north", to: "tomorrow" }, /to must be a day/],
      [
        "11_presence.sql",
        { school_id: "north", period: "year" },
        /period must be day, week or month/,
      ],
      [
        "15_attendance_summary.sql",
        { school_id: "north", part: "weeks" },
        /part must be range or days/,
      ],
      [
        "12_low_presence.sql",
        { school_id: "north", min_share: "101" },
        /min_share must be a number from 0 to 100/,
      ],
      [
        "13_fever.sql",
        { school_id: "north", threshold: "hot" },
        /threshold must be degrees Celsius/,
      ],
    ];
    for (const [file, vars, message] of cases) {
      const r = await psql(file, vars);
      assert.equal(r.code, 3, `${file} ${JSON.stringify(vars)}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, "");
    }
  });

  test("npm run report -- presence --school: the same as psql", async () => {
    const viaNpm = await run(
      process.execPath,
      [
        join(ROOT, "scripts", "report.ts"),
        "presence",
        "--school",
        "ktm",
        "--from",
        "2026-03-23",
        "--to",
        "2026-03-27",
        "--set",
        `now=${at(NOW)}`,
        "--format",
        "csv",
      ],
      { ...process.env, DATABASE_URL: analyst.url },
    );
    assert.equal(viaNpm.code, 0, viaNpm.stderr);
    const direct = await psql("11_presence.sql", {
      school_id: "ktm",
      from: "2026-03-23",
      to: "2026-03-27",
      now: at(NOW),
    });
    assert.equal(viaNpm.stdout, direct.stdout);
    assert.ok(parseCsv(viaNpm.stdout).length > 10);
  });
});
