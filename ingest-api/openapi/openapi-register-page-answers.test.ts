import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request, { type Response, type Test } from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers, operationsOf } from "../../test-support/openapi-answers.ts";
import { createSchool, issueSchoolAdmin } from "../../test-support/schools.ts";
import { registerPageRouteDescriptions } from "../registers/register-page-openapi.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

// The register page's routes held to /openapi.json (test-support/openapi-answers.ts), as
// openapi-answers.test.ts holds the rest: a teacher's sign-in link made and used once (the
// old token refused after), the teacher's day, a register's roster (names for the school's
// own, 404 for another school's teacher), the page itself; and the completion's budget per
// credential (RATE_LIMIT_COMPLETIONS_PER_MIN) answering 429 with the usual envelope. Every
// operation the register page describes must be answered here.

type Method = "get" | "post";

describe("the register page's answers match /openapi.json", () => {
  let h: IngestHarness;
  let answers: OpenApiAnswers;
  let pollId: string;

  const call = async (
    method: Method,
    path: string,
    prepare: (t: Test) => Test = (t) => t,
  ): Promise<Response> => {
    const res = await prepare(request(h.app)[method](path));
    return answers.check(method.toUpperCase(), path, res);
  };
  const admin = (t: Test) => t.set(ADMIN);
  const bearer = (token: string) => (t: Test) => t.set("Authorization", `Bearer ${token}`);
  const expect = (res: Response, status: number, code?: string) => {
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 500)}`);
    if (code !== undefined) assert.equal(res.body.error.code, code);
    return res;
  };
  const codeOf = (link: string) => new URL(link).hash.replace("#code=", "");
  const teacherOf = async (schoolId: string, label: string) =>
    expect(
      await call("post", `/v1/schools/${schoolId}/teachers`, (t) => admin(t).send({ label })),
      201,
    ).body as { id: string; token: string };

  before(async () => {
    // One register a teacher's day: a second today shows `more`.
    h = await startIngestHarness({
      RATE_LIMIT_COMPLETIONS_PER_MIN: "2",
      TEACHER_DAY_MAX_REGISTERS: "1",
    });
    const doc = await request(h.app).get("/openapi.json");
    answers = new OpenApiAnswers(doc.body as OpenApiDocument);
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
    const head = await issueSchoolAdmin(h.app, "north");
    for (const [id, name] of [
      ["N2", "Noor"],
      ["N1", "Amir"],
    ])
      assert.equal(
        (
          await request(h.app)
            .put(`/v1/schools/north/people/${id}`)
            .set(head.auth)
            .send({ name, groups: ["8B"] })
        ).status,
        201,
      );
    // Started a minute ago, today in UTC (the schools' zone): the teacher's day lists it.
    const now = Date.now();
    const midnight = Date.parse(`${new Date(now).toISOString().slice(0, 10)}T00:00:00Z`);
    const created = await request(h.app)
      .post("/v1/polls")
      .set(head.auth)
      .send({
        id: "history-8b",
        kind: "register",
        title: "History 8B",
        groupId: "8B",
        startsAt: new Date(Math.max(now - 60_000, midnight)).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      });
    assert.equal(created.status, 201, created.text);
    pollId = created.body.id;
    await eventually("the API knows the poll", () => h.cache.poll(pollId) !== undefined);
  });
  after(() => h?.close());

  test("a sign-in link: made, used once (the previous token stops), refused after", async () => {
    const teacher = await teacherOf("north", "Mr Ash");
    const links = `/v1/schools/north/teachers/${teacher.id}/sign-in-link`;
    const made = expect(await call("post", links, admin), 201);
    assert.match(made.body.link, /\/register#code=tt-/);
    assert.equal(made.headers["cache-control"], "no-store");
    expect(await call("post", links), 401, "unauthorized");
    expect(
      await call("post", `/v1/schools/south/teachers/${teacher.id}/sign-in-link`, admin),
      404,
      "teacher_not_found",
    );
    expect(
      await call(
        "post",
        `/v1/schools/north/teachers/${teacher.id}/sign-in-link`,
        bearer(teacher.token),
      ),
      403,
      "teacher_not_allowed",
    );
    expect(await call("post", "/v1/schools/bad%20id/teachers/x/sign-in-link", admin), 400);

    const signIn = "/v1/teachers/sign-in";
    const code = codeOf(made.body.link);
    const signedIn = expect(await call("post", signIn, (t) => t.send({ code })), 200);
    assert.equal(signedIn.body.teacherId, teacher.id);
    assert.equal(signedIn.body.label, "Mr Ash");
    assert.match(signedIn.body.token, /^tft_/);
    // Single use; the token it replaced is refused; the new one works.
    expect(await call("post", signIn, (t) => t.send({ code })), 404, "sign_in_link_invalid");
    expect(await call("get", "/v1/teacher", bearer(teacher.token)), 401, "unauthorized");
    expect(await call("get", "/v1/teacher", bearer(signedIn.body.token)), 200);
    // A link made before that use names the old token: dead too.
    const before = expect(await call("post", links, admin), 201);
    const fresh = await call("post", signIn, (t) => t.send({ code: codeOf(before.body.link) }));
    expect(fresh, 200);
    expect(
      await call("post", signIn, (t) => t.send({ code: codeOf(made.body.link) })),
      404,
      "sign_in_link_invalid",
    );
    // Two uses of one link at once (two devices): one wins, the other waits on the row and
    // finds it replaced.
    const raced = expect(await call("post", links, admin), 201);
    const both = await Promise.all(
      [0, 1].map(() => call("post", signIn, (t) => t.send({ code: codeOf(raced.body.link) }))),
    );
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 404]);
    // Forged and malformed codes alike.
    const forged = `${code.slice(0, -4)}AAAA`;
    expect(
      await call("post", signIn, (t) => t.send({ code: forged })),
      404,
      "sign_in_link_invalid",
    );
    expect(await call("post", signIn, (t) => t.send({ code: "nonsense" })), 404);
    expect(await call("post", signIn, (t) => t.send({})), 400, "invalid_request");
    expect(await call("post", signIn, (t) => t.type("text/plain").send("x")), 415);
  });

  test("the teacher's day and a register's roster: names for its school, 404 for another's", async () => {
    const north = await teacherOf("north", "Ms Birch");
    const south = await teacherOf("south", "Mr Oak");
    const day = expect(await call("get", "/v1/teacher", bearer(north.token)), 200);
    assert.deepEqual(
      day.body.registers.map((r: { id: string }) => r.id),
      [pollId],
    );
    assert.equal(day.body.more, false);
    const southDay = expect(await call("get", "/v1/teacher", bearer(south.token)), 200);
    assert.deepEqual(southDay.body.registers, []);
    expect(await call("get", "/v1/teacher", admin), 401, "unauthorized");

    const roster = `/v1/registers/${pollId}/roster`;
    const seen = expect(await call("get", roster, bearer(north.token)), 200);
    assert.deepEqual(seen.body.people, [
      { id: "N1", name: "Amir" },
      { id: "N2", name: "Noor" },
    ]);
    assert.equal(seen.headers["cache-control"], "private, no-store");
    expect(await call("get", roster, bearer(south.token)), 404, "poll_not_found");
    // The deployment admin sees ids only (names are the school's own).
    const deployment = expect(await call("get", roster, admin), 200);
    assert.deepEqual(
      deployment.body.people.map((p: { name: string | null }) => p.name),
      [null, null],
    );
    expect(await call("get", roster), 401, "unauthorized");
    expect(await call("get", "/v1/registers/nope/roster", bearer(north.token)), 404);
    expect(await call("get", "/v1/registers/bad%20id/roster", bearer(north.token)), 400);

    // The outbox's clock probe with a teacher's token: 204 (a 401 would count against the address).
    const probe = expect(
      await call("post", "/v1/kiosk/heartbeat", (t) => bearer(north.token)(t).send({ pending: 1 })),
      204,
    );
    assert.ok(probe.headers.date);

    const page = await call("get", "/register");
    expect(page, 200);
    assert.match(String(page.headers["content-security-policy"]), /script-src 'self'/);

    // A second register today, past TEACHER_DAY_MAX_REGISTERS (1 here): listed no more, and said.
    const second = await call("post", "/v1/polls", (t) =>
      admin(t).send({
        id: "history-8b-2",
        schoolId: "north",
        kind: "register",
        title: "History 8B again",
        groupId: "8B",
        startsAt: new Date(Date.now() + 60_000).toISOString(),
        endsAt: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
    expect(second, 201);
    await eventually("the API knows it", () => h.cache.poll(second.body.id) !== undefined);
    const full = expect(await call("get", "/v1/teacher", bearer(north.token)), 200);
    assert.equal(full.body.registers.length, 1);
    assert.equal(full.body.more, true);
  });

  test("completions per credential: the third in a minute is a 429 with the usual envelope", async () => {
    const teacher = await teacherOf("north", "Mrs Elm");
    const complete = `/v1/registers/${pollId}/complete`;
    for (let i = 0; i < 2; i++)
      expect(
        await request(h.app)
          .post(complete)
          .set("Authorization", `Bearer ${teacher.token}`)
          .send({ completionId: randomUUID() }),
        202,
      );
    const limited = await request(h.app)
      .post(complete)
      .set("Authorization", `Bearer ${teacher.token}`)
      .send({ completionId: randomUUID() });
    answers.check("POST", complete, limited);
    expect(limited, 429, "rate_limited");
    assert.equal(limited.body.error.details.limit, "completions");
    assert.ok(Number(limited.headers["retry-after"]) >= 1);
    // Another credential has a budget of its own.
    const other = await teacherOf("north", "Mr Yew");
    expect(
      await request(h.app)
        .post(complete)
        .set("Authorization", `Bearer ${other.token}`)
        .send({ completionId: randomUUID() }),
      202,
    );
  });

  test("every operation the register page describes was answered here", () => {
    const called = new Set([...answers.covered].map((c) => c.split(" ").slice(0, 2).join(" ")));
    const missed = operationsOf(registerPageRouteDescriptions).filter((op) => !called.has(op));
    assert.deepEqual(missed, []);
  });
});
