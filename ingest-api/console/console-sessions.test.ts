import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createPoll, expectError } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { createSchool, issueSchoolAdmin } from "../../test-support/schools.ts";

// Console sign-in through an invite, the session cookie as an admin credential with the
// scope of the admin it was invited as, CSRF, expiry, revocation, sign-out, and the limit
// on failed sign-ins.

interface Browser {
  cookie: string;
  csrf: string;
  sessionId: string;
  setCookie: string;
}

const codeOf = (link: string) => new URL(link).hash.replace("#invite=", "");

describe("console sessions", () => {
  let h: IngestHarness;

  before(async () => {
    h = await startIngestHarness({
      TRUST_PROXY: "loopback",
      RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES_PER_MIN: "3",
    });
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
  });
  after(() => h?.close());

  const invite = async (auth: Record<string, string>, body: Record<string, unknown>) => {
    const res = await request(h.app).post("/v1/console/invites").set(auth).send(body);
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    return res.body as { link: string; schoolId: string | null; expiresAt: string };
  };

  const signIn = async (link: string, headers: Record<string, string> = {}): Promise<Browser> => {
    const res = await request(h.app)
      .post("/v1/console/sessions")
      .set(headers)
      .send({ code: codeOf(link) });
    assert.equal(res.status, 201, res.text);
    const setCookie = String(res.headers["set-cookie"]?.[0]);
    return {
      setCookie,
      cookie: setCookie.split(";")[0]!,
      csrf: res.body.csrfToken,
      sessionId: res.body.session.id,
    };
  };

  test("an invite signs in once; the cookie is HttpOnly, SameSite=Strict, Secure over TLS", async () => {
    const { link, expiresAt } = await invite(ADMIN, { label: "Ops" });
    assert.match(link, /^http:\/\/127\.0\.0\.1:\d+\/console\/#invite=[A-Za-z0-9_-]{22}$/);
    assert.ok(Date.parse(expiresAt) > Date.now() + 3_600_000);
    const b = await signIn(link);
    assert.match(b.setCookie, /HttpOnly/);
    assert.match(b.setCookie, /SameSite=Strict/);
    assert.doesNotMatch(b.setCookie, /Secure/);
    expectError(
      await request(h.app)
        .post("/v1/console/sessions")
        .send({ code: codeOf(link) }),
      404,
      "invite_invalid",
    );
    const expired = await invite(ADMIN, { label: "Late" });
    await h.db.pool.query(
      "update console_invites set expires_at = now() - interval '1 second' where used_at is null",
    );
    expectError(
      await request(h.app)
        .post("/v1/console/sessions")
        .send({ code: codeOf(expired.link) }),
      404,
      "invite_invalid",
    );
    const tls = await signIn((await invite(ADMIN, { label: "Ops" })).link, {
      "X-Forwarded-Proto": "https",
    });
    assert.match(tls.setCookie, /; Secure/);
    const me = await request(h.app).get("/v1/console/session").set("Cookie", b.cookie);
    assert.equal(me.status, 200, me.text);
    assert.equal(me.body.session.role, "deployment");
    assert.equal(me.body.csrfToken, b.csrf);
  });

  test("a session is an admin credential; state changes need its CSRF token", async () => {
    const b = await signIn((await invite(ADMIN, { label: "Ops" })).link);
    const list = await request(h.app).get("/v1/schools").set("Cookie", b.cookie);
    assert.equal(list.status, 200, list.text);
    const poll = { id: "lunch", title: "Lunch", options: [{ id: "a", label: "A" }] };
    const refused = await request(h.app).post("/v1/polls").set("Cookie", b.cookie).send(poll);
    expectError(refused, 403, "csrf_failed");
    expectError(
      await request(h.app)
        .post("/v1/polls")
        .set({ Cookie: b.cookie, "X-CSRF-Token": `${b.csrf.slice(0, -1)}x` })
        .send(poll),
      403,
      "csrf_failed",
    );
    const made = await request(h.app)
      .post("/v1/polls")
      .set({ Cookie: b.cookie, "X-CSRF-Token": b.csrf })
      .send(poll);
    assert.equal(made.status, 201, made.text);
    // A public route ignores the cookie: a kiosk paired in a signed-in browser is not refused.
    expectError(
      await request(h.app).post("/v1/pair").set("Cookie", b.cookie).send({ code: "AAAA-AAAA" }),
      404,
      "pairing_code_invalid",
    );
    // Bearer tokens keep working, without a CSRF token.
    await request(h.app).delete(`/v1/polls/${made.body.id}`).set(ADMIN).expect(200);
  });

  test("a school admin's session sees its school only; another school's objects are 404", async () => {
    const southPoll = await createPoll(h.app, { id: "quiz", schoolId: "south" } as never);
    const b = await signIn(
      (await invite(ADMIN, { schoolId: "north", label: "North office" })).link,
    );
    const auth = { Cookie: b.cookie, "X-CSRF-Token": b.csrf };
    const me = await request(h.app).get("/v1/console/session").set(auth);
    assert.equal(me.body.session.role, "school");
    assert.equal(me.body.session.schoolId, "north");
    expectError(
      await request(h.app).get(`/v1/polls/${southPoll.id}`).set(auth),
      404,
      "poll_not_found",
    );
    expectError(await request(h.app).get("/v1/schools/south").set(auth), 404, "school_not_found");
    expectError(
      await request(h.app).get("/v1/polls?schoolId=south").set(auth),
      404,
      "school_not_found",
    );
    expectError(
      await request(h.app).get("/v1/schools").set(auth),
      403,
      "deployment_admin_required",
    );
    const polls = await request(h.app).get("/v1/polls").set(auth);
    assert.ok(polls.body.polls.every((p: { schoolId: string }) => p.schoolId === "north"));
    // It invites for its own school only.
    expectError(
      await request(h.app)
        .post("/v1/console/invites")
        .set(auth)
        .send({ schoolId: "south", label: "x" }),
      404,
      "school_not_found",
    );
    const own = await invite(auth, { label: "Deputy" });
    assert.equal(own.schoolId, "north");
    // A bearer school admin of the other school cannot revoke this session.
    const southAdmin = await issueSchoolAdmin(h.app, "south");
    expectError(
      await request(h.app).delete(`/v1/console/sessions/${b.sessionId}`).set(southAdmin.auth),
      404,
      "session_not_found",
    );
  });

  test("sign-out, revocation, idle and absolute expiry refuse the session at once (401)", async () => {
    const out = await signIn((await invite(ADMIN, { label: "A" })).link);
    const signOut = await request(h.app)
      .delete("/v1/console/session")
      .set({ Cookie: out.cookie, "X-CSRF-Token": out.csrf });
    assert.equal(signOut.status, 204, signOut.text);
    assert.match(String(signOut.headers["set-cookie"]?.[0]), /tallyflow_console=;/);
    const after = await request(h.app).get("/v1/polls").set("Cookie", out.cookie);
    expectError(after, 401, "unauthorized");
    assert.match(after.body.error.message, /sign in again/);

    const revoked = await signIn((await invite(ADMIN, { label: "B" })).link);
    await request(h.app).get("/v1/polls").set("Cookie", revoked.cookie).expect(200);
    const listed = await request(h.app).get("/v1/console/sessions").set(ADMIN);
    assert.ok(listed.body.sessions.some((s: { id: string }) => s.id === revoked.sessionId));
    await request(h.app).delete(`/v1/console/sessions/${revoked.sessionId}`).set(ADMIN).expect(200);
    expectError(
      await request(h.app).get("/v1/polls").set("Cookie", revoked.cookie),
      401,
      "unauthorized",
    );

    const idle = await signIn((await invite(ADMIN, { label: "C" })).link);
    await h.db.pool.query(
      "update console_sessions set last_seen_at = now() - interval '31 minutes' where id = $1",
      [idle.sessionId],
    );
    expectError(
      await request(h.app).get("/v1/polls").set("Cookie", idle.cookie),
      401,
      "unauthorized",
    );

    const old = await signIn((await invite(ADMIN, { label: "D" })).link);
    await h.db.pool.query(
      "update console_sessions set expires_at = now() - interval '1 second' where id = $1",
      [old.sessionId],
    );
    expectError(
      await request(h.app).get("/v1/polls").set("Cookie", old.cookie),
      401,
      "unauthorized",
    );

    // Sessions a day past their end are forgotten, a few at each sign-in.
    await h.db.pool.query(
      "update console_sessions set expires_at = now() - interval '2 days' where id = $1",
      [old.sessionId],
    );
    await signIn((await invite(ADMIN, { label: "Later" })).link);
    await eventually("the old session forgotten", async () => {
      const { rows } = await h.db.pool.query("select 1 from console_sessions where id = $1", [
        old.sessionId,
      ]);
      return rows.length === 0;
    });

    // Revoking a school's console admin ends its sessions with it.
    const school = await signIn((await invite(ADMIN, { schoolId: "north", label: "E" })).link);
    const me = await request(h.app).get("/v1/console/session").set("Cookie", school.cookie);
    await request(h.app)
      .delete(`/v1/schools/north/admins/${me.body.session.adminId}`)
      .set(ADMIN)
      .expect(200);
    expectError(
      await request(h.app).get("/v1/polls").set("Cookie", school.cookie),
      401,
      "unauthorized",
    );
  });

  test("failed sign-ins are counted and limited per address", async () => {
    const from = { "X-Forwarded-For": "203.0.113.9" };
    for (let i = 0; i < 3; i++)
      expectError(
        await request(h.app)
          .post("/v1/console/sessions")
          .set(from)
          .send({ code: `nope${i}` }),
        404,
        "invite_invalid",
      );
    // The failures are counted after their answers: wait until the budget shows spent.
    await eventually("the address is refused", async () => {
      const res = await request(h.app).post("/v1/console/sessions").set(from).send({ code: "x" });
      return res.status === 429;
    });
    const good = await invite(ADMIN, { label: "Late" });
    const refused = await request(h.app)
      .post("/v1/console/sessions")
      .set(from)
      .send({ code: codeOf(good.link) });
    assert.equal(expectError(refused, 429, "rate_limited").details?.constructor, Object);
    assert.equal(
      (refused.body.error.details as { limit: string }).limit,
      "console_sign_in_failures",
    );
    // Another address still signs in with that invite: the limit never looked at the code.
    await signIn(good.link, { "X-Forwarded-For": "203.0.113.10" });
    const text = await h.metrics();
    assert.match(text, /tallyflow_console_sign_ins_total\{outcome="invalid_invite"[^}]*\} [3-9]/);
    assert.match(text, /tallyflow_console_sign_ins_total\{outcome="limited"[^}]*\} [1-9]/);
  });
});
