import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import {
  type AttendanceAnnouncement,
  type AttendanceCountsDocument,
  type AttendanceDayDocument,
  attendanceChannel,
  attendanceCursorKey,
  attendanceDayKeys,
} from "../common/attendance-contract.ts";
import { createLogger } from "../common/logger.ts";
import { createPool, type Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { eventually } from "../harness/waiting.ts";
import {
  attendanceSchoolsChanged,
  attendanceSchoolsChangedSql,
  peopleChanged,
  updateSchools,
} from "../ingest-api/registry/registry-changes.ts";
import { setAttendanceRules, storeAttendanceDay } from "../test-support/attendance-days.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { AttendancePublisher } from "./attendance-publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

// The schools' day documents, published from attendance_days and the roster by a publisher
// whose clock the test sets: counts and lists, in now and auto-closed at dayEndsAt, late
// and out-of-order rows republishing their day, roster and rule changes, a restart that
// rewrites nothing, an emptied Redis, the per-run budget, a deleted school. The publisher
// reads as the tallyflow_publisher role (migration 023's grants: no name).

const names = testNames();
const prefix = names.redisKeyPrefix;
const ZONE = "Europe/Paris";
const DAY = "2025-03-03"; // a Monday, UTC+1
const at = (day: string, hhmm: string) => new Date(localInstant(day, hhmm, ZONE)).toISOString();
const nowAt = (day: string, hhmm: string) => localInstant(day, hhmm, ZONE);

let db: TestDatabase;
let role: LoginRole;
let apiRole: LoginRole;
let publisherPool: Pool;
let apiPool: Pool;
let redis: RedisClient;
let subscriber: RedisClient;
const announced: AttendanceAnnouncement[] = [];
const logger = createLogger("silent");

const newPublisher = (maxDocumentsPerRun = 100) =>
  new AttendancePublisher({
    pool: publisherPool,
    redis,
    keyPrefix: prefix,
    daysKept: 3,
    maxDocumentsPerRun,
    logger,
    metrics: createPublisherMetrics(),
  });

async function document(schoolId: string, day: string): Promise<AttendanceDayDocument> {
  const raw = await redis.get(attendanceDayKeys(prefix, schoolId, day).json);
  assert.ok(raw !== null, `no document for ${schoolId} ${day}`);
  return JSON.parse(raw) as AttendanceDayDocument;
}

async function countsDocument(schoolId: string, day: string): Promise<AttendanceCountsDocument> {
  const raw = await redis.get(attendanceDayKeys(prefix, schoolId, day).counts);
  assert.ok(raw !== null, `no counts document for ${schoolId} ${day}`);
  return JSON.parse(raw) as AttendanceCountsDocument;
}

before(async () => {
  db = await createTestDatabase(names.database);
  role = await createLoginRole(db, "tallyflow_publisher");
  publisherPool = createPool(role.url, logger, { max: 2, applicationName: "test-publisher" });
  // The API's role changes people and rules, and records the change through migration 057's
  // functions (its role's rights suffice).
  apiRole = await createLoginRole(db, "tallyflow_api");
  apiPool = createPool(apiRole.url, logger, { max: 1, applicationName: "test-api" });
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  subscriber = await connectRedis("redis://127.0.0.1:6379", logger, "test-sub");
  await subscriber.subscribe(attendanceChannel(prefix), (message) =>
    announced.push(JSON.parse(message) as AttendanceAnnouncement),
  );
  // Two schools, and only those: `default` (migration 017) has nothing here.
  await db.pool.query("delete from schools where id = 'default'");
  await db.pool.query(
    "insert into schools (id, name, time_zone) values ('oak', 'Oak', $1), ('elm', 'Elm', 'UTC')",
    [ZONE],
  );
  await setAttendanceRules(db.pool, "oak", {
    dayEndsAt: "16:00",
    minPresentMinutes: 240,
    lateAfter: "08:30",
    feverThresholdC: 38,
  });
  await db.pool.query(
    `insert into people (school_id, id, name, groups, active) values
       ('oak', 'A1', 'Ada', '{7A}', true), ('oak', 'A2', 'Bo', '{7A}', true),
       ('oak', 'A3', 'Cy', '{7B}', true), ('oak', 'A4', 'Di', '{7A,7B}', true),
       ('oak', 'A5', 'Ed', '{7B}', false), ('elm', 'E1', 'Fay', '{}', true)`,
  );
  // In since 07:50, still in.
  await storeAttendanceDay(db.pool, "oak", "A1", DAY, [{ kind: "in", at: at(DAY, "07:50") }]);
  // Late (after 08:30), 45 minutes: absent.
  await storeAttendanceDay(db.pool, "oak", "A2", DAY, [
    { kind: "out", at: at(DAY, "09:30") },
    { kind: "in", at: at(DAY, "08:45") },
  ]);
  // A fever, still in.
  await storeAttendanceDay(db.pool, "oak", "A4", DAY, [
    { kind: "in", at: at(DAY, "07:00"), temperatureC: 38.4 },
  ]);
  // Inactive now, present that day (4 h 30).
  await storeAttendanceDay(db.pool, "oak", "A5", DAY, [
    { kind: "in", at: at(DAY, "06:00") },
    { kind: "out", at: at(DAY, "10:30") },
  ]);
  // An erased person's pseudonym: a check-out without a check-in.
  await storeAttendanceDay(db.pool, "oak", "erased-x9", DAY, [
    { kind: "out", at: at(DAY, "09:00") },
  ]);
});

after(async () => {
  await subscriber?.close();
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
  await redis?.close();
  await publisherPool?.end();
  await apiPool?.end();
  await role?.drop();
  await apiRole?.drop();
  await db?.drop();
});

describe("the attendance publisher", () => {
  let publisher: AttendancePublisher;
  const noon = nowAt(DAY, "12:00");

  test("publishes each school's kept days: counts, lists, groups and details", async () => {
    publisher = newPublisher();
    const summary = await publisher.run(noon);
    assert.equal(summary.schools, 2);
    assert.equal(summary.documents, 6, "2 schools × 3 kept days");
    assert.deepEqual(summary.published.toSorted(), [
      "elm/2025-03-01",
      "elm/2025-03-02",
      "elm/2025-03-03",
      "oak/2025-03-01",
      "oak/2025-03-02",
      "oak/2025-03-03",
    ]);
    const doc = await document("oak", DAY);
    assert.equal(doc.schoolId, "oak");
    assert.equal(doc.day, DAY);
    assert.equal(doc.timeZone, ZONE);
    assert.equal(doc.dayOver, false);
    assert.equal(doc.dayEndsAt, "2025-03-03T15:00:00.000Z");
    assert.deepEqual(doc.rules, {
      dayEndsAt: "16:00",
      minPresentMinutes: 240,
      lateAfter: "08:30",
      feverThresholdC: 38,
    });
    assert.deepEqual(doc.counts, {
      roster: 4,
      inNow: 2,
      present: 3,
      absent: 2,
      late: 1,
      fever: 1,
      autoClosed: 0,
      anomalies: 1,
    });
    assert.deepEqual(doc.lists, {
      inNow: ["A1", "A4"],
      out: ["A5"],
      absent: ["A2", "A3"],
      late: ["A2"],
      fever: ["A4"],
      autoClosed: [],
      anomalies: ["erased-x9"],
    });
    assert.deepEqual(Object.keys(doc.groups), ["7A", "7B"]);
    assert.deepEqual(doc.groups["7A"]!.lists.inNow, ["A1", "A4"]);
    assert.deepEqual(doc.groups["7A"]!.lists.absent, ["A2"]);
    assert.equal(doc.groups["7A"]!.counts.roster, 3);
    // The roster is the active people; the present, everyone who was there.
    assert.equal(doc.groups["7B"]!.counts.roster, 2);
    assert.equal(doc.groups["7B"]!.counts.present, 2);
    // A5 is inactive now: still in 7B where they were present.
    assert.deepEqual(doc.groups["7B"]!.lists, {
      inNow: ["A4"],
      out: ["A5"],
      absent: ["A3"],
      late: [],
      fever: ["A4"],
      autoClosed: [],
      anomalies: [],
    });
    // What each flag rests on, and only that.
    assert.deepEqual(doc.details, {
      A2: { firstIn: at(DAY, "08:45") },
      A4: { maxTemperatureC: 38.4 },
      "erased-x9": { anomalies: 1 },
    });
    assert.ok(doc.asOf !== null);
    assert.doesNotMatch(JSON.stringify(doc), /Ada|Bo"|Cy|Di"/, "no name in a document");
    assert.equal(doc.schoolDay, true);
    // A Sunday (oak's weekdays: Monday to Friday): no school day, nobody absent.
    const sunday = await document("oak", "2025-03-02");
    assert.equal(sunday.schoolDay, false);
    assert.deepEqual(sunday.lists.absent, []);
    assert.equal(sunday.counts.roster, 4);
    assert.equal(sunday.asOf, null);
    assert.equal(sunday.dayOver, true);
    assert.match(sunday.version, /-c$/);
  });

  test("the counts document: the same version and counts, no person", async () => {
    const doc = await document("oak", DAY);
    const counts = await countsDocument("oak", DAY);
    assert.equal(counts.version, doc.version);
    assert.deepEqual(counts.counts, doc.counts);
    assert.deepEqual(counts.groups["7B"], doc.groups["7B"]!.counts);
    const text = JSON.stringify(counts);
    for (const id of ["A1", "A2", "A3", "A4", "A5", "erased-x9"])
      assert.ok(!text.includes(id), `the counts document names ${id}`);
    const keys = attendanceDayKeys(prefix, "oak", DAY);
    assert.equal(await redis.get(keys.version), doc.version);
    // Kept until the start of the day it leaves the 3 kept days (+ 1 h), in the school's zone,
    // by the publisher's clock.
    const keptFor = nowAt("2025-03-06", "00:00") + 3_600_000 - noon;
    for (const key of [keys.json, keys.counts, keys.version]) {
      const ttl = await redis.pTTL(key);
      assert.ok(ttl <= keptFor && ttl > keptFor - 60_000, `${key} expires in ${ttl} ms`);
    }
  });

  test("one announcement per publication; an idle run builds and writes nothing", async () => {
    await eventually("the announcements", async () => (announced.length >= 6 ? true : undefined));
    const doc = await document("oak", DAY);
    assert.ok(
      announced.some((a) => a.schoolId === "oak" && a.day === DAY && a.version === doc.version),
    );
    announced.length = 0;
    const idle = await publisher.run(noon + 60_000);
    assert.deepEqual(idle.built, []);
    assert.deepEqual(idle.published, []);
    assert.equal(idle.owed, 0);
    assert.equal((await redis.get(attendanceCursorKey(prefix))) !== null, true, "marker kept");
  });

  test("dayEndsAt passing republishes the day: open check-ins closed there, nobody in", async () => {
    const before = await document("oak", DAY);
    const summary = await publisher.run(nowAt(DAY, "16:30"));
    assert.deepEqual(summary.published, ["oak/2025-03-03"], "only the day that ended");
    const doc = await document("oak", DAY);
    assert.notEqual(doc.version, before.version);
    assert.match(doc.version, /-c$/);
    assert.equal(doc.dayOver, true);
    assert.deepEqual(doc.lists.inNow, []);
    // A1 07:50 → 16:00 and A4 07:00 → 16:00: present, closed at the day's end.
    assert.deepEqual(doc.lists.out, ["A1", "A4", "A5"]);
    assert.deepEqual(doc.lists.autoClosed, ["A1", "A4"]);
    assert.deepEqual(doc.details.A1, { firstIn: at(DAY, "07:50") });
    assert.deepEqual(doc.details.A4, { firstIn: at(DAY, "07:00"), maxTemperatureC: 38.4 });
    assert.equal(doc.counts.present, 3);
    assert.equal(doc.counts.autoClosed, 2);
    // Each school's own zone and dayEndsAt: elm's day (UTC, 17:00 by default) ends later.
    const later = await publisher.run(nowAt(DAY, "20:00"));
    assert.deepEqual(later.published, ["elm/2025-03-03"]);
    assert.deepEqual((await publisher.run(nowAt(DAY, "23:00"))).built, [], "then nothing");
  });

  test("weekdays and holidays: the days that become school days list their absent", async () => {
    const t = nowAt(DAY, "20:00");
    await updateSchools(db.pool, "attendance_weekdays = '{1,2,3,4,5,6,7}'", "s.id = 'oak'");
    const summary = await publisher.run(t);
    assert.deepEqual(summary.published.toSorted(), ["oak/2025-03-01", "oak/2025-03-02"]);
    const sunday = await document("oak", "2025-03-02");
    assert.equal(sunday.schoolDay, true);
    assert.deepEqual(sunday.lists.absent, ["A1", "A2", "A3", "A4"]);
    assert.deepEqual(sunday.groups["7A"]!.counts.absent, 3);
    // A holiday added: that day has nobody absent again.
    await db.pool.query(
      attendanceSchoolsChangedSql(
        "insert into school_holidays (school_id, day, name) values ('oak', '2025-03-01', 'Carnival') returning school_id",
        "school_id",
      ),
    );
    assert.deepEqual((await publisher.run(t)).published, ["oak/2025-03-01"]);
    const saturday = await document("oak", "2025-03-01");
    assert.equal(saturday.schoolDay, false);
    assert.deepEqual(saturday.lists.absent, []);
    assert.equal(saturday.counts.absent, 0);
  });

  test("a late row republishes its day only; an out-of-order one gives the same state", async () => {
    const t = nowAt(DAY, "20:00");
    const sunday = await document("oak", "2025-03-02");
    // An offline kiosk flushes Saturday and Sunday's events now, the check-out first.
    await storeAttendanceDay(db.pool, "oak", "A3", "2025-03-02", [
      { kind: "out", at: at("2025-03-02", "13:00") },
      { kind: "in", at: at("2025-03-02", "08:00") },
    ]);
    const summary = await publisher.run(t);
    assert.deepEqual(summary.published, ["oak/2025-03-02"]);
    const doc = await document("oak", "2025-03-02");
    assert.notEqual(doc.version, sunday.version);
    assert.deepEqual(doc.lists.out, ["A3"]);
    assert.deepEqual(doc.lists.absent, ["A1", "A2", "A4"]);
    // The same events in time order store the same state: the same lists (a new asOf).
    await storeAttendanceDay(db.pool, "oak", "A3", "2025-03-02", [
      { kind: "in", at: at("2025-03-02", "08:00") },
      { kind: "out", at: at("2025-03-02", "13:00") },
    ]);
    const again = await publisher.run(t);
    assert.deepEqual(again.published, ["oak/2025-03-02"], "its row was written again");
    const inOrder = await document("oak", "2025-03-02");
    assert.deepEqual(inOrder.lists, doc.lists);
    assert.deepEqual(inOrder.counts, doc.counts);
    // A row of a day no longer kept publishes nothing.
    await storeAttendanceDay(db.pool, "oak", "A3", "2025-02-20", [
      { kind: "in", at: at("2025-02-20", "08:00") },
    ]);
    assert.deepEqual((await publisher.run(t)).published, []);
  });

  test("a deleted person-day republishes its school's days", async () => {
    const t = nowAt(DAY, "20:00");
    await storeAttendanceDay(db.pool, "oak", "A1", "2025-03-01", [
      { kind: "in", at: at("2025-03-01", "08:00") },
    ]);
    await publisher.run(t);
    assert.deepEqual((await document("oak", "2025-03-01")).lists.out, ["A1"]);
    // As the writer removes a person-day left without events (attendance_keep_days, 051):
    // its school logged in the same statement.
    await db.pool.query(
      `with gone as (
         delete from attendance_days
         where school_id = 'oak' and person_id = 'A1' and day = '2025-03-01' returning school_id)
       insert into attendance_school_change_log (school_id) select distinct school_id from gone`,
    );
    const summary = await publisher.run(t);
    assert.deepEqual(summary.published, ["oak/2025-03-01"]);
    assert.deepEqual((await document("oak", "2025-03-01")).lists.out, []);
  });

  test("a roster change republishes the school's kept days, and only its own", async () => {
    const t = nowAt(DAY, "20:00");
    await apiPool.query(
      "insert into people (school_id, id, name, groups) values ('oak', 'A6', 'Flo', '{7B}')",
    );
    await peopleChanged(apiPool, ["oak"]);
    const summary = await publisher.run(t);
    assert.deepEqual(summary.published.toSorted(), [
      "oak/2025-03-01",
      "oak/2025-03-02",
      "oak/2025-03-03",
    ]);
    const doc = await document("oak", DAY);
    assert.deepEqual(doc.groups["7B"]!.lists.absent, ["A3", "A6"]);
    // Making someone inactive: they leave the absent lists of the days they have no row on.
    await apiPool.query("update people set active = false where school_id = 'oak' and id = 'A6'");
    await peopleChanged(apiPool, ["oak"]);
    await publisher.run(t);
    assert.deepEqual((await document("oak", DAY)).groups["7B"]!.lists.absent, ["A3"]);
  });

  test("a rule change republishes; a change of another setting does not", async () => {
    const t = nowAt(DAY, "20:00");
    await setAttendanceRules(apiPool, "oak", { minPresentMinutes: 300 });
    const summary = await publisher.run(t);
    assert.equal(summary.published.filter((k) => k.startsWith("oak/")).length, 3);
    const doc = await document("oak", DAY);
    assert.equal(doc.rules.minPresentMinutes, 300);
    // A5's 270 minutes are no longer enough.
    assert.deepEqual(doc.lists.out, ["A1", "A4"]);
    await setAttendanceRules(db.pool, "oak", { publicCounts: true });
    assert.deepEqual((await publisher.run(t)).published, []);
  });

  test("a new publisher (restart, failover) rewrites nothing unchanged, and catches up", async () => {
    const t = nowAt(DAY, "20:00");
    // A change while no publisher runs.
    await storeAttendanceDay(db.pool, "oak", "A2", "2025-03-01", [
      { kind: "in", at: at("2025-03-01", "09:00") },
    ]);
    const next = newPublisher();
    const summary = await next.run(t);
    assert.deepEqual(summary.built, ["oak/2025-03-01"], "only what the log holds");
    assert.deepEqual(summary.published, ["oak/2025-03-01"]);
    publisher = next;
  });

  test("a document gone from Redis is restored by the next run", async () => {
    const t = nowAt(DAY, "20:00");
    const keys = attendanceDayKeys(prefix, "elm", DAY);
    const version = await redis.get(keys.version);
    await redis.del([keys.json, keys.counts, keys.version]);
    const summary = await publisher.run(t);
    assert.deepEqual(summary.restored, ["elm/2025-03-03"]);
    assert.deepEqual(summary.published, ["elm/2025-03-03"]);
    assert.equal(await redis.get(keys.version), version, "the same content, the same version");
  });

  test("without the marker, every kept day is built, today's first, within the budget per run", async () => {
    const t = nowAt(DAY, "20:00");
    await redis.del(attendanceCursorKey(prefix));
    const cold = newPublisher(4);
    const first = await cold.run(t);
    assert.equal(first.built.length, 4);
    assert.ok(first.built.includes("oak/2025-03-03") && first.built.includes("elm/2025-03-03"));
    assert.equal(first.owed, 2);
    assert.deepEqual(first.published, [], "every document found unchanged");
    assert.equal(await redis.get(attendanceCursorKey(prefix)), null, "no marker while owing");
    const second = await cold.run(t);
    assert.equal(second.built.length, 2);
    assert.equal(second.owed, 0);
    assert.deepEqual(second.published, []);
    assert.ok((await redis.get(attendanceCursorKey(prefix))) !== null);
    assert.deepEqual((await cold.run(t)).built, []);
    publisher = cold;
  });

  test("owed documents stay in the change log: a change during the catch-up is not lost", async () => {
    const t = nowAt(DAY, "20:00");
    const slow = newPublisher(1);
    await storeAttendanceDay(db.pool, "elm", "E1", "2025-03-01", [
      { kind: "in", at: "2025-03-01T08:00:00.000Z" },
    ]);
    await storeAttendanceDay(db.pool, "elm", "E1", "2025-03-02", [
      { kind: "in", at: "2025-03-02T08:00:00.000Z" },
    ]);
    const first = await slow.run(t);
    assert.deepEqual(first.built, ["elm/2025-03-02"], "the most recent day first");
    assert.equal(first.owed, 1);
    const { rows } = await db.pool.query<{ day: string }>(
      "select day::text as day from attendance_day_changes where school_id = 'elm'",
    );
    assert.deepEqual(
      rows.map((r) => r.day),
      ["2025-03-01"],
      "the owed day's log row is kept, the built one's consumed",
    );
    // This publisher dies owing elm/2025-03-01: its successor finds it in the log.
    const successor = newPublisher();
    const caught = await successor.run(t);
    assert.ok(caught.published.includes("elm/2025-03-01"));
    assert.deepEqual((await document("elm", "2025-03-02")).lists.out, ["E1"]);
    // Open since 08:00, closed at 17:00 (elm's default dayEndsAt): present, auto-closed.
    const saturday = await document("elm", "2025-03-01");
    assert.deepEqual(saturday.lists.out, ["E1"]);
    assert.deepEqual(saturday.lists.autoClosed, ["E1"]);
    publisher = successor;
  });

  test("a deleted school's documents are removed", async () => {
    const t = nowAt(DAY, "20:00");
    await db.pool.query("delete from schools where id = 'elm'");
    await attendanceSchoolsChanged(db.pool, ["elm"]); // its people gone, as the API records it
    const summary = await publisher.run(t);
    assert.deepEqual(summary.removed.toSorted(), [
      "elm/2025-03-01",
      "elm/2025-03-02",
      "elm/2025-03-03",
    ]);
    assert.equal(await redis.exists(attendanceDayKeys(prefix, "elm", DAY).json), 0);
  });
});
