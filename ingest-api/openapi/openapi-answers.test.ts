import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request, { type Response, type Test } from "supertest";
import { PrivateNatsServer } from "../../harness/nats-servers.ts";
import { eventually } from "../../harness/waiting.ts";
import { ADMIN, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers, operationsOf } from "../../test-support/openapi-answers.ts";
import { type ResultsPipeline, startResultsPipeline } from "../../test-support/results-pipeline.ts";
import { issueSchoolAdmin, type TestSchoolAdmin } from "../../test-support/schools.ts";
import { consoleRouteDescriptions } from "../console/console-openapi.ts";
import { readDeadLetterConfig } from "../dead-letters/dead-letter-config.ts";
import { deadLetterRouteDescriptions } from "../dead-letters/dead-letter-openapi.ts";
import { exportRouteDescriptions } from "../exports/exports-openapi.ts";
import { registerPageRouteDescriptions } from "../registers/register-page-openapi.ts";
import { updateSchools } from "../registry/registry-changes.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

// The API's real answers, held to /openapi.json: successes, error envelopes, 304s, a 429 from
// a tiny pairing budget, 503s (results or a lesson register not yet published, NATS
// unreachable). Each answer's
// status must be documented for its route and its body must match that status's schema
// (test-support/openapi-answers.ts). Every documented operation must be answered at least
// once here, so a route described but never held to its description fails too.

/**
 * Operations this file does not call: an event stream never ends (supertest), and the
 * console's, answered in openapi-console-answers.test.ts (sessions of their own), the
 * dead letters', answered in ingest-api/dead-letters/dead-letters.test.ts (with a writer),
 * and the CSV exports', answered in openapi-exports-answers.test.ts.
 */
const NOT_CALLED = new Set([
  "GET /v1/polls/{pollId}/events",
  "GET /v1/schools/{schoolId}/attendance/events",
  ...operationsOf(consoleRouteDescriptions),
  // The CSV exports: openapi-exports-answers.test.ts.
  ...operationsOf(exportRouteDescriptions({ personRangeMaxDays: 1 })),
  ...operationsOf(deadLetterRouteDescriptions(readDeadLetterConfig({}))),
  // The register page's: openapi-register-page-answers.test.ts (a completion budget of its own).
  ...operationsOf(registerPageRouteDescriptions),
]);

type Method = "get" | "head" | "post" | "put" | "patch" | "delete";

