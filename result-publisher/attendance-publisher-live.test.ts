import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import {
  type AttendanceDayDocument,
  attendanceCursorKey,
  attendanceDayKeys,
} from "../common/attendance-contract.ts";
import { readAttendanceDay } from "../common/attendance-day-read.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { peopleChanged } from "../ingest-api/registry/registry-changes.ts";
import { storeAttendanceDay } from "../test-support/attendance-days.ts";
import type { TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { openPublisherBed, type PublisherBed } from "../test-support/publisher-bed.ts";
import { buildDayDocument } from "./attendance-document.ts";
import { AttendancePublisher } from "./attendance-publisher.ts";
import { loadActiveRoster, loadAttendanceSchools, loadDayRows } from "./attendance-store.ts";
import { createPublisherMetrics, type PublisherMetrics } from "./publisher-metrics.ts";

// The kept todays (attendance-live-day.ts): after the first run, a change of today is read
// as its row alone (no roster, no day read) and published with the version a build from
// scratch gives; a restart, an emptied Redis, a roster change, someone with no roster row,
// the day's end and a gap between runs each fall back to, or restore from, the reads.

const names = testNames();
const prefix = names.redisKeyPrefix;
const ZONE = "Europe/Paris";
const DAY = "2025-03-03"; // a Monday
const at = (hhmm: string) => new Date(localInstant(DAY, hhmm, ZONE)).toISOString();
const nowAt = (hhmm: string) => localInstant(DAY, hhmm, ZONE);

let bed: PublisherBed;
let db: TestDatabase;
let pool: Pool;
let redis: RedisClient;
const logger = createLogger("silent");

function newPublisher(metrics: PublisherMetrics, keptTodayMaxGapMs?: number) {
  return new AttendancePublisher({
    pool,
    redis,
    keyPrefix: prefix,
    daysKept: 2,
    maxDocumentsPerRun: 100,
    keptTodayMaxGapMs,
    logger,
    metrics,
  });
}

async function rowsRead(metrics: PublisherMetrics): Promise<number> {
  return (await metrics.attendanceRowsRead.get()).values[0]?.value ?? 0;
}

/** tallyflow_publisher_attendance_documents_built_by_path_total, by path. */
async function builtByPath(metrics: PublisherMetrics): Promise<Record<string, number>> {
  const values = (await metrics.attendanceBuiltByPath.get()).values;
  return Object.fromEntries(values.map((v) => [String(v.labels.path), v.value]));
}

async function document(schoolId = "oak"): Promise<AttendanceDayDocument> {
  const doc = await readAttendanceDay(redis, prefix, schoolId, DAY);
  assert.ok(doc !== null, `no document for ${schoolId}`);
  return doc;
}

/** The version buildDayDocument gives from the database as it is now. */
async function versionFromScratch(nowMs: number): Promise<string> {
  const school = (await loadAttendanceSchools(pool)).find((s) => s.id === "oak")!;
  const roster = await loadActiveRoster(pool, "oak");
  const rows = await loadDayRows(pool, "oak", [DAY]);
  return buildDayDocument(school, DAY, true, roster, rows, nowMs).version;
}

before(async () => {
  bed = await openPublisherBed(names, "test-publisher-live", logger);
  ({ db, pool, redis } = bed);
  await db.pool.query("delete from schools where id = 'default'");
  await db.pool.query(
    "insert into schools (id, name, time_zone, attendance_late_after) values ('oak', 'Oak', $1, '08:30'), ('elm', 'Elm', $1, null)",
    [ZONE],
  );
  await db.pool.query(
    `insert into people (school_id, id, name, groups) values
       ('oak', 'A1', 'Ada', '{7A}'), ('oak', 'A2', 'Bo', '{7A}'), ('oak', 'A3', 'Cy', '{7B}'),
       ('oak', 'A4', 'Di', '{7A,7B}'), ('elm', 'E1', 'Fay', '{}')`,
  );
  await storeAttendanceDay(db.pool, "oak", "A1", DAY, [{ kind: "in", at: at("07:50") }]);
});

after(async () => {
  await bed?.close();
});

describe("the attendance publisher's kept todays", () => {
  const metrics = createPublisherMetrics();
  let publisher: AttendancePublisher;

  test("a change logged since the last run is published from the changed row alone", async () => {
    publisher = newPublisher(metrics);
    const first = await publisher.run(nowAt("09:00"));
    assert.equal(first.published.length, 4, "2 schools × 2 kept days");
    assert.equal(publisher.keptTodays, 2);
    assert.deepEqual((await document()).lists.inNow, ["A1"]);
    assert.deepEqual(first.keptToday, [], "nothing kept yet: every document from the reads");
    assert.deepEqual(await builtByPath(metrics), {
      kept_today: 0,
      today_from_reads: 2,
      earlier_day_from_reads: 2,
    });

    const before = await rowsRead(metrics);
    await storeAttendanceDay(db.pool, "oak", "A2", DAY, [{ kind: "in", at: at("08:45") }]);
    const summary = await publisher.run(nowAt("09:01"));
    assert.deepEqual(summary.published, [`oak/${DAY}`]);
    assert.deepEqual(summary.keptToday, [`oak/${DAY}`], "built from the kept today");
    assert.equal((await builtByPath(metrics)).kept_today, 1);
    assert.equal((await rowsRead(metrics)) - before, 1, "the changed row, no roster, no day");
    const doc = await document();
    assert.deepEqual(doc.lists.inNow, ["A1", "A2"]);
    assert.deepEqual(doc.lists.late, ["A2"]);
    assert.deepEqual(doc.details, { A2: { firstIn: at("08:45") } });
    assert.deepEqual(doc.groups["7A"]!.lists.absent, ["A4"]);
    assert.equal(doc.counts.absent, 2);
    assert.equal(doc.version, await versionFromScratch(nowAt("09:01")), "a build from scratch's");

    // Rewritten with the same view: a new asOf, a new version; then nothing.
    await storeAttendanceDay(db.pool, "oak", "A2", DAY, [{ kind: "in", at: at("08:45") }]);
    assert.deepEqual((await publisher.run(nowAt("09:02"))).published, [`oak/${DAY}`]);
    assert.deepEqual((await publisher.run(nowAt("09:03"))).built, []);
  });

  test("a restart rebuilds from the reads and rewrites nothing", async () => {
    const restarted = newPublisher(createPublisherMetrics());
    await redis.del(attendanceCursorKey(prefix));
    const summary = await restarted.run(nowAt("09:04"));
    assert.equal(summary.built.length, 4);
    assert.deepEqual(summary.published, [], "the kept todays' versions are a build's");
    publisher.reset();
    assert.equal(publisher.keptTodays, 0, "a new leadership keeps nothing");
    await storeAttendanceDay(db.pool, "oak", "A3", DAY, [{ kind: "in", at: at("09:04") }]);
    const before = await rowsRead(metrics);
    assert.deepEqual((await publisher.run(nowAt("09:05"))).published, [`oak/${DAY}`]);
    assert.ok((await rowsRead(metrics)) - before >= 4, "read from the roster and the day");
    assert.deepEqual((await document()).lists.inNow, ["A1", "A2", "A3"]);
    assert.equal(publisher.keptTodays, 1, "oak's today kept again");
  });

  test("an emptied Redis is restored from the kept today, the same version", async () => {
    await publisher.run(nowAt("09:06"));
    assert.equal(publisher.keptTodays, 1, "oak's: elm's today has not changed since the reset");
    const keys = attendanceDayKeys(prefix, "oak", DAY);
    const version = await redis.get(keys.version);
    await redis.del([keys.json, keys.counts, keys.version]);
    const before = await rowsRead(metrics);
    const summary = await publisher.run(nowAt("09:07"));
    assert.deepEqual(summary.restored, [`oak/${DAY}`]);
    assert.deepEqual(summary.published, [`oak/${DAY}`]);
    assert.equal((await rowsRead(metrics)) - before, 0, "nothing read");
    assert.equal(await redis.get(keys.version), version);
    assert.deepEqual((await document()).lists.inNow, ["A1", "A2", "A3"]);
  });

  test("a roster change republishes from the reads; later changes go on from the new roster", async () => {
    await db.pool.query(
      "insert into people (school_id, id, name, groups) values ('oak', 'A5', 'Ed', '{7B}')",
    );
    await peopleChanged(db.pool, ["oak"]);
    const summary = await publisher.run(nowAt("09:08"));
    assert.deepEqual(summary.published.toSorted(), ["oak/2025-03-02", `oak/${DAY}`]);
    assert.deepEqual((await document()).groups["7B"]!.lists.absent, ["A4", "A5"]);
    await storeAttendanceDay(db.pool, "oak", "A5", DAY, [{ kind: "in", at: at("09:08") }]);
    const before = await rowsRead(metrics);
    await publisher.run(nowAt("09:09"));
    assert.equal((await rowsRead(metrics)) - before, 1);
    const doc = await document();
    assert.deepEqual(doc.groups["7B"]!.lists.inNow, ["A3", "A5"]);
    assert.deepEqual(doc.groups["7B"]!.lists.absent, ["A4"]);
    assert.equal(doc.version, await versionFromScratch(nowAt("09:09")));
  });

  test("a row of someone with no roster row: built from the reads again", async () => {
    await storeAttendanceDay(db.pool, "oak", "visitor-1", DAY, [{ kind: "in", at: at("09:10") }]);
    await publisher.run(nowAt("09:10"));
    const doc = await document();
    assert.deepEqual(doc.lists.inNow, ["A1", "A2", "A3", "A5", "visitor-1"]);
    assert.equal(doc.counts.roster, 5);
    assert.equal(doc.version, await versionFromScratch(nowAt("09:10")));
    // Kept again, with them in it: their next row is a delta.
    await storeAttendanceDay(db.pool, "oak", "visitor-1", DAY, [
      { kind: "in", at: at("09:10") },
      { kind: "out", at: at("09:20") },
    ]);
    const before = await rowsRead(metrics);
    await publisher.run(nowAt("09:20"));
    assert.equal((await rowsRead(metrics)) - before, 1);
    assert.deepEqual((await document()).lists.inNow, ["A1", "A2", "A3", "A5"]);
  });

  test("the day's end rebuilds it closed; a gap between runs drops what is kept", async () => {
    const summary = await publisher.run(nowAt("17:30"));
    assert.deepEqual(summary.published.toSorted(), [`elm/${DAY}`, `oak/${DAY}`]);
    const doc = await document();
    assert.equal(doc.dayOver, true);
    assert.deepEqual(doc.lists.autoClosed, ["A1", "A2", "A3", "A5"]);
    assert.equal(doc.version, await versionFromScratch(nowAt("17:30")));
    // After the end: kept closed, a late row still a delta.
    await storeAttendanceDay(db.pool, "oak", "A4", DAY, [
      { kind: "in", at: at("08:00") },
      { kind: "out", at: at("15:00") },
    ]);
    let before = await rowsRead(metrics);
    await publisher.run(nowAt("17:31"));
    assert.equal((await rowsRead(metrics)) - before, 1);
    assert.deepEqual((await document()).lists.out, ["A1", "A2", "A3", "A4", "A5"]);
    assert.equal((await document()).version, await versionFromScratch(nowAt("17:31")));

    const gapped = newPublisher(metrics, 0);
    await gapped.run(nowAt("17:32"));
    await storeAttendanceDay(db.pool, "oak", "A4", DAY, [{ kind: "in", at: at("08:00") }]);
    before = await rowsRead(metrics);
    await gapped.run(nowAt("17:33"));
    assert.ok((await rowsRead(metrics)) - before > 1, "no delta after a gap: the reads");
    assert.deepEqual((await document()).lists.autoClosed, ["A1", "A2", "A3", "A4", "A5"]);
  });

  test("kept todays are built outside the budget: it bounds the builds from reads", async () => {
    const small = new AttendancePublisher({
      pool,
      redis,
      keyPrefix: prefix,
      daysKept: 2,
      maxDocumentsPerRun: 1,
      logger,
      metrics,
    });
    await redis.del(attendanceCursorKey(prefix));
    // Without the marker: 4 documents, 1 a run from reads (the todays first).
    assert.equal((await small.run(nowAt("09:30"))).owed, 3);
    assert.equal((await small.run(nowAt("09:30"))).owed, 2);
    assert.equal(small.keptTodays, 2);
    await storeAttendanceDay(db.pool, "oak", "A4", DAY, [{ kind: "in", at: at("09:30") }]);
    await storeAttendanceDay(db.pool, "elm", "E1", DAY, [{ kind: "in", at: at("09:30") }]);
    const summary = await small.run(nowAt("09:31"));
    assert.deepEqual(summary.published.toSorted(), [`elm/${DAY}`, `oak/${DAY}`]);
    assert.equal(summary.owed, 1, "the other day still owed");
    assert.deepEqual((await document("elm")).lists.inNow, ["E1"]);
    await small.run(nowAt("09:32"));
    assert.equal((await small.run(nowAt("09:33"))).owed, 0);
  });
});
