import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { sweepDirtyPersonDays } from "../../batch-writer/presence-upkeep.ts";
import { localInstant } from "../../common/attendance/school-day.ts";
import { type AttendanceDayDocument, attendanceDayKeys } from "../../common/attendance-contract.ts";
import { createLogger } from "../../common/logger.ts";
import { AttendancePublisher } from "../../result-publisher/attendance-publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { insertRegister } from "../../test-support/presence-state.ts";
import { createSchool } from "../../test-support/schools.ts";
import { attendanceSchoolsChanged } from "../registry/registry-changes.ts";

// What an admin changes through the API that a school's day documents show (its roster, its
// holidays, its day rules, its time zone) republishes them: the API's stores record the
// change in the writing statement's transaction (migration 057: no trigger does it any
// more, docs/citus.md "Triggers"), the publisher consumes it. A time zone change also has
// the writer recompute the school's person-days on the new zone's local days.

const ZONE = "UTC";
const DAY = "2025-03-03"; // a Monday
const NOW = localInstant(DAY, "12:00", ZONE); // 17:45 in Kathmandu: the same day
const KEPT = ["oak/2025-03-01", "oak/2025-03-02", "oak/2025-03-03"];

let h: IngestHarness;
let publisher: AttendancePublisher;

const person = (id: string, groups: string[], active = true) =>
  request(h.app)
    .put(`/v1/schools/oak/people/${id}`)
    .set(ADMIN)
    .send({ name: null, groups, active });

async function published(): Promise<string[]> {
  return (await publisher.run(NOW)).published.toSorted();
}

async function document(day: string): Promise<AttendanceDayDocument> {
  const raw = await h.redis.get(attendanceDayKeys(h.names.redisKeyPrefix, "oak", day).json);
  assert.ok(raw !== null, `no document for oak ${day}`);
  return JSON.parse(raw) as AttendanceDayDocument;
}

