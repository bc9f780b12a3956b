import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Pool } from "../common/postgres.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 037 converts the registers stored before it: a completed register's rows of
// people with no event (the roster made present, one row a pupil) go; the event rows, the
// rows of a register not completed, and every count stay; register_statuses lists the same
// people by the same status as register_people did before.

const names = testNames();
let pool: Pool;
let old: DatabaseBefore;

/** Every status row of a register as `person:status`, in id order. */
async function statuses(relation: string, pollId: string): Promise<string[]> {
  const { rows } = await pool.query<{ s: string }>(
    `select person_id || ':' || status as s from ${relation} where poll_id = $1 order by person_id`,
    [pollId],
  );
  return rows.map((r) => r.s);
}

before(async () => {
  // The migrations up to 036 in a directory of their own: the database as it was before 037.
  old = await databaseBefore(37, names.database);
  pool = old.pool;
});

after(async () => {
  await old?.close();
});

describe("migration 037: register_people keeps only the people with an event", () => {
  test("converts what 026's writer stored, every reader's answer the same", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    await pool.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ('done', 'done', 'Done', 'ash', 'register', 'roster', '{7A}', now() - interval '2 hours', now() - interval '1 hour'),
              ('open', 'open', 'Open', 'ash', 'register', 'roster', '{7A}', now(), now() + interval '1 hour')`,
    );
    // As the writer before 037 stored them: a row for everyone of the completed register's
    // roster (A1, A3, A4 without an event), A2 absent, A3's absence taken back; the register
    // not completed: only its people with an event.
    await pool.query(
      `insert into register_states (poll_id, school_id, group_id, starts_at, ends_at,
                                    completed_at, roster, present, absent, pending, events)
       values ('done', 'ash', '7A', now() - interval '2 hours', now() - interval '1 hour',
               now() - interval '90 minutes', '{A1,A2,A3,A4}', 3, 1, 0, 3),
              ('open', 'ash', '7A', now(), now() + interval '1 hour', null, null, 0, 1, 1, 3)`,
    );
    await pool.query(
      `insert into register_people (poll_id, person_id, status, last_event_at, after_completion)
       values ('done', 'A1', 'present', null, false),
              ('done', 'A2', 'absent', now() - interval '100 minutes', false),
              ('done', 'A3', 'present', now() - interval '80 minutes', true),
              ('done', 'A4', 'present', null, false),
              ('open', 'A1', 'absent', now(), false),
              ('open', 'A2', 'pending', now(), false)`,
    );
    const wasDone = await statuses("register_people", "done");
    const wasOpen = await statuses("register_people", "open");

    // 037 and whatever later migrations main has by now.
    assert.ok((await old.upgrade()) >= 1);
    const { rows: applied } = await pool.query<{ n: number }>(
      "select count(*)::int as n from schema_migrations where version = 37",
    );
    assert.equal(applied[0]!.n, 1, "037 applied");
    assert.deepEqual(await statuses("register_people", "done"), ["A2:absent", "A3:present"]);
    assert.deepEqual(await statuses("register_people", "open"), wasOpen);
    assert.deepEqual(await statuses("register_statuses", "done"), wasDone);
    assert.deepEqual(await statuses("register_statuses", "open"), wasOpen);
    const { rows } = await pool.query(
      "select poll_id, present, absent, pending from register_states order by poll_id",
    );
    assert.deepEqual(rows, [
      { poll_id: "done", present: 3, absent: 1, pending: 0 },
      { poll_id: "open", present: 0, absent: 1, pending: 1 },
    ]);
  });
});
