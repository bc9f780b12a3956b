import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Pool } from "../common/postgres.ts";
import {
  attendanceSchoolsChangedSql,
  peopleChanged,
  updateSchools,
} from "../ingest-api/registry/registry-changes.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 057 upgrades a deployment whose triggers on schools, people and school_holidays
// recorded attendance's school changes: what they recorded and no publisher consumed yet
// stays, the triggers and their functions go, and from then on the writing statements
// record the same through 057's functions.

const names = testNames();
let old: DatabaseBefore;
let pool: Pool;

async function logged(): Promise<string[]> {
  const { rows } = await pool.query<{ school_id: string }>(
    "delete from attendance_school_change_log returning school_id",
  );
  return [...new Set(rows.map((r) => r.school_id))].sort();
}

const dirty = async () =>
  (await pool.query<{ n: number }>("select count(*)::int as n from attendance_dirty")).rows[0]!.n;

before(async () => {
  old = await databaseBefore(57, names.database);
  pool = old.pool;
});

after(async () => {
  await old?.close();
});

describe("migration 057: attendance's school changes recorded without triggers", () => {
  test("what the triggers recorded stays; the functions record after the upgrade", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash'), ('elm', 'Elm')");
    await pool.query("insert into people (school_id, id) values ('ash', 'A1')");
    await pool.query("insert into school_holidays values ('elm', '2025-03-03', 'Carnival')");
    await pool.query(
      "insert into attendance_days (school_id, person_id, day) values ('ash', 'A1', '2025-03-03')",
    );
    await pool.query("update schools set time_zone = 'Europe/Paris' where id = 'ash'");
    assert.equal(await dirty(), 1, "the zone trigger marked the school's day");
    await pool.query("delete from attendance_dirty");
    await pool.query("insert into people (school_id, id) values ('elm', 'E1')");
    await pool.query("delete from attendance_school_change_log where school_id = 'ash'");
    const pending = await pool.query("select school_id from attendance_school_change_log");
    assert.deepEqual([...new Set(pending.rows.map((r) => r.school_id))], ["elm"]);

    await old.upgrade();
    const { rows: triggers } = await pool.query(
      `select tgname from pg_trigger where not tgisinternal
       and tgrelid in ('schools'::regclass, 'people'::regclass, 'school_holidays'::regclass)`,
    );
    // The registers' roster log (056) stayed a trigger on people after 057, until 059
    // (people_changed): the upgrade goes to the latest migration.
    assert.deepEqual(
      triggers.map((t) => t.tgname),
      [],
      "no trigger left on schools, people, school_holidays",
    );
    const { rows: functions } = await pool.query(
      `select proname from pg_proc
       where proname in ('mark_attendance_school_changed', 'mark_attendance_dirty_on_time_zone')`,
    );
    assert.deepEqual(functions, [], "the triggers' functions go");
    assert.deepEqual(await logged(), ["elm"], "the pending change stays");

    // A write without the functions records nothing any more; with them, as the triggers did.
    await pool.query("insert into people (school_id, id) values ('ash', 'A2')");
    await pool.query("update schools set time_zone = 'UTC' where id = 'ash'");
    assert.deepEqual(await logged(), []);
    assert.equal(await dirty(), 0);
    await pool.query("insert into people (school_id, id) values ('ash', 'A3')");
    await peopleChanged(pool, ["ash"]);
    await pool.query(
      attendanceSchoolsChangedSql(
        "delete from school_holidays where school_id = 'elm' returning school_id",
        "school_id",
      ),
    );
    assert.deepEqual(await logged(), ["ash", "elm"]);
    await updateSchools(pool, "time_zone = 'Europe/Paris'", "s.id = 'ash'");
    assert.deepEqual(await logged(), ["ash"]);
    assert.equal(await dirty(), 1);
  });
});
