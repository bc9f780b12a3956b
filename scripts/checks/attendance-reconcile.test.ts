import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../common/logger.ts";
import { createPool, type Pool } from "../../common/postgres.ts";
import { killChildren, runNode } from "../../harness/child-processes.ts";
import { personDays } from "../../sql/reports/attendance-reference.ts";
import {
  buildAttendanceDataset,
  NOW,
  seedAttendanceDataset,
} from "../../test-support/attendance-dataset.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import {
  formatAttendanceReconciliation,
  reconcileAttendanceDays,
  UnknownSchoolError,
} from "./attendance-reconcile.ts";

// `npm run reconcile`'s attendance check: attendance_days, as the writer keeps it (written
// here from common/attendance/person-day.ts's dayState of each person-day's events, which
// is what the writer stores), against migration 022's computation from the raw events. A
// faithful copy agrees; each kind of corruption is found and named.

const data = buildAttendanceDataset();
const SCHOOLS = ["ktm", "north", "weekend"];
const ALL_DAYS = { from: "0001-01-01", to: "9999-12-31" };
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("reconcile: attendance_days against the events", () => {
  let db: TestDatabase;
  let analyst: LoginRole;
  let analystDb: Pool;
  const counts = new Map<string, number>();

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await seedAttendanceDataset(db.pool, data);
    for (const school of SCHOOLS) {
      const days = personDays(data, school, ALL_DAYS, NOW);
      counts.set(school, days.length);
      for (const x of days)
        await db.pool.query(
          `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in,
             last_out, open_since, max_temperature_c, outs_without_in, double_ins, double_outs,
             events)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
          [
            school,
            x.personId,
            x.day,
            x.state.closedSeconds,
            iso(x.state.firstInMs),
            iso(x.state.lastOutMs),
            iso(x.state.openSinceMs),
            x.state.maxTemperatureC,
            x.state.outsWithoutIn,
            x.state.doubleIns,
            x.state.doubleOuts,
            x.state.events,
          ],
        );
    }
    // The check runs as the analyst, as `npm run reconcile` does.
    analyst = await createLoginRole(db, "tallyflow_analyst");
    analystDb = createPool(analyst.url, createLogger("silent"), { max: 1 });
  });
  after(async () => {
    await killChildren();
    await analystDb?.end();
    await analyst?.drop();
    await db?.drop();
  });

  test("the writer's state, faithfully kept, agrees person-day by person-day", async () => {
    const r = await reconcileAttendanceDays(analystDb, { listed: 20 });
    assert.deepEqual(
      r.schools.map((s) => [s.schoolId, s.compared, s.differing, s.pending, s.listed.length]),
      SCHOOLS.map((s) => [s, counts.get(s), 0, 0, 0]),
    );
    assert.equal(r.differences, 0);
    assert.equal(
      formatAttendanceReconciliation(r),
      [
        ...SCHOOLS.map((s) => `attendance ${s}: ok (${counts.get(s)} person-days)`),
        "attendance_days agrees with the events",
        "",
      ].join("\n"),
    );
    // a range and a school: only those days
    const week = await reconcileAttendanceDays(analystDb, {
      schoolId: "north",
      from: "2026-03-23",
      to: "2026-03-30",
      listed: 20,
    });
    assert.equal(week.schools.length, 1);
    assert.equal(
      week.schools[0]!.compared,
      personDays(data, "north", { from: "2026-03-23", to: "2026-03-30" }, NOW).length,
    );
    await assert.rejects(
      reconcileAttendanceDays(analystDb, { schoolId: "nope", listed: 1 }),
      UnknownSchoolError,
    );
  });

  test("a corrupted, a missing and an extra row are reported; a pending recompute is not a difference", async () => {
    const restore: string[] = [];
    try {
      // one count off, one open check-in moved by a millisecond
      await db.pool.query(`
        update attendance_days set closed_seconds = closed_seconds + 60
        where school_id = 'north' and person_id = 'north-fix' and day = '2026-03-24'`);
      await db.pool.query(`
        update attendance_days set open_since = open_since + interval '1 millisecond'
        where school_id = 'ktm' and person_id = 'ktm-fix' and day = '2026-03-24'`);
      // a person-day the writer lost, and one it holds without events
      const { rows: lost } = await db.pool.query(`
        delete from attendance_days
        where school_id = 'weekend' and person_id = 'weekend-fix' and day = '2026-03-29'
        returning *`);
      assert.equal(lost.length, 1);
      await db.pool.query(`
        insert into attendance_days (school_id, person_id, day, closed_seconds, events)
        values ('weekend', 'ola', '2026-06-06', 3600, 2)`);
      // a day the writer has been told to recompute: pending, listed, not counted
      await db.pool.query(`
        update attendance_days set events = events + 1
        where school_id = 'north' and person_id = 'north-fix' and day = '2026-03-25';
        insert into attendance_dirty values ('north', 'north-fix', '2026-03-25')`);
      restore.push(
        `update attendance_days set closed_seconds = closed_seconds - 60
         where school_id = 'north' and person_id = 'north-fix' and day = '2026-03-24'`,
        `update attendance_days set open_since = open_since - interval '1 millisecond'
         where school_id = 'ktm' and person_id = 'ktm-fix' and day = '2026-03-24'`,
        `delete from attendance_days where school_id = 'weekend' and person_id = 'ola' and day = '2026-06-06'`,
        `update attendance_days set events = events - 1
         where school_id = 'north' and person_id = 'north-fix' and day = '2026-03-25'`,
        "delete from attendance_dirty",
      );
      const r = await reconcileAttendanceDays(analystDb, { listed: 20 });
      assert.equal(r.differences, 3);
      assert.deepEqual(
        r.schools.map((s) => [s.schoolId, s.differing, s.pending]),
        [
          ["ktm", 1, 0],
          ["north", 1, 1],
          ["weekend", 2, 0],
        ],
      );
      const text = formatAttendanceReconciliation(r);
      assert.deepEqual(text.split("\n"), [
        `attendance ktm: DIFFERS (1 of ${counts.get("ktm")} person-days)`,
        "  ktm-fix 2026-03-24: open_since: stored 2026-03-24T08:15:00.001Z, computed 2026-03-24T08:15:00.000Z",
        `attendance north: DIFFERS (1 of ${counts.get("north")} person-days, 1 pending recompute)`,
        "  north-fix 2026-03-24: closed_seconds: stored 14460, computed 14400",
        "  north-fix 2026-03-25: events: stored 3, computed 2 (recompute pending: attendance_dirty)",
        `attendance weekend: DIFFERS (2 of ${counts.get("weekend")! + 1} person-days)`,
        "  weekend-fix 2026-03-29: no row in attendance_days, 2 events",
        "  ola 2026-06-06: a row of 2 events in attendance_days, none in votes",
        "3 school(s) differ in attendance_days",
        "",
      ]);
      // --show 1: one line a school, the rest counted
      const short = formatAttendanceReconciliation(
        await reconcileAttendanceDays(analystDb, { listed: 1 }),
      );
      assert.match(
        short,
        /attendance weekend: DIFFERS \(2 of \d+ person-days\)\n {2}weekend-fix 2026-03-29: no row in attendance_days, 2 events\n {2}… and 1 more\n/,
      );

      // through the script: exit 1, the attendance lines on stdout
      const env = {
        DATABASE_URL: analyst.url,
        REDIS_URL: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
        REDIS_KEY_PREFIX: `${testNames().redisKeyPrefix}`,
        LOG_LEVEL: "silent",
      };
      const run = await runNode(
        "scripts/reconcile.ts",
        ["--school", "weekend", "--show", "5"],
        env,
      );
      assert.equal(run.code, 1, run.stderr);
      // (the published documents' check follows: none are published here)
      assert.ok(
        run.stdout.includes(
          [
            `attendance weekend: DIFFERS (2 of ${counts.get("weekend")! + 1} person-days)`,
            "  weekend-fix 2026-03-29: no row in attendance_days, 2 events",
            "  ola 2026-06-06: a row of 2 events in attendance_days, none in votes",
            "1 school(s) differ in attendance_days",
            "attendance documents weekend: DIFFERS",
          ].join("\n"),
        ),
        run.stdout,
      );
      const ranged = await runNode(
        "scripts/reconcile.ts",
        ["--school", "weekend", "--from", "2026-10-01"],
        env,
      );
      assert.match(
        ranged.stdout,
        /attendance weekend: ok \(\d+ person-days\)\nattendance_days agrees with the events\n/,
      );
      const bad = await runNode("scripts/reconcile.ts", ["--from", "March"], env);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--from must be a day, YYYY-MM-DD, got "March"/);
      const unknown = await runNode("scripts/reconcile.ts", ["--school", "nope"], env);
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /--school: no school with id "nope"/);
    } finally {
      for (const sql of restore) await db.pool.query(sql);
      await db.pool.query(`
        insert into attendance_days (school_id, person_id, day, closed_seconds, first_in, last_out, events)
        select 'weekend', 'weekend-fix', '2026-03-29', 7200, '2026-03-29T00:30:00Z', '2026-03-29T02:30:00Z', 2
        where not exists (select 1 from attendance_days where school_id = 'weekend'
                          and person_id = 'weekend-fix' and day = '2026-03-29')`);
    }
    const again = await reconcileAttendanceDays(analystDb, { listed: 20 });
    assert.equal(again.differences, 0);
  });
});
