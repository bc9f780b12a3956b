import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import {
  type AttendanceDayDocument,
  attendanceCursorKey,
  attendanceDayKeys,
} from "../common/attendance-contract.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool, PoolClient } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { eventually } from "../harness/waiting.ts";
import { runAcrossCommit, type WriterTransaction } from "../harness/writer-rollups.ts";
import { peopleChanged } from "../ingest-api/registry/registry-changes.ts";
import { storeAttendanceDay } from "../test-support/attendance-days.ts";
import type { TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { openPublisherBed, type PublisherBed } from "../test-support/publisher-bed.ts";
import { AttendancePublisher } from "./attendance-publisher.ts";
import { Leadership, LOCK_APPLICATION_NAME } from "./leader.ts";
import { createPublisherMetrics, type PublisherMetrics } from "./publisher-metrics.ts";

// Attendance's change tracking without transaction ids (migration 051): what a run reads is
// the change log's rows, never a snapshot's xmin, and the leader deletes only what it read,
// once published, and only while it still holds the publisher lock.

const names = testNames();
const prefix = names.redisKeyPrefix;
const ZONE = "UTC";
const DAY = "2025-03-03"; // a Monday
const NOON = localInstant(DAY, "12:00", ZONE);
const at = (hhmm: string) => new Date(localInstant(DAY, hhmm, ZONE)).toISOString();
const logger = createLogger("silent");

let bed: PublisherBed;
let db: TestDatabase;
let publisherPool: Pool;
let redis: RedisClient;

const newPublisher = (
  metrics: PublisherMetrics,
  options: { maxDocumentsPerRun?: number; leaderPid?: () => number | undefined } = {},
) =>
  new AttendancePublisher({
    pool: publisherPool,
    redis,
    keyPrefix: prefix,
    daysKept: 3,
    maxDocumentsPerRun: options.maxDocumentsPerRun ?? 100,
    ...(options.leaderPid === undefined ? {} : { leaderPid: options.leaderPid }),
    logger,
    metrics,
  });

const rowsRead = async (metrics: PublisherMetrics) =>
  (await metrics.attendanceRowsRead.get()).values[0]?.value ?? 0;

/** The change log's rows: school-days (`school/day`) and schools. */
async function logged(): Promise<{ days: string[]; schools: string[] }> {
  const days = await db.pool.query<{ k: string }>(
    "select school_id || '/' || day::text as k from attendance_day_changes order by 1",
  );
  const schools = await db.pool.query<{ k: string }>(
    "select school_id as k from attendance_school_change_log order by 1",
  );
  return { days: days.rows.map((r) => r.k), schools: schools.rows.map((r) => r.k) };
}

async function document(day = DAY): Promise<AttendanceDayDocument> {
  const raw = await redis.get(attendanceDayKeys(prefix, "oak", day).json);
  assert.ok(raw !== null, `no document for oak ${day}`);
  return JSON.parse(raw) as AttendanceDayDocument;
}

/**
 * A transaction that writes a check-in's row and logs its school-day as the writer does
 * (attendance_keep_days: the row stamped with the transaction's change id), held open until
 * commit(); lock() then takes a table lock in it.
 */
async function openCheckIn(
  personId: string,
): Promise<WriterTransaction & { lock(lock: string): Promise<void> }> {
  const client: PoolClient = await db.pool.connect();
  await client.query("begin");
  await client.query(
    `with w as (
       insert into attendance_days (school_id, person_id, day, first_in, open_since, events)
       values ('oak', $1, $2::date, $3, $3, 1) returning school_id, day)
     insert into attendance_day_changes (school_id, day) select school_id, day from w`,
    [personId, DAY, at("09:00")],
  );
  let open = true;
  return {
    async lock(lock: string) {
      await client.query(`lock table ${lock}`);
    },
    async commit() {
      open = false;
      await client.query("commit");
      client.release();
    },
    async rollback() {
      if (!open) return;
      open = false;
      await client.query("rollback").catch(() => {});
      client.release();
    },
  };
}

before(async () => {
  bed = await openPublisherBed(names, "test-publisher", logger);
  ({ db, pool: publisherPool, redis } = bed);
  await db.pool.query("delete from schools where id = 'default'");
  await db.pool.query("insert into schools (id, name, time_zone) values ('oak', 'Oak', $1)", [
    ZONE,
  ]);
  await db.pool.query(
    `insert into people (school_id, id, name, groups, active) values
       ('oak', 'P1', 'Ada', '{7A}', true), ('oak', 'P2', 'Bo', '{7A}', true),
       ('oak', 'P3', 'Cy', '{7B}', true), ('oak', 'P4', 'Di', '{7B}', true)`,
  );
});

after(async () => {
  await bed?.close();
});

describe("attendance's change log", () => {
  const metrics = createPublisherMetrics();
  let publisher: AttendancePublisher;

  test("a run consumes the log; a long transaction elsewhere makes no run read again", async () => {
    publisher = newPublisher(metrics);
    await publisher.run(NOON);
    assert.deepEqual(await logged(), { days: [], schools: [] }, "the first run consumed it");
    // Held open from here on: its transaction id would be every later snapshot's xmin.
    const held = await db.pool.connect();
    try {
      await held.query("begin");
      await held.query("select pg_current_xact_id()");
      await storeAttendanceDay(db.pool, "oak", "P1", DAY, [{ kind: "in", at: at("08:00") }]);
      let before = await rowsRead(metrics);
      let summary = await publisher.run(NOON);
      assert.deepEqual(summary.keptToday, [`oak/${DAY}`], "the kept today, from its delta");
      assert.equal((await rowsRead(metrics)) - before, 1, "P1's row alone");
      await storeAttendanceDay(db.pool, "oak", "P2", DAY, [{ kind: "in", at: at("08:05") }]);
      before = await rowsRead(metrics);
      summary = await publisher.run(NOON);
      assert.deepEqual(summary.published, [`oak/${DAY}`]);
      assert.equal(
        (await rowsRead(metrics)) - before,
        1,
        "P2's row alone, not P1's again (read by the run before)",
      );
      assert.deepEqual((await document()).lists.inNow, ["P1", "P2"]);
      assert.deepEqual(await logged(), { days: [], schools: [] });
      before = await rowsRead(metrics);
      assert.deepEqual((await publisher.run(NOON)).built, [], "an idle run builds nothing");
      assert.equal((await rowsRead(metrics)) - before, 0);
    } finally {
      await held.query("rollback");
      held.release();
    }
  });

  test("a row committed after a run read the log, before it deleted it, is published next", async () => {
    // Changes the run reads (P1's and P2's days written again, the same) around one it does
    // not (P3's, committed only once the run has read the log): the late one's change id lies
    // between theirs, so the ids read are two runs, not one range.
    await storeAttendanceDay(db.pool, "oak", "P1", DAY, [{ kind: "in", at: at("08:00") }]);
    const late = await openCheckIn("P3");
    await storeAttendanceDay(db.pool, "oak", "P2", DAY, [{ kind: "in", at: at("08:05") }]);
    // EXCLUSIVE lets the run read the log but makes its delete wait for this commit.
    await late.lock("attendance_day_changes in exclusive mode");
    await runAcrossCommit(
      db.pool,
      "attendance_day_changes",
      late,
      () => publisher.run(NOON),
      "the run waits to delete the log rows it read",
    );
    const { rows: ids } = await db.pool.query<{ person_id: string; change_id: string }>(
      "select person_id, change_id::text from attendance_days order by change_id",
    );
    assert.deepEqual(
      ids.map((r) => r.person_id),
      ["P1", "P3", "P2"],
      "the late transaction's change id between the two read",
    );
    assert.deepEqual((await logged()).days, [`oak/${DAY}`], "the late row's log row stays");
    assert.deepEqual((await document()).lists.inNow, ["P1", "P2"], "not seen by that run");
    assert.deepEqual((await publisher.run(NOON)).published, [`oak/${DAY}`]);
    assert.deepEqual((await document()).lists.inNow, ["P1", "P2", "P3"]);
    assert.deepEqual(await logged(), { days: [], schools: [] });
  });

  test("a school change the budget leaves owed stays in the log for the next leader", async () => {
    // P4 made inactive: every kept day of oak changes (its roster).
    await db.pool.query("update people set active = false where id = 'P4'");
    await peopleChanged(db.pool, ["oak"]);
    assert.deepEqual((await logged()).schools, ["oak"]);
    const slow = newPublisher(createPublisherMetrics(), { maxDocumentsPerRun: 1 });
    const first = await slow.run(NOON);
    assert.deepEqual(first.built, [`oak/${DAY}`], "today first");
    assert.equal(first.owed, 2);
    // The school's row is consumed; its two owed days are logged as days.
    assert.deepEqual(await logged(), { days: ["oak/2025-03-01", "oak/2025-03-02"], schools: [] });
    // That leader is gone: its successor owes them from the log.
    const successor = newPublisher(createPublisherMetrics());
    const next = await successor.run(NOON);
    assert.deepEqual(next.built.toSorted(), ["oak/2025-03-01", "oak/2025-03-02"]);
    assert.equal((await document("2025-03-02")).counts.roster, 3);
    assert.deepEqual(await logged(), { days: [], schools: [] });
    publisher = successor;
  });

  test("a leader whose lock session ends while it waits to delete the log deletes nothing", async () => {
    const leadership = new Leadership(db.url, logger);
    try {
      assert.equal(await leadership.acquire(), true);
      const leader = newPublisher(createPublisherMetrics(), {
        leaderPid: () => leadership.lockSessionPid,
      });
      await leader.run(NOON);
      await storeAttendanceDay(db.pool, "oak", "P1", DAY, [
        { kind: "in", at: at("08:00") },
        { kind: "out", at: at("11:00") },
      ]);
      // The run's delete waits behind this lock; meanwhile the lock's session ends, so a new
      // leader could hold the lock and not have read the log yet: the delete must not happen.
      const holder = await db.pool.connect();
      await holder.query("begin");
      await holder.query("lock table attendance_day_changes in exclusive mode");
      const lockSessionEnds: WriterTransaction = {
        async commit() {
          await db.pool.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where application_name = $1 and datname = current_database()`,
            [LOCK_APPLICATION_NAME],
          );
          await eventually("the lock session ended", async () => {
            const { rows } = await db.pool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
               where application_name = $1 and datname = current_database()`,
              [LOCK_APPLICATION_NAME],
            );
            return rows[0]!.n === 0;
          });
          await this.rollback();
        },
        async rollback() {
          await holder.query("rollback").catch(() => {});
          holder.release();
          this.rollback = async () => {};
        },
      };
      await runAcrossCommit(
        db.pool,
        "attendance_day_changes",
        lockSessionEnds,
        () => leader.run(NOON),
        "the run waits to delete the log rows it read",
      );
      assert.deepEqual((await logged()).days, [`oak/${DAY}`], "the stale leader's rows stay");
      // The next leader reads them (the stale one had written the document: found unchanged).
      assert.deepEqual((await publisher.run(NOON)).built, [`oak/${DAY}`]);
      // P1 checked out at 11:00 after 3 hours: absent.
      assert.deepEqual((await document()).lists.absent, ["P1"]);
      assert.deepEqual((await document()).lists.inNow, ["P2", "P3"]);
      assert.deepEqual(await logged(), { days: [], schools: [] });
    } finally {
      await leadership.release();
    }
  });

  test("the marker: a leader that does not find it rebuilds every kept day", async () => {
    await redis.del(attendanceCursorKey(prefix));
    const cold = newPublisher(createPublisherMetrics());
    const summary = await cold.run(NOON);
    assert.equal(summary.built.length, 3, "every kept day of oak");
    assert.deepEqual(summary.published, [], "found unchanged");
    assert.ok((await redis.get(attendanceCursorKey(prefix))) !== null, "written: nothing owed");
  });
});
