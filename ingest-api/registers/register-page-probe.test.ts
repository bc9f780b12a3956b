import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response } from "supertest";
import { createLogger } from "../../common/logger.ts";
import { eventually } from "../../harness/waiting.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { hashToken } from "../registry/registry-store.ts";
import { TeacherSignIn } from "./teacher-sign-in.ts";
import { getTeacherCredential, replaceTeacherToken } from "./teacher-store.ts";

// The register page's routes as an attacker and a careless client call them: sign-in bodies
// of every wrong shape, an expired link, a link after its teacher was revoked, one link on
// two devices at once, a forged Host in the link, another school's admin reaching a teacher,
// a register and a roster (the 404 of a missing one, not a 403 that says it exists), and the
// sign-in exchange under the pairing budgets (per address, and failures fleet-wide).

const codeOf = (link: string) => new URL(link).hash.replace("#code=", "");

describe("register page probed: sign-in bodies, links and scope", () => {
  let h: IngestHarness;
  let north: TestSchoolAdmin;
  let south: TestSchoolAdmin;
  let pollId: string;

  const expect = (res: Response, status: number, code?: string) => {
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 400)}`);
    if (code !== undefined) assert.equal(res.body.error.code, code);
    return res;
  };
  const teacherOf = async (schoolId: string, label: string) =>
    expect(
      await request(h.app).post(`/v1/schools/${schoolId}/teachers`).set(ADMIN).send({ label }),
      201,
    ).body as { id: string; token: string };
  const linkOf = async (schoolId: string, teacherId: string) =>
    expect(
      await request(h.app)
        .post(`/v1/schools/${schoolId}/teachers/${teacherId}/sign-in-link`)
        .set(ADMIN),
      201,
    ).body.link as string;
  const signIn = () => request(h.app).post("/v1/teachers/sign-in");

  before(async () => {
    // The pairing budgets off here: every refusal below would spend them (probed apart).
    h = await startIngestHarness({
      RATE_LIMIT_PAIR_PER_MIN: "0",
      RATE_LIMIT_PAIR_FAILURES_PER_MIN: "0",
    });
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
    north = await issueSchoolAdmin(h.app, "north");
    south = await issueSchoolAdmin(h.app, "south");
    const now = Date.now();
    const created = await request(h.app)
      .post("/v1/polls")
      .set(north.auth)
      .send({
        id: "maths-7a",
        kind: "register",
        title: "Maths 7A",
        groupId: "7A",
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 3_600_000).toISOString(),
      });
    expect(created, 201);
    pollId = created.body.id;
    await eventually("the API knows the register", () => h.cache.poll(pollId) !== undefined);
  });
  after(() => h?.close());

  test("sign-in bodies of every wrong shape: a clear 4xx, the field named", async () => {
    const named = (res: Response, field: string) => {
      expect(res, 400, "invalid_request");
      const fields = res.body.error.details.issues.map((i: { field: string }) => i.field);
      assert.ok(fields.includes(field), `${field} in ${JSON.stringify(fields)}`);
    };
    named(await signIn().send({ code: ["tt-a.b.c"] }), "code");
    named(await signIn().send({ code: 12 }), "code");
    named(await signIn().send({ code: null }), "code");
    named(await signIn().send({ code: "" }), "code");
    named(await signIn().send({ code: "x".repeat(201) }), "code");
    named(await signIn().send({ code: "tt-a.b.c", teacherId: "tt-a" }), "teacherId");
    expect(await signIn().type("json").send("[]"), 400, "invalid_request");
    expect(await signIn().type("json").send("null"), 400, "invalid_request");
    expect(await signIn().type("json").send('{"code":'), 400);
    expect(await signIn().send({ code: "x".repeat(2_000) }), 413, "body_too_large");
    expect(await signIn().type("form").send("code=abc"), 415);
    expect(await signIn().set("Content-Type", "application/json; charset=utf-16").send("{}"), 415);
    // Codes that are not a code: the same 404 as a used one, nothing said about why.
    for (const code of [
      "🗝️",
      "../../v1/teacher",
      "tt-../x.zz.AAAA",
      `tt-x.${"z".repeat(12)}.${"A".repeat(43)}`,
      "tt-x\u0000.1.A",
    ])
      expect(await signIn().send({ code }), 404, "sign_in_link_invalid");
  });

  test("an expired link: 404, and the teacher's token still works", async () => {
    const teacher = await teacherOf("north", "Ms Expired");
    // A link of 1 ms, made with the app's own key (derived from ADMIN_TOKEN).
    const short = new TeacherSignIn(
      { pool: h.db.pool, cache: h.cache, logger: createLogger("silent") },
      { adminToken: h.config.adminToken, ttlMs: 1 },
    );
    const made = await short.createLink("north", teacher.id, "http://x", null);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await signIn().send({ code: codeOf(made.link) }), 404, "sign_in_link_invalid");
    expect(
      await request(h.app).get("/v1/teacher").set("Authorization", `Bearer ${teacher.token}`),
      200,
    );
    // The app's own link of the same teacher is good: the refusal was the expiry's alone.
    expect(await signIn().send({ code: codeOf(await linkOf("north", teacher.id)) }), 200);
  });

  test("a link after its teacher was revoked: 404, as an unknown one", async () => {
    const teacher = await teacherOf("north", "Mr Revoked");
    const link = await linkOf("north", teacher.id);
    expect(
      await request(h.app).delete(`/v1/schools/north/teachers/${teacher.id}`).set(north.auth),
      200,
    );
    expect(await signIn().send({ code: codeOf(link) }), 404, "sign_in_link_invalid");
    // And a new link for it is a 404 too: the teacher is gone.
    expect(
      await request(h.app)
        .post(`/v1/schools/north/teachers/${teacher.id}/sign-in-link`)
        .set(north.auth),
      404,
      "teacher_not_found",
    );
  });

  test("one link on three devices at once: one token, the others 404; the winner's works", async () => {
    const teacher = await teacherOf("north", "Mrs Race");
    const code = codeOf(await linkOf("north", teacher.id));
    const all = await Promise.all([0, 1, 2].map(() => signIn().send({ code })));
    const won = all.filter((r) => r.status === 200);
    assert.equal(won.length, 1, all.map((r) => r.status).join(","));
    for (const r of all) if (r.status !== 200) expect(r, 404, "sign_in_link_invalid");
    expect(
      await request(h.app).get("/v1/teacher").set("Authorization", `Bearer ${won[0]!.body.token}`),
      200,
    );
    expect(
      await request(h.app).get("/v1/teacher").set("Authorization", `Bearer ${teacher.token}`),
      401,
    );
  });

  test("revoked while a sign-in replaces its token: the revoke waits, then takes the new row", async () => {
    const teacher = await teacherOf("north", "Mr Between");
    const current = await getTeacherCredential(h.db.pool, teacher.id);
    // A sign-in midway: the row deleted and inserted again, not yet committed.
    const client = await h.db.pool.connect();
    let revoking: Promise<Response> | undefined;
    try {
      await client.query("begin");
      const replaced = await replaceTeacherToken(
        client,
        teacher.id,
        current!.tokenHash,
        hashToken("tft_probe"),
      );
      assert.ok(replaced);
      revoking = request(h.app)
        .delete(`/v1/schools/north/teachers/${teacher.id}`)
        .set(north.auth)
        .then((r) => r);
      const database = new URL(h.db.url).pathname.slice(1);
      await eventually("the revoke waits on the row", async () => {
        const { rows } = await h.db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where datname = $1 and wait_event_type = 'Lock'`,
          [database],
        );
        return rows[0]!.n > 0;
      });
      await client.query("commit");
    } finally {
      client.release();
    }
    // Before: the revoke's delete found its row gone (replaced), answered 404 teacher_not_found,
    // and the teacher stayed, signed in with the new token.
    expect(await revoking!, 200);
    assert.equal(await getTeacherCredential(h.db.pool, teacher.id), undefined);
  });

  test("a Host that is not a host name: 400 naming Host, no link built on it", async () => {
    const teacher = await teacherOf("north", "Mr Host");
    expect(
      await request(h.app).post("/v1/kiosks").set(ADMIN).send({ id: "hall", name: "Hall" }),
      201,
    );
    // Every route that puts a credential in a link on the request's Host (http/link-base.ts).
    const links = [
      () => request(h.app).post(`/v1/schools/north/teachers/${teacher.id}/sign-in-link`),
      () => request(h.app).post("/v1/kiosks/hall/pairing"),
      () => request(h.app).post("/v1/console/invites").send({ label: "Office" }),
    ];
    for (const host of ["evil.example/x?", "a@evil.example", "evil.example#", "a b", "[::1"])
      for (const link of links) {
        const res = await link().set(ADMIN).set("Host", host);
        expect(res, 400, "invalid_request");
        assert.equal(res.body.error.details.issues[0].field, "Host");
        assert.match(res.body.error.details.issues[0].message, /host name/);
      }
    for (const host of [
      "127.0.0.1:3000",
      "[::1]:8080",
      "localhost",
      "ingest_api:3000",
      "vote.example.",
    ])
      for (const link of links) expect(await link().set(ADMIN).set("Host", host), 201);
    const ok = await request(h.app)
      .post(`/v1/schools/north/teachers/${teacher.id}/sign-in-link`)
      .set(ADMIN)
      .set("Host", "school.example:8443");
    expect(ok, 201);
    assert.match(ok.body.link, /^http:\/\/school\.example:8443\/register#code=tt-/);
  });

  test("another school's admin: the same 404 as a missing teacher, school or register", async () => {
    const southTeacher = await teacherOf("south", "Mr South");
    const link = (school: string, teacher: string) =>
      request(h.app).post(`/v1/schools/${school}/teachers/${teacher}/sign-in-link`).set(north.auth);
    const foreign = expect(await link("south", southTeacher.id), 404, "school_not_found");
    const missing = expect(await link("nowhere", southTeacher.id), 404, "school_not_found");
    assert.equal(
      foreign.body.error.message.replace("south", "X"),
      missing.body.error.message.replace("nowhere", "X"),
    );
    const other = expect(await link("north", southTeacher.id), 404, "teacher_not_found");
    const none = expect(await link("north", "tt-nobody"), 404, "teacher_not_found");
    assert.equal(
      other.body.error.message.replace(southTeacher.id, "X"),
      none.body.error.message.replace("tt-nobody", "X"),
    );
    // A register and its roster: south's admin and teacher get a missing one's 404.
    for (const auth of [south.auth, { Authorization: `Bearer ${southTeacher.token}` }]) {
      const roster = expect(
        await request(h.app).get(`/v1/registers/${pollId}/roster`).set(auth),
        404,
        "poll_not_found",
      );
      const gone = expect(
        await request(h.app).get("/v1/registers/nope/roster").set(auth),
        404,
        "poll_not_found",
      );
      assert.equal(
        roster.body.error.message.replace(pollId, "X"),
        gone.body.error.message.replace("nope", "X"),
      );
    }
    // Path tricks in the ids: 400 naming the parameter.
    for (const [path, field] of [
      ["/v1/registers/..%2Fx/roster", "pollId"],
      [`/v1/schools/north/teachers/${encodeURIComponent("../tt-x")}/sign-in-link`, "teacherId"],
    ] as const) {
      const res =
        field === "pollId"
          ? await request(h.app).get(path).set(north.auth)
          : await request(h.app).post(path).set(north.auth);
      expect(res, 400, "invalid_request");
      assert.equal(res.body.error.details.issues[0].field, field);
    }
  });
});

describe("register page probed: the sign-in exchange under the pairing budgets", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({
      RATE_LIMIT_PAIR_PER_MIN: "5",
      RATE_LIMIT_PAIR_FAILURES_PER_MIN: "3",
    });
  });
  after(() => h?.close());

  test("guesses spend the fleet-wide failure budget, then every attempt the address's", async () => {
    const guess = () =>
      request(h.app)
        .post("/v1/teachers/sign-in")
        .send({ code: `tt-x.zzzzzzzz.${"A".repeat(43)}` });
    const statuses: number[] = [];
    const limits: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await guess();
      statuses.push(res.status);
      if (res.status === 429) limits.push(res.body.error.details.limit);
      // The failure is counted when the answer is sent: let its consume land.
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // The failure budget is checked before and spent after each answer: the guess that
    // spends past it is still answered (3 a minute lets 4 through), the next are refused.
    assert.deepEqual(statuses, [404, 404, 404, 404, 429, 429]);
    assert.deepEqual(limits, ["pairing_failures", "pairing"]);
  });
});
