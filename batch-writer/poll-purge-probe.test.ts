import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { PollPurge } from "./poll-purge.ts";
import { createWriterMetrics } from "./writer-metrics.ts";

// The background purge (migration 031, poll-purge.ts) when more than a poll goes: a school
// deleted (its polls, then the school, in one transaction, as school-store.ts does) leaves
// its attendance polls to the purge after its row is gone, so the purge cannot mark their
// person-days dirty (it needs the school's time zone): those rows, person ids and presence,
// stayed for good. They go now, in bounded steps; a living school's are never touched.

const STEP = 50;

/** A school with an attendance poll and `people` person-days of today, each with a vote. */
async function schoolWithDays(pool: Pool, school: string, people: number): Promise<void> {
  await pool.query("insert into schools (id, name) values ($1, $1)", [school]);
  await pool.query(
    `insert into polls (id, slug, title, kind, voters, school_id, archived_at)
     values ($1 || '-door', $1 || '-door', 'Door', 'attendance', 'roster', $1, now())`,
    [school],
  );
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq, voter_id)
     select gen_random_uuid(), $1 || '-door', 'in', 'k1', now(), now(), i, 'P' || i
     from generate_series(1, $2::int) as i`,
    [school, people],
  );
  await pool.query(
    `insert into attendance_days (school_id, person_id, day, events)
     select $1, 'P' || i, current_date, 1 from generate_series(1, $2::int) as i`,
    [school, people],
  );
}

const deleteSchool = (pool: Pool, school: string) =>
  pool.query(
    `begin;
     select delete_polls(array(select id from polls where school_id = '${school}'));
     delete from schools where id = '${school}';
     commit`,
  );

const daysOf = (pool: Pool, school: string) =>
  queryNumber(pool, `select count(*) from attendance_days where school_id = '${school}'`);

describe("the purge when a school goes with its polls", () => {
  let db: TestDatabase;
  const purge = () =>
    new PollPurge({
      pool: db.pool,
      config: { pollPurgeBatchRows: STEP, pollPurgeBatchPolls: 100, pollPurgeIntervalMs: 60_000 },
      logger: createLogger("silent"),
      metrics: createWriterMetrics(async () => ({ undelivered: 0, ackPending: 0 })),
    });
  /** Steps until nothing is left, each bounded. */
  const drain = async (p: PollPurge) => {
    const steps: number[] = [];
    for (let n = await p.step(); n !== undefined; n = await p.step()) {
      steps.push(n);
      assert.ok(steps.length < 100, "the purge ends");
    }
    return steps;
  };

  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(() => db?.drop());

  test("a deleted school's person-days go, in bounded steps; a living school's stay", async () => {
    await schoolWithDays(db.pool, "gone", 3 * STEP + 7);
    await schoolWithDays(db.pool, "alive", 5);
    await deleteSchool(db.pool, "gone");
    const steps = await drain(purge());
    assert.ok(
      steps.every((n) => n <= STEP),
      steps.join(","),
    );
    assert.equal(await queryNumber(db.pool, "select count(*) from poll_purges"), 0);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'gone-door'"),
      0,
    );
    assert.equal(await daysOf(db.pool, "gone"), 0, "the deleted school's person-days");
    assert.equal(await daysOf(db.pool, "alive"), 5);
  });

  test("a poll deleted in a living school: its person-days marked dirty, not deleted", async () => {
    await schoolWithDays(db.pool, "north", 4);
    await db.pool.query("select delete_polls(array['north-door'])");
    await drain(purge());
    assert.equal(await daysOf(db.pool, "north"), 4, "left to the upkeep's recompute");
    assert.equal(
      await queryNumber(db.pool, "select count(*) from attendance_dirty where school_id = 'north'"),
      4,
    );
  });

  test("a school deleted and created again before the purge: its old days marked, not deleted", async () => {
    await schoolWithDays(db.pool, "again", 3);
    await deleteSchool(db.pool, "again");
    await db.pool.query("insert into schools (id, name) values ('again', 'Again')");
    // The poll's id stays taken until its purge is done.
    await assert.rejects(
      db.pool.query(
        `insert into polls (id, slug, title, school_id) values ('again-door', 'again-door', 'Door', 'again');
         select polls_inserted(array['again-door'])`,
      ),
      (err: { constraint?: string }) => err.constraint === "poll_purges_pkey",
    );
    await drain(purge());
    assert.equal(await daysOf(db.pool, "again"), 3, "the school exists: recomputed, not dropped");
    assert.equal(
      await queryNumber(db.pool, "select count(*) from attendance_dirty where school_id = 'again'"),
      3,
    );
  });
});
