import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import type { Poll } from "../../common/registry-types.ts";
import { expectError, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// Attendance registers: polls of kind `attendance`, whose options are `in` and `out`, whose
// voters are the school's roster, and whose events may carry a temperature within the
// school's range.

let h: IngestHarness;
let head: TestSchoolAdmin;
let register: Poll;
let kioskAuth: { Authorization: string };
const options = [
  { id: "yes", label: "Yes" },
  { id: "no", label: "No" },
];

before(async () => {
  h = await startIngestHarness();
  await createSchool(h.app, "birch");
  head = await issueSchoolAdmin(h.app, "birch");
  const res = await request(h.app)
    .post("/v1/polls")
    .set(head.auth)
    .send({ id: "door", kind: "attendance", title: "Main door" });
  assert.equal(res.status, 201, res.text);
  register = res.body;
  await request(h.app)
    .put("/v1/schools/birch/people/B-1")
    .set(head.auth)
    .send({ name: "Ada", groups: ["7A"] })
    .expect(201);
  const kiosk = await request(h.app)
    .post("/v1/kiosks")
    .set(head.auth)
    .send({ id: "door", name: "Door" });
  kioskAuth = { Authorization: `Bearer ${kiosk.body.token}` };
});
after(() => h?.close());

const vote = (body: object) => request(h.app).post("/v1/votes").set(kioskAuth).send(body);

describe("an attendance register", () => {
  test("has the options in and out, and takes the school's roster only", () => {
    assert.equal(register.kind, "attendance");
    assert.deepEqual(
      register.options.map((o) => o.id),
      ["in", "out"],
    );
    assert.equal(register.voters, "roster");
    assert.equal(register.oneVotePerVoter, false);
    assert.equal(register.groupIds, null);
  });

  test("its create refuses options, voters any and one vote per voter, naming each", async () => {
    const res = await request(h.app).post("/v1/polls").set(head.auth).send({
      id: "bad",
      kind: "attendance",
      title: "Bad",
      options,
      voters: "any",
      oneVotePerVoter: true,
      groupIds: [],
    });
    expectError(res, 400, "invalid_request");
    for (const field of ["options", "voters", "oneVotePerVoter", "groupIds"]) issueFor(res, field);
    const vote = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({ id: "v", title: "V", options, groupIds: ["7A"] });
    assert.match(issueFor(vote, "groupIds").message, /attendance registers only/);
    const missing = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({ id: "v", title: "V" });
    issueFor(missing, "options");
  });

  test("a patch keeps its kind's rules; groups may change", async () => {
    const path = `/v1/polls/${register.id}`;
    const res = await request(h.app).patch(path).set(head.auth).send({ options, voters: "any" });
    expectError(res, 400, "invalid_request");
    issueFor(res, "options");
    issueFor(res, "voters");
    const groups = await request(h.app)
      .patch(path)
      .set(head.auth)
      .send({ groupIds: ["7A", "7B"] });
    assert.deepEqual(groups.body.groupIds, ["7A", "7B"]);
    await request(h.app).patch(path).set(head.auth).send({ groupIds: null }).expect(200);
  });

  test("events: in and out with a temperature within the school's range", async () => {
    const ok = await vote({
      pollId: register.id,
      optionId: "in",
      voterId: "B-1",
      temperatureC: 36.6,
    });
    assert.equal(ok.status, 202, ok.text);
    const hot = await vote({
      pollId: register.id,
      optionId: "out",
      voterId: "B-1",
      temperatureC: 43.1,
    });
    const error = expectError(hot, 422, "temperature_out_of_range");
    assert.deepEqual(error.details, { field: "temperatureC", min: 28, max: 43 });
    const decimals = await vote({
      pollId: register.id,
      optionId: "in",
      voterId: "B-1",
      temperatureC: 36.65,
    });
    assert.match(issueFor(decimals, "temperatureC").message, /one decimal/);
    expectError(
      await vote({ pollId: register.id, optionId: "in", voterId: "nobody" }),
      422,
      "unknown_person",
    );
    issueFor(await vote({ pollId: register.id, optionId: "in" }), "voterId");
  });

  test("accepted events are counted by kind, fever readings at the school's threshold; a duplicate is not counted again", async () => {
    const sample = async (name: string, labels: Record<string, string> = {}) =>
      metricSample(await h.metrics(), name, labels) ?? 0;
    const before = {
      in: await sample("tallyflow_attendance_events_total", { kind: "in" }),
      out: await sample("tallyflow_attendance_events_total", { kind: "out" }),
      fever: await sample("tallyflow_attendance_fever_readings_total"),
    };
    // The default threshold is 38.0: 38.0 is a fever, 37.9 is not.
    const eventId = randomUUID();
    const hot = { eventId, pollId: register.id, optionId: "in", voterId: "B-1", temperatureC: 38 };
    assert.equal((await vote(hot)).status, 202);
    assert.equal((await vote(hot)).body.status, "duplicate");
    const batch = await request(h.app)
      .post("/v1/votes/batch")
      .set(kioskAuth)
      .send({
        votes: [
          { pollId: register.id, optionId: "out", voterId: "B-1", temperatureC: 37.9 },
          { pollId: register.id, optionId: "in", voterId: "B-1" },
        ],
      });
    assert.equal(batch.body.accepted, 2, batch.text);
    assert.equal(await sample("tallyflow_attendance_events_total", { kind: "in" }), before.in + 2);
    assert.equal(
      await sample("tallyflow_attendance_events_total", { kind: "out" }),
      before.out + 1,
    );
    assert.equal(await sample("tallyflow_attendance_fever_readings_total"), before.fever + 1);
  });

  test("a vote poll takes no temperature", async () => {
    const poll = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({ id: "lunch", title: "L", options });
    const res = await vote({ pollId: poll.body.id, optionId: "yes", temperatureC: 36.6 });
    assert.match(issueFor(res, "temperatureC").message, /attendance registers only/);
  });

  test("the school shows its presence rules, with the documented defaults", async () => {
    const school = await request(h.app).get("/v1/schools/birch").set(ADMIN).expect(200);
    assert.deepEqual(school.body.attendance, {
      dayEndsAt: "17:00",
      minPresentMinutes: 240,
      lateAfter: null,
      minPresentDaysPct: 80,
      weekdays: [1, 2, 3, 4, 5],
      feverThresholdC: 38,
      temperatureMinC: 28,
      temperatureMaxC: 43,
      publicCounts: false,
    });
  });
});
