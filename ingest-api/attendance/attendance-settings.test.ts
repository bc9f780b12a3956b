import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import type { AttendanceSettings } from "../../common/registry-types.ts";
import { eventually } from "../../harness/waiting.ts";
import { expectError, issueFields, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// A school's presence rules through PATCH /v1/schools/:schoolId/attendance: each field
// checked and named, the change stored, in this process's registry cache at once, and in
// force where the rules are used (a register's temperature range at intake).

const DEFAULTS: AttendanceSettings = {
  dayEndsAt: "17:00",
  minPresentMinutes: 240,
  lateAfter: null,
  minPresentDaysPct: 80,
  weekdays: [1, 2, 3, 4, 5],
  feverThresholdC: 38,
  temperatureMinC: 28,
  temperatureMaxC: 43,
  publicCounts: false,
};

let h: IngestHarness;
let headA: TestSchoolAdmin;
let headB: TestSchoolAdmin;

before(async () => {
  h = await startIngestHarness();
  await createSchool(h.app, "elm");
  await createSchool(h.app, "oak");
  await createSchool(h.app, "fresh");
  headA = await issueSchoolAdmin(h.app, "elm");
  headB = await issueSchoolAdmin(h.app, "oak");
});
after(() => h?.close());

const path = (school: string) => `/v1/schools/${school}/attendance`;
const patch = (auth: { Authorization: string }, school: string, body: unknown) =>
  request(h.app)
    .patch(path(school))
    .set(auth)
    .send(body as object);

describe("PATCH /v1/schools/:schoolId/attendance", () => {
  test("an empty patch answers the documented defaults and writes nothing", async () => {
    const before = (await request(h.app).get("/v1/schools/fresh").set(ADMIN)).body;
    const res = await patch(ADMIN, "fresh", {});
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, DEFAULTS);
    const after = (await request(h.app).get("/v1/schools/fresh").set(ADMIN)).body;
    assert.equal(after.updatedAt, before.updatedAt);
  });

  test("the school's admin changes its rules: stored, answered, cached, shown with the school", async () => {
    const res = await patch(headA.auth, "elm", {
      dayEndsAt: "16:30",
      minPresentMinutes: 180,
      lateAfter: "08:15",
      minPresentDaysPct: 75,
      weekdays: [6, 1, 3],
      feverThresholdC: 37.8,
      temperatureMinC: 30.5,
      temperatureMaxC: 42,
      publicCounts: true,
    });
    assert.equal(res.status, 200, res.text);
    const expected: AttendanceSettings = {
      dayEndsAt: "16:30",
      minPresentMinutes: 180,
      lateAfter: "08:15",
      minPresentDaysPct: 75,
      weekdays: [1, 3, 6],
      feverThresholdC: 37.8,
      temperatureMinC: 30.5,
      temperatureMaxC: 42,
      publicCounts: true,
    };
    assert.deepEqual(res.body, expected);
    // This process's cache is current before the answer (the NOTIFY tells the others).
    assert.deepEqual(h.cache.school("elm")?.attendance, expected);
    const school = await request(h.app).get("/v1/schools/elm").set(headA.auth).expect(200);
    assert.deepEqual(school.body.attendance, expected);
    const { rows } = await h.db.pool.query(
      `select attendance_day_ends_at::text as day_ends_at, attendance_late_after::text as late_after,
              attendance_weekdays as weekdays, temperature_min_c::text as min
       from schools where id = 'elm'`,
    );
    assert.deepEqual(rows, [
      { day_ends_at: "16:30:00", late_after: "08:15:00", weekdays: [1, 3, 6], min: "30.5" },
    ]);

    // What a patch leaves out stays; lateAfter null removes the rule.
    const again = await patch(headA.auth, "elm", { lateAfter: null, minPresentMinutes: 0 });
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(again.body, { ...expected, lateAfter: null, minPresentMinutes: 0 });
  });

  test("the deployment admin changes any school's rules", async () => {
    const res = await patch(ADMIN, "oak", { minPresentDaysPct: 100 });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.minPresentDaysPct, 100);
    assert.equal(h.cache.school("oak")?.attendance.minPresentDaysPct, 100);
  });

  test("another school's admin gets the 404 of a school that does not exist; no token is 401", async () => {
    const other = expectError(
      await patch(headB.auth, "elm", { minPresentMinutes: 1 }),
      404,
      "school_not_found",
    );
    const missing = expectError(
      await patch(headB.auth, "nowhere", { minPresentMinutes: 1 }),
      404,
      "school_not_found",
    );
    assert.equal(other.message.replace("elm", "X"), missing.message.replace("nowhere", "X"));
    expectError(await patch(ADMIN, "nowhere", {}), 404, "school_not_found");
    expectError(
      await request(h.app).patch(path("elm")).send({ minPresentMinutes: 1 }),
      401,
      "unauthorized",
    );
    assert.notEqual(h.cache.school("elm")?.attendance.minPresentMinutes, 1);
  });

  test("every field is checked and named", async () => {
    const cases: [unknown, string][] = [
      [{ dayEndsAt: "24:00" }, "dayEndsAt"],
      [{ dayEndsAt: "7:30" }, "dayEndsAt"],
      [{ dayEndsAt: "07:30:00" }, "dayEndsAt"],
      [{ dayEndsAt: "00:00" }, "dayEndsAt"],
      [{ dayEndsAt: null }, "dayEndsAt"],
      [{ minPresentMinutes: -1 }, "minPresentMinutes"],
      [{ minPresentMinutes: 1441 }, "minPresentMinutes"],
      [{ minPresentMinutes: 1.5 }, "minPresentMinutes"],
      [{ minPresentMinutes: "240" }, "minPresentMinutes"],
      [{ lateAfter: "08:60" }, "lateAfter"],
      [{ lateAfter: 800 }, "lateAfter"],
      [{ minPresentDaysPct: 101 }, "minPresentDaysPct"],
      [{ minPresentDaysPct: -1 }, "minPresentDaysPct"],
      [{ weekdays: [] }, "weekdays"],
      [{ weekdays: [0] }, "weekdays.0"],
      [{ weekdays: [1, 8] }, "weekdays.1"],
      [{ weekdays: [1, 1] }, "weekdays"],
      [{ weekdays: "1,2" }, "weekdays"],
      [{ feverThresholdC: 38.25 }, "feverThresholdC"],
      [{ feverThresholdC: "38" }, "feverThresholdC"],
      [{ temperatureMinC: null }, "temperatureMinC"],
      [{ temperatureMaxC: 1000 }, "temperatureMaxC"],
      [{ publicCounts: "yes" }, "publicCounts"],
      [{ lateAfterr: "08:00" }, "lateAfterr"],
    ];
    for (const [body, field] of cases) {
      const res = await patch(headB.auth, "oak", body);
      assert.deepEqual(issueFields(res), [field], `${JSON.stringify(body)}: ${res.text}`);
    }
    assert.match(
      issueFor(await patch(headB.auth, "oak", { weekdays: [2, 2] }), "weekdays").message,
      /repeat/,
    );
    // Several bad fields: each named.
    const many = await patch(headB.auth, "oak", { dayEndsAt: "x", minPresentDaysPct: 200 });
    assert.deepEqual(issueFields(many).sort(), ["dayEndsAt", "minPresentDaysPct"]);
    assert.equal(h.cache.school("oak")?.attendance.dayEndsAt, "17:00", "nothing was written");
  });

  test("the temperature range: min below max, checked against what the patch lands on", async () => {
    const both = await patch(headB.auth, "oak", { temperatureMinC: 40, temperatureMaxC: 40 });
    assert.match(issueFor(both, "temperatureMinC").message, /below temperatureMaxC/);
    // Against the stored max (43): a min of 43.5 names the min.
    assert.deepEqual(issueFields(await patch(headB.auth, "oak", { temperatureMinC: 43.5 })), [
      "temperatureMinC",
    ]);
    // Against the stored min (28): a max of 27.9 names the max.
    const max = await patch(headB.auth, "oak", { temperatureMaxC: 27.9 });
    assert.match(issueFor(max, "temperatureMaxC").message, /above temperatureMinC \(28\)/);
    // Moving the whole range up in one patch is fine, though its min is above the old max.
    const moved = await patch(headB.auth, "oak", { temperatureMinC: 44, temperatureMaxC: 46 });
    assert.equal(moved.status, 200, moved.text);
    const back = await patch(headB.auth, "oak", { temperatureMinC: 28, temperatureMaxC: 43 });
    assert.equal(back.status, 200, back.text);
  });

  test("the range is in force at intake: a register's event outside it is refused", async () => {
    await patch(headA.auth, "elm", { temperatureMinC: 35, temperatureMaxC: 39.5 }).expect(200);
    const register = await request(h.app)
      .post("/v1/polls")
      .set(headA.auth)
      .send({ id: "gate", kind: "attendance", title: "Gate" });
    assert.equal(register.status, 201, register.text);
    await request(h.app)
      .put("/v1/schools/elm/people/E-1")
      .set(headA.auth)
      .send({ name: null })
      .expect(201);
    await eventually("the API knows the person", () => h.people.people === 1);
    const kiosk = await request(h.app)
      .post("/v1/kiosks")
      .set(headA.auth)
      .send({ id: "gate", name: "Gate" });
    const vote = (temperatureC: number) =>
      request(h.app)
        .post("/v1/votes")
        .set({ Authorization: `Bearer ${kiosk.body.token}` })
        .send({ pollId: register.body.id, optionId: "in", voterId: "E-1", temperatureC });
    const refused = expectError(await vote(40), 422, "temperature_out_of_range");
    assert.deepEqual(refused.details, { field: "temperatureC", min: 35, max: 39.5 });
    assert.equal((await vote(39.5)).status, 202);
  });
});