/** A check-in or check-out stored as the writer stores a register's event. */
async function storeEvent(n: number, personId: string, kind: "in" | "out", at: string) {
  await h.db.pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at,
       stream_seq, voter_id)
     values ($1, 'gate', $2, 'k-oak', $3, now(), $4, $5)`,
    [`0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a${n.toString(16).padStart(2, "0")}`, kind, at, n, personId],
  );
  // As a register deleted leaves them (the writer recomputes what is dirty).
  await h.db.pool.query(
    `insert into attendance_dirty (school_id, person_id, day)
     values ('oak', $1, ($2::timestamptz at time zone 'UTC')::date) on conflict do nothing`,
    [personId, at],
  );
}

const sweep = () => sweepDirtyPersonDays(h.db.pool, 1_000, 60_000, new AbortController().signal);

before(async () => {
  h = await startIngestHarness();
  // One school, and only it: `default` (migration 017) has nothing here.
  await h.db.pool.query("delete from schools where id = 'default'");
  await createSchool(h.app, "oak", { timeZone: ZONE });
  await request(h.app)
    .patch("/v1/schools/oak/attendance")
    .set(ADMIN)
    .send({ weekdays: [1, 2, 3, 4, 5, 6, 7] })
    .expect(200);
  for (const [id, groups] of [
    ["P1", ["7A"]],
    ["P2", ["7A"]],
    ["P3", ["7B"]],
  ] as const)
    await person(id, [...groups]).expect(201);
  await insertRegister(h.db.pool, "gate", "oak");
  await h.db.pool.query(
    "insert into kiosks (id, slug, name, token_hash, school_id) values ('k-oak', 'k-oak', 'K', '\\x02', 'oak')",
  );
  // P1 present on Sunday evening, out before midnight (UTC): on Monday in Kathmandu (+05:45).
  await storeEvent(1, "P1", "in", "2025-03-02T18:30:00Z");
  await storeEvent(2, "P1", "out", "2025-03-02T23:30:00Z");
  await sweep();
  // Every kept day published first, whatever the setup's own changes recorded.
  await attendanceSchoolsChanged(h.db.pool, ["oak"]);
  publisher = new AttendancePublisher({
    pool: h.db.pool,
    redis: h.redis,
    keyPrefix: h.names.redisKeyPrefix,
    daysKept: 3,
    maxDocumentsPerRun: 100,
    logger: createLogger("silent"),
    metrics: createPublisherMetrics(),
  });
  assert.deepEqual(await published(), KEPT);
  assert.deepEqual((await document("2025-03-02")).lists.out, ["P1"]);
});

after(async () => {
  await h?.close();
});

describe("an admin's change through the API republishes the school's day documents", () => {
  test("a roster change: a person added, then made inactive", async () => {
    await person("P4", ["7B"]).expect(201);
    assert.deepEqual(await published(), KEPT);
    assert.deepEqual((await document(DAY)).lists.absent, ["P1", "P2", "P3", "P4"]);
    await request(h.app)
      .patch("/v1/schools/oak/people/P4")
      .set(ADMIN)
      .send({ active: false })
      .expect(200);
    assert.deepEqual(await published(), KEPT);
    assert.deepEqual((await document(DAY)).lists.absent, ["P1", "P2", "P3"]);
    await request(h.app).delete("/v1/schools/oak/people/P4").set(ADMIN).expect(200);
    // Nothing a document shows changed: rebuilt, found the same, not written.
    assert.deepEqual(await published(), []);
  });

  test("a holiday added, then removed", async () => {
    await request(h.app)
      .put(`/v1/schools/oak/holidays/${DAY}`)
      .set(ADMIN)
      .send({ name: "Carnival" })
      .expect(201);
    assert.deepEqual(await published(), [`oak/${DAY}`]);
    assert.equal((await document(DAY)).schoolDay, false);
    assert.deepEqual((await document(DAY)).lists.absent, []);
    await request(h.app).delete(`/v1/schools/oak/holidays/${DAY}`).set(ADMIN).expect(200);
    assert.deepEqual(await published(), [`oak/${DAY}`]);
    assert.equal((await document(DAY)).schoolDay, true);
  });

  test("a day rule changed; a setting no document shows republishes nothing", async () => {
    await request(h.app)
      .patch("/v1/schools/oak/attendance")
      .set(ADMIN)
      .send({ weekdays: [1, 2, 3, 4, 5] })
      .expect(200);
    assert.deepEqual(await published(), ["oak/2025-03-01", "oak/2025-03-02"]);
    assert.equal((await document("2025-03-02")).schoolDay, false);
    await request(h.app)
      .patch("/v1/schools/oak/attendance")
      .set(ADMIN)
      .send({ publicCounts: true })
      .expect(200);
    assert.deepEqual(await published(), []);
    await request(h.app)
      .patch("/v1/schools/oak/attendance")
      .set(ADMIN)
      .send({ weekdays: [1, 2, 3, 4, 5, 6, 7] })
      .expect(200);
    assert.deepEqual(await published(), ["oak/2025-03-01", "oak/2025-03-02"]);
  });

  test("a time zone change: the person-days kept on the new zone's days, republished", async () => {
    await request(h.app)
      .patch("/v1/schools/oak")
      .set(ADMIN)
      .send({ timeZone: "Asia/Kathmandu" })
      .expect(200);
    const dirty = await h.db.pool.query(
      "select person_id, day::text from attendance_dirty where school_id = 'oak' order by day",
    );
    assert.deepEqual(dirty.rows, [
      { person_id: "P1", day: "2025-03-02" },
      { person_id: "P1", day: "2025-03-03" },
    ]);
    await sweep();
    const days = await h.db.pool.query(
      "select person_id, day::text from attendance_days where school_id = 'oak'",
    );
    assert.deepEqual(days.rows, [{ person_id: "P1", day: DAY }]);
    // Every kept day: a document shows its school's rules, the time zone among them.
    assert.deepEqual(await published(), KEPT);
    assert.deepEqual((await document(DAY)).lists.out, ["P1"]);
    assert.deepEqual((await document("2025-03-02")).lists.out, []);
  });
});
