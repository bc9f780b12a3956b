import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import request from "supertest";
import { keptDays } from "../../common/attendance-contract.ts";
import { storeAttendanceDay } from "../../test-support/attendance-days.ts";
import {
  type InProcessPublisher,
  startHarnessPublisher,
} from "../../test-support/in-process-publisher.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// ATTENDANCE_ANSWERS_WARM_MS=0: a new version's answers are never made ahead as it is
// fetched (the default makes them while the day was read within a minute, day-gzip.test.ts
// shows it); each is made by the first read that needs it, and what that read answers is
// the new version all the same.

const PATH = "/v1/schools/alder/attendance";
const [today] = keptDays(Date.now(), "UTC", 1) as [string];

let h: IngestHarness;
let head: TestSchoolAdmin;
let publisher: InProcessPublisher;

before(async () => {
  h = await startIngestHarness({ RESULTS_INTERVAL_MS: "3000", ATTENDANCE_ANSWERS_WARM_MS: "0" });
  await createSchool(h.app, "alder", { timeZone: "UTC" });
  head = await issueSchoolAdmin(h.app, "alder");
  for (const id of ["A1", "A2"])
    await request(h.app)
      .put(`/v1/schools/alder/people/${id}`)
      .set(head.auth)
      .send({ name: `Person ${id}`, groups: ["7A"] })
      .expect(201);
  publisher = await startHarnessPublisher(h, { RESULTS_INTERVAL_MS: "3000" });
  await h.attendance.check();
});

after(async () => {
  await publisher?.close();
  await h?.close();
});

test("with ATTENDANCE_ANSWERS_WARM_MS=0 a new version's answers wait for their first read", async () => {
  const first = await request(h.app).get(PATH).set(head.auth).expect(200);
  assert.ok(
    (h.attendance.current("alder", today)?.answers.size ?? 0) > 0,
    "the read made its answer",
  );

  await storeAttendanceDay(h.db.pool, "alder", "A2", today, [
    { kind: "in", at: new Date(Date.now() - 1_000).toISOString() },
  ]);
  await publisher.run();
  assert.ok(await publisher.attendanceRun(), "the attendance run failed");
  await h.attendance.check();
  const next = h.attendance.current("alder", today);
  assert.ok(next && next.version !== first.headers.etag, "a new version kept");
  assert.equal(next.answers.size, 0, "no answer made ahead of a read");

  const read = await request(h.app).get(PATH).set(head.auth).expect(200);
  assert.notEqual(read.headers.etag, first.headers.etag);
  // A2's check-in is in the new version (auto-closed or in, by the hour the test runs at).
  assert.equal(read.body.counts.inNow + read.body.counts.autoClosed, 1, "the new version: A2 in");
  assert.equal(next.answers.size, 1, "made by the read");
});