describe("the API's answers match /openapi.json", () => {
  let p: ResultsPipeline;
  let answers: OpenApiAnswers;
  let head: TestSchoolAdmin;

  /** A request whose answer is checked against the document. */
  const call = async (
    method: Method,
    path: string,
    prepare: (t: Test) => Test = (t) => t,
  ): Promise<Response> => {
    const res = await prepare(request(p.h.app)[method](path));
    return answers.check(method.toUpperCase(), path, res);
  };
  const admin = (t: Test) => t.set(ADMIN);
  const asKiosk = (t: Test) => t.set(p.kiosk.auth);
  const expect = (res: Response, status: number) =>
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 500)}`);

  before(async () => {
    p = await startResultsPipeline({
      // A tiny pairing budget: the third pairing from this address in a minute is a 429.
      RATE_LIMIT_PAIR_PER_MIN: "3",
      CHART_WORKERS: "0",
    });
    const doc = await request(p.h.app).get("/openapi.json");
    answers = new OpenApiAnswers(doc.body as OpenApiDocument);
    answers.check("GET", "/openapi.json", doc);
    // Every day a school day: the test's today may be a Saturday (told to the cache as the
    // settings API's store does).
    await updateSchools(p.h.db.pool, "attendance_weekdays = '{1,2,3,4,5,6,7}'", "true");
  });
  after(() => p?.close());

  test("schools and their admins", async () => {
    expect(
      await call("post", "/v1/schools", (t) =>
        admin(t).send({ id: "north", name: "North", timeZone: "Europe/London" }),
      ),
      201,
    );
    expect(
      await call("post", "/v1/schools", (t) => admin(t).send({ id: "north", name: "North" })),
      409,
    );
    expect(await call("post", "/v1/schools", (t) => admin(t).send({ id: "bad id" })), 400);
    expect(await call("post", "/v1/schools", (t) => admin(t).type("text/plain").send("x")), 415);
    expect(await call("get", "/v1/schools"), 401);
    expect(await call("get", "/v1/schools", admin), 200);
    expect(await call("get", "/v1/schools?figures=true&limit=1&q=n", admin), 200);
    expect(await call("get", "/v1/schools?limit=0", admin), 400);
    expect(await call("get", "/v1/schools/north", admin), 200);
    expect(await call("get", "/v1/schools/nowhere", admin), 404);
    expect(
      await call("patch", "/v1/schools/north", (t) => admin(t).send({ name: "North Hill" })),
      200,
    );
    const issued = await call("post", "/v1/schools/north/admins", (t) =>
      admin(t).send({ label: "Office" }),
    );
    expect(issued, 201);
    expect(await call("get", "/v1/schools/north/admins", admin), 200);
    expect(await call("delete", `/v1/schools/north/admins/${issued.body.id}`, admin), 200);
    head = await issueSchoolAdmin(p.h.app, "north");
    expect(await call("get", "/v1/schools", (t) => t.set(head.auth)), 403);
    expect(
      await call("post", "/v1/schools", (t) => admin(t).send({ id: "gone", name: "Gone" })),
      201,
    );
    expect(await call("delete", "/v1/schools/gone", admin), 200);
  });

  test("polls and kiosks", async () => {
    const lunch = {
      id: "lunch",
      title: "Lunch",
      options: [
        { id: "yes", label: "Yes" },
        { id: "no", label: "No" },
      ],
    };
    expect(await call("post", "/v1/polls", (t) => admin(t).send(lunch)), 201);
    expect(await call("post", "/v1/polls", (t) => admin(t).send(lunch)), 409);
    expect(
      await call("post", "/v1/polls", (t) =>
        admin(t).send({ ...lunch, id: "big", title: "x".repeat(300_000) }),
      ),
      413,
    );
    expect(await call("get", "/v1/polls", admin), 200);
    expect(await call("get", "/v1/polls/lunch", admin), 200);
    expect(await call("get", "/v1/polls/nope", admin), 404);
    expect(
      await call("patch", "/v1/polls/lunch", (t) => admin(t).send({ title: "Lunch today" })),
      200,
    );
    expect(await call("post", "/v1/polls", (t) => admin(t).send({ ...lunch, id: "old" })), 201);
    // Two polls: a page,  its next one through the cursor, and refused parameters (LIST_PAGE_MAX: 500).
    const first = await call("get", "/v1/polls?limit=1", admin);
    expect(first, 200);
    expect(await call("get", `/v1/polls?limit=1&q=lu&after=${first.body.next}`, admin), 200);
    expect(await call("get", "/v1/polls?limit=501", admin), 400);
    expect(await call("patch", "/v1/polls/old", (t) => admin(t).send({ archived: true })), 200);
    expect(await call("delete", "/v1/polls/old", admin), 200);
    expect(
      await call("post", "/v1/kiosks", (t) =>
        admin(t).send({ id: "hall", name: "Hall", pollIds: ["lunch"] }),
      ),
      201,
    );
    expect(await call("get", "/v1/kiosks", admin), 200);
    expect(await call("get", "/v1/kiosks?sort=attention&limit=1&q=h", admin), 200);
    expect(await call("get", "/v1/kiosks?sort=nearest", admin), 400);
    expect(
      await call("patch", "/v1/kiosks/hall", (t) => admin(t).send({ name: "Main hall" })),
      200,
    );
    const pairing = await call("post", "/v1/kiosks/hall/pairing", admin);
    expect(pairing, 201);
    expect(await call("post", "/v1/pair", (t) => t.send({ code: pairing.body.code })), 200);
    expect(await call("post", "/v1/pair", (t) => t.send({ code: 12 })), 400);
    expect(await call("post", "/v1/pair", (t) => t.send({ code: "AAAA-BBBB" })), 404);
    const limited = await call("post", "/v1/pair", (t) => t.send({ code: "AAAA-BBBB" }));
    expect(limited, 429);
    assert.equal(limited.body.error.code, "rate_limited");
    expect(await call("delete", "/v1/kiosks/hall", admin), 200);
    expect(await call("get", "/v1/kiosk", (t) => t.set("Authorization", "Bearer nope")), 401);
  });

  test("votes, results and the public polls", async () => {
    expect(await call("get", "/v1/polls/lunch/results"), 503);
    const vote = { pollId: "lunch", optionId: "yes", eventId: randomUUID() };
    expect(await call("post", "/v1/votes", (t) => asKiosk(t).send(vote)), 202);
    expect(await call("post", "/v1/votes", (t) => asKiosk(t).send(vote)), 202);
    expect(await call("post", "/v1/votes", (t) => asKiosk(t).send({ pollId: "lunch" })), 400);
    expect(
      await call("post", "/v1/votes", (t) => asKiosk(t).send({ pollId: "nope", optionId: "yes" })),
      404,
    );
    expect(
      await call("post", "/v1/votes", (t) =>
        asKiosk(t).send({ pollId: "lunch", optionId: "maybe" }),
      ),
      422,
    );
    expect(await call("post", "/v1/votes", (t) => asKiosk(t).type("json").send("{")), 400);
    const batch = await call("post", "/v1/votes/batch", (t) =>
      asKiosk(t).send({
        votes: [
          { pollId: "lunch", optionId: "no" },
          { pollId: "lunch", optionId: "maybe" },
        ],
      }),
    );
    expect(batch, 200);
    assert.equal(batch.body.rejected, 1);
    const id = randomUUID();
    expect(
      await call("post", "/v1/votes/batch", (t) =>
        asKiosk(t).send({
          votes: [
            { pollId: "lunch", optionId: "no", eventId: id },
            { pollId: "lunch", optionId: "yes", eventId: id },
          ],
        }),
      ),
      200,
    );
    await p.stored(3);
    await p.publisher.run();
    const results = await call("get", "/v1/polls/lunch/results");
    expect(results, 200);
    expect(
      await call("get", "/v1/polls/lunch/results", (t) =>
        t.set("If-None-Match", String(results.headers.etag)),
      ),
      304,
    );
    expect(await call("get", "/v1/polls/nope/results"), 404);
    const png = await call("get", "/v1/polls/lunch/results.png");
    assert.ok([200, 503].includes(png.status), png.text);
    expect(await call("head", "/v1/polls/lunch/events"), 200);
    const polls = await call("get", "/v1/public/polls");
    expect(polls, 200);
    expect(
      await call("get", "/v1/public/polls", (t) =>
        t.set("If-None-Match", String(polls.headers.etag)),
      ),
      304,
    );
    expect(await call("get", "/v1/public/polls?schoolId=nowhere"), 404);
    expect(await call("get", "/v1/public/polls/lunch"), 200);
    expect(await call("get", "/v1/public/polls/nope"), 404);
    expect(await call("get", "/v1/kiosk", asKiosk), 200);
    expect(await call("post", "/v1/kiosk/heartbeat", (t) => asKiosk(t).send({ pending: 0 })), 204);
    expect(
      await call("post", "/v1/kiosk/heartbeat", (t) => asKiosk(t).send({ pending: "x" })),
      400,
    );
  });

  test("people, holidays and attendance", async () => {
    const person = (id: string) => `/v1/schools/north/people/${id}`;
    const asHead = (t: Test) => t.set(head.auth);
    expect(
      await call("put", person("P1"), (t) => asHead(t).send({ name: "Ada", groups: ["7A"] })),
      201,
    );
    expect(
      await call("put", person("P1"), (t) => asHead(t).send({ name: "Ada L", groups: ["7A"] })),
      200,
    );
    expect(await call("put", person("P2"), (t) => asHead(t).send({ name: null })), 201);
    expect(await call("get", person("P1"), asHead), 200);
    expect(await call("get", person("P9"), asHead), 404);
    expect(await call("patch", person("P2"), (t) => asHead(t).send({ groups: ["7B"] })), 200);
    expect(await call("get", "/v1/schools/north/people?limit=1", asHead), 200);
    expect(await call("get", "/v1/schools/north/people?limit=x", asHead), 400);
    expect(
      await call("post", "/v1/schools/north/people/import", (t) =>
        asHead(t).type("text/csv").send("id,name,groups\nP3,Cy,7A\nbad id,,\n"),
      ),
      200,
    );
    // A preview: the same answer (with dryRun: true), nothing written.
    const preview = await call("post", "/v1/schools/north/people/import?dryRun=true", (t) =>
      asHead(t).type("text/csv").send("id,name,groups\nP4,Di,7A\n"),
    );
    expect(preview, 200);
    assert.equal(preview.body.dryRun, true);
    expect(
      await call("post", "/v1/schools/north/people/import?dryRun=yes", (t) =>
        asHead(t).type("text/csv").send("id,name,groups\n"),
      ),
      400,
    );
    expect(await call("get", "/v1/schools/north/people/export", asHead), 200);
    expect(await call("delete", person("P3"), asHead), 200);

    expect(
      await call("patch", "/v1/schools/north/attendance", (t) =>
        asHead(t).send({ minPresentMinutes: 60, publicCounts: true }),
      ),
      200,
    );
    expect(
      await call("patch", "/v1/schools/north/attendance", (t) => asHead(t).send({ weekdays: [9] })),
      400,
    );
    expect(
      await call("put", "/v1/schools/north/holidays/2026-12-25", (t) =>
        asHead(t).send({ name: "Christmas" }),
      ),
      201,
    );
    expect(
      await call("put", "/v1/schools/north/holidays/2026-12-25", (t) =>
        asHead(t).send({ name: "Xmas" }),
      ),
      200,
    );
    expect(
      await call("get", "/v1/schools/north/holidays?from=2026-12-01&to=2026-12-31", asHead),
      200,
    );
    expect(await call("delete", "/v1/schools/north/holidays/2026-12-25", asHead), 200);
    expect(await call("delete", "/v1/schools/north/holidays/2026-12-25", asHead), 404);
    const today = new Date().toISOString().slice(0, 10);
    expect(
      await call("get", `/v1/schools/north/attendance?period=week&date=${today}`, asHead),
      200,
    );
    expect(await call("get", "/v1/schools/north/attendance?period=year", asHead), 400);
    expect(
      await call("get", `/v1/schools/north/people/P1/attendance?from=${today}&to=${today}`, asHead),
      200,
    );

    // A register of the school and a kiosk of it: the door's check, then the day documents.
    const register = await call("post", "/v1/polls", (t) =>
      asHead(t).send({ id: "door", kind: "attendance", title: "Door", voters: "roster" }),
    );
    expect(register, 201);
    const door = await call("post", "/v1/kiosks", (t) =>
      asHead(t).send({ id: "door-kiosk", name: "Door" }),
    );
    expect(door, 201);
    const asDoor = (t: Test) => t.set("Authorization", `Bearer ${door.body.token}`);
    const checkIn = await eventually("the roster reached the API", async () => {
      const res = await request(p.h.app)
        .get("/v1/kiosk/people/P1/attendance")
        .set("Authorization", `Bearer ${door.body.token}`);
      return res.status === 200 ? res : undefined;
    });
    answers.check("GET", "/v1/kiosk/people/P1/attendance", checkIn);
    // A check-in with a fever: the day document then lists, flags and details someone.
    const fever = { pollId: register.body.id, optionId: "in", voterId: "P1", temperatureC: 39.1 };
    expect(await call("post", "/v1/votes", (t) => asDoor(t).send(fever)), 202);
    await p.stored(4);
    const inNow = await call("get", "/v1/kiosk/people/P1/attendance", asDoor);
    expect(inNow, 200);
    assert.equal(inNow.body.state, "in");
    expect(await call("get", "/v1/kiosk/people/nobody/attendance", asDoor), 422);
    expect(await call("head", "/v1/schools/north/attendance/events", asHead), 200);
    await p.publisher.run();
    await p.publisher.attendanceRun();
    await p.h.attendance.check();
    const day = await call("get", "/v1/schools/north/attendance", asHead);
    expect(day, 200);
    assert.deepEqual(day.body.lists.fever, ["P1"], day.text);
    assert.ok(day.body.details.P1, day.text);
    expect(
      await call("get", "/v1/schools/north/attendance", (t) =>
        asHead(t).set("If-None-Match", String(day.headers.etag)),
      ),
      304,
    );
    expect(await call("get", "/v1/schools/north/attendance?group=7A", asHead), 200);
    expect(await call("get", "/v1/schools/north/attendance", admin), 200);
    expect(await call("get", "/v1/public/schools/north/attendance"), 200);
    expect(await call("get", "/v1/public/schools/default/attendance"), 404);
  });

  test("lesson registers: teachers, absences, the completion, the document, statistics", async () => {
    const HOUR = 3_600_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const asHead = (t: Test) => t.set(head.auth);
    const now = Date.now();
    for (const id of ["R1", "R2", "R3"])
      expect(
        await call("put", `/v1/schools/north/people/${id}`, (t) =>
          asHead(t).send({ name: `Pupil ${id}`, groups: ["9C"] }),
        ),
        201,
      );
    const lesson = (id: string, startsAt: number, endsAt: number) => ({
      id,
      kind: "register",
      title: `Lesson ${id}`,
      groupId: "9C",
      startsAt: iso(startsAt),
      endsAt: iso(endsAt),
    });
    // The poll answers name a register's kind, group and times.
    const created = await call("post", "/v1/polls", (t) =>
      asHead(t).send(lesson("maths-9c", now - HOUR, now - HOUR / 2)),
    );
    expect(created, 201);
    assert.equal(created.body.kind, "register");
    assert.equal(created.body.groupId, "9C");
    const pollId = String(created.body.id);
    expect(await call("get", `/v1/polls/${pollId}`, asHead), 200);
    expect(
      await call("patch", `/v1/polls/${pollId}`, (t) => asHead(t).send({ title: "Maths 9C" })),
      200,
    );
    const missing = await call("post", "/v1/polls", (t) =>
      asHead(t).send({ ...lesson("bad", now, now + HOUR), groupId: undefined }),
    );
    expect(missing, 400);
    // Ended long ago and never completed: overdue.
    const overdue = await call("post", "/v1/polls", (t) =>
      asHead(t).send(lesson("maths-9c-old", now - 3 * HOUR, now - 2 * HOUR)),
    );
    expect(overdue, 201);
    const quiz = await call("post", "/v1/polls", (t) =>
      asHead(t).send({ id: "quiz", title: "Quiz", options: [{ id: "a", label: "A" }] }),
    );
    expect(quiz, 201);

    // Teachers.
    const teachers = "/v1/schools/north/teachers";
    const issued = await call("post", teachers, (t) => asHead(t).send({ label: "Ms Birch" }));
    expect(issued, 201);
    const asTeacher = (t: Test) => t.set("Authorization", `Bearer ${issued.body.token}`);
    expect(await call("post", teachers, (t) => asHead(t).send({ label: "" })), 400);
    expect(
      await call("post", "/v1/schools/nowhere/teachers", (t) => admin(t).send({ label: "X" })),
      404,
    );
    const refused = await call("get", teachers, asTeacher);
    expect(refused, 403);
    assert.equal(refused.body.error.code, "teacher_not_allowed");
    expect(await call("get", teachers, asHead), 200);
    expect(await call("get", teachers), 401);

    // Absences through the vote endpoint, with a teacher's token.
    const absent = { pollId, optionId: "absent", voterId: "R2" };
    expect(await call("post", "/v1/votes", (t) => asTeacher(t).send(absent)), 202);
    const notInGroup = await call("post", "/v1/votes", (t) =>
      asTeacher(t).send({ ...absent, voterId: "P1" }),
    );
    expect(notInGroup, 422);
    assert.equal(notInGroup.body.error.code, "not_in_group");
    const notRegister = await call("post", "/v1/votes", (t) =>
      asTeacher(t).send({ pollId: quiz.body.id, optionId: "a" }),
    );
    expect(notRegister, 403);
    assert.equal(notRegister.body.error.code, "teacher_not_allowed");

    // Not published yet: 503 register_not_ready.
    const document = `/v1/registers/${pollId}`;
    const early = await call("get", document, asTeacher);
    expect(early, 503);
    assert.equal(early.body.error.code, "register_not_ready");

    // The completion.
    const complete = `/v1/registers/${pollId}/complete`;
    const completionId = randomUUID();
    const done = await call("post", complete, (t) => asTeacher(t).send({ completionId }));
    expect(done, 202);
    assert.equal(done.body.status, "accepted");
    const again = await call("post", complete, (t) => asTeacher(t).send({ completionId }));
    expect(again, 202);
    assert.equal(again.body.status, "duplicate");
    expect(await call("post", complete, (t) => asTeacher(t).send({ completionId: "x" })), 400);
    expect(
      await call("post", complete, (t) =>
        asTeacher(t).send({ completionId: randomUUID(), completedAt: iso(now - 2 * HOUR) }),
      ),
      409,
    );
    expect(
      await call("post", complete, (t) => asKiosk(t).send({ completionId: randomUUID() })),
      403,
    );
    expect(
      await call("post", "/v1/registers/nope/complete", (t) =>
        asTeacher(t).send({ completionId: randomUUID() }),
      ),
      404,
    );
    expect(await call("post", complete, (t) => t.send({ completionId: randomUUID() })), 401);

    // The writer stores it, the publisher publishes the document.
    await eventually("the register completed and stored", async () => {
      const { rows } = await p.h.db.pool.query<{ events: number }>(
        "select events from register_states where poll_id = $1 and completion_id is not null",
        [pollId],
      );
      return rows[0]?.events === 1 ? true : undefined;
    });
    await p.publisher.run();
    await p.publisher.registersRun();
    const published = await call("get", document, asTeacher);
    expect(published, 200);
    assert.deepEqual(published.body.lists, { present: ["R1", "R3"], absent: ["R2"], pending: [] });
    expect(
      await call("get", document, (t) =>
        asHead(t).set("If-None-Match", String(published.headers.etag)),
      ),
      304,
    );
    expect(await call("get", "/v1/registers/nope", asTeacher), 404);
    expect(await call("get", "/v1/registers/bad%20id", asTeacher), 400);
    expect(await call("get", document), 401);

    // Statistics and the overdue list.
    const today = new Date().toISOString().slice(0, 10);
    const from = new Date(now - 2 * 86_400_000).toISOString().slice(0, 10);
    const range = `from=${from}&to=${today}`;
    const group = await call("get", `/v1/schools/north/groups/9C/stats?${range}`, asTeacher);
    expect(group, 200);
    assert.equal(group.body.lessonsHeld, 1, group.text);
    expect(await call("get", `/v1/schools/north/groups/9C/stats?from=${today}`, asTeacher), 400);
    expect(await call("get", `/v1/schools/nowhere/groups/9C/stats?${range}`, asTeacher), 404);
    const school = await call("get", `/v1/schools/north/registers/stats?${range}`, asHead);
    expect(school, 200);
    assert.equal(school.body.groups[0].groupId, "9C", school.text);
    expect(await call("get", `/v1/schools/north/registers/stats?${range}`), 401);
    expect(await call("get", `/v1/schools/nowhere/registers/stats?${range}`, asTeacher), 404);
    const list = await call("get", "/v1/schools/north/registers?state=overdue", asHead);
    expect(list, 200);
    assert.deepEqual(
      list.body.registers.map((r: { id: string }) => r.id),
      [overdue.body.id],
    );
    expect(await call("get", "/v1/schools/north/registers?state=open", asHead), 400);
    expect(await call("get", "/v1/schools/north/registers?state=overdue", asTeacher), 403);
    expect(await call("get", "/v1/schools/nowhere/registers?state=overdue", admin), 404);

    // A teacher revoked: its token is refused.
    const revoke = `/v1/schools/north/teachers/${issued.body.id}`;
    expect(await call("delete", revoke, asHead), 200);
    expect(await call("delete", revoke, asHead), 404);
    expect(await call("delete", revoke, asTeacher), 401);
    expect(await call("post", "/v1/votes", (t) => asTeacher(t).send(absent)), 401);
  });

  test("health, pages and files", async () => {
    expect(await call("get", "/healthz"), 200);
    expect(await call("get", "/readyz"), 200);
    for (const path of [
      "/",
      "/s/default",
      "/dashboard/lunch",
      "/kiosk/lunch",
      "/pair",
      "/vote",
      "/vote/lunch",
      "/kiosk-app/vote.html",
      "/api",
    ])
      expect(await call("get", path), 200);
    for (const path of ["/s/nowhere", "/dashboard/nope", "/kiosk/nope", "/vote/nope"])
      expect(await call("get", path), 404);
    for (const path of [
      "/assets/site.css",
      "/vendor/chart.umd.min.js",
      "/vendor/chart.umd.min.js.map",
      "/common/browser/poll-phase.js",
      "/kiosk-sw.js",
      "/kiosk-client/outbox.ts",
      "/vendor/uuid/index.js",
      "/kiosk-app/vote.html",
    ])
      expect(await call("get", path), 200);
    expect(await call("get", "/kiosk-client/store-file.ts"), 404);
    expect(await call("get", "/kiosk-app/nothing.js"), 404);
    expect(await call("get", "/vendor/nothing.js"), 404);
    expect(await call("get", "/assets/nothing.css"), 404);
    expect(await call("get", "/common/browser/nothing.js"), 404);
  });

  test("every operation of the document was answered here", () => {
    const called = new Set([...answers.covered].map((c) => c.split(" ").slice(0, 2).join(" ")));
    const missed = answers.operations().filter((op) => !called.has(op) && !NOT_CALLED.has(op));
    assert.deepEqual(missed, [], "operations of the document no request here exercised");
  });
});

describe("the API's answers while NATS is unreachable match /openapi.json", () => {
  test("503 nats_unavailable for a vote, 503 not_ready from /readyz", async () => {
    const nats = await PrivateNatsServer.create();
    const h = await startIngestHarness({ NATS_URL: nats.url, PUBLISH_TIMEOUT_MS: "500" });
    try {
      const doc = await request(h.app).get("/openapi.json");
      const answers = new OpenApiAnswers(doc.body as OpenApiDocument);
      await request(h.app)
        .post("/v1/polls")
        .set(ADMIN)
        .send({ id: "outage", title: "Outage", options: [{ id: "yes", label: "Yes" }] })
        .expect(201);
      const kiosk = await request(h.app)
        .post("/v1/kiosks")
        .set(ADMIN)
        .send({ id: "k", name: "K" })
        .expect(201);
      await nats.stop();
      const vote = await request(h.app)
        .post("/v1/votes")
        .set("Authorization", `Bearer ${kiosk.body.token}`)
        .send({ pollId: "outage", optionId: "yes" });
      answers.check("POST", "/v1/votes", vote);
      assert.equal(vote.status, 503, vote.text);
      assert.equal(vote.body.error.code, "nats_unavailable");
      const ready = await eventually("/readyz reports NATS down", async () => {
        const res = await request(h.app).get("/readyz");
        return res.status === 503 ? res : undefined;
      });
      answers.check("GET", "/readyz", ready);
    } finally {
      await h.close();
      await nats.destroy();
    }
  });
});
