import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Pool } from "../common/postgres.ts";
import { updatePeopleSql } from "../ingest-api/registry/registry-changes.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 059 upgrades a deployment whose people triggers logged the lesson registers'
// roster changes (056, 057): a change logged before the upgrade stays in the log for the
// publisher; after it, the statements log through people_changed, and no trigger is left.

const names = testNames();
let pool: Pool;
let old: DatabaseBefore;

async function log(): Promise<Record<string, string[]>> {
  const { rows } = await pool.query<{ school_id: string; groups: string[] }>(
    "select school_id, groups from register_roster_change_log order by school_id",
  );
  return Object.fromEntries(rows.map((r) => [r.school_id, r.groups]));
}

before(async () => {
  old = await databaseBefore(59, names.database);
  pool = old.pool;
});
after(async () => {
  await old?.close();
});

describe("migration 059: people_changed replaces the people roster triggers", () => {
  test("what the triggers logged stays; the statements log after the upgrade", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    await pool.query(
      "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7B}')",
    );
    assert.deepEqual(await log(), { ash: ["7A", "7B"] }, "the 058 triggers logged it");

    await old.upgrade();
    const { rows: triggers } = await pool.query(
      "select tgname from pg_trigger where not tgisinternal and tgrelid = 'people'::regclass",
    );
    assert.deepEqual(triggers, []);
    const { rows: fn } = await pool.query(
      "select to_regprocedure('log_people_roster_changes()')::text as f",
    );
    assert.equal(fn[0]!.f, null);
    assert.deepEqual(await log(), { ash: ["7A", "7B"] }, "the log kept for the publisher");

    await pool.query("delete from register_roster_change_log");
    await pool.query(updatePeopleSql("groups = '{7C}'", "p.school_id = 'ash' and p.id = 'A1'"));
    assert.deepEqual(await log(), { ash: ["7A", "7C"] });
    await pool.query("delete from register_roster_change_log");
    await pool.query("update people set groups = '{7D}' where school_id = 'ash' and id = 'A2'");
    assert.deepEqual(await log(), {}, "a write without people_changed: no trigger logs it");
  });
});
