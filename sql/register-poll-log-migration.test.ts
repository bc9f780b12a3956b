import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Pool } from "../common/postgres.ts";
import {
  deletePolls,
  pollsInserted,
  updatePolls,
} from "../ingest-api/registry/registry-changes.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 055 upgrades a deployment whose polls' triggers logged the registers' changes:
// the log rows they wrote and no publisher consumed yet stay (their change_seq too), the
// triggers go, and from then on the API's functions log as the triggers did.

const names = testNames();
let old: DatabaseBefore;
let pool: Pool;

async function logged(): Promise<Record<string, number>> {
  const { rows } = await pool.query<{ poll_id: string; change_seq: string }>(
    "select poll_id, change_seq from register_change_log order by poll_id",
  );
  return Object.fromEntries(rows.map((r) => [r.poll_id, Number(r.change_seq)]));
}

const register = (id: string) =>
  pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ($1, $1, $1, 'ash', 'register', 'roster', '{7A}', now(), now() + interval '1 hour')`,
    [id],
  );

before(async () => {
  old = await databaseBefore(55, names.database);
  pool = old.pool;
});

after(async () => {
  await old?.close();
});

describe("migration 055: the registers' poll changes logged without triggers", () => {
  test("the log written by the triggers stays; the functions log after the upgrade", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    // Before: the triggers log a creation and a title's edit, not an archive.
    await register("edited");
    await register("kept");
    await pool.query("update polls set title = 'Renamed' where id = 'edited'");
    await pool.query("update polls set archived_at = now() where id = 'kept'");
    assert.deepEqual(await logged(), { edited: 2, kept: 1 });

    await old.upgrade();
    const { rows: triggers } = await pool.query(
      "select tgname from pg_trigger where tgrelid = 'polls'::regclass and not tgisinternal",
    );
    assert.deepEqual(triggers, [], "no trigger left on polls");
    assert.deepEqual(await logged(), { edited: 2, kept: 1 }, "the pending changes stay");

    // A write without the functions is no longer logged; with them, as the triggers did.
    await pool.query("update polls set title = 'Silent' where id = 'kept'");
    assert.deepEqual(await logged(), { edited: 2, kept: 1 });
    await register("new");
    await pollsInserted(pool, ["new"]);
    await updatePolls(pool, "title = 'Again'", "p.id = any($1)", [["edited", "kept"]]);
    await updatePolls(pool, "archived_at = null", "p.id = 'kept'");
    await deletePolls(pool, ["new"]);
    assert.deepEqual(await logged(), { edited: 3, kept: 2, new: 2 });
  });
});
