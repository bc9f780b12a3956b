import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response, type Test } from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers, operationsOf } from "../../test-support/openapi-answers.ts";
import { createSchool } from "../../test-support/schools.ts";
import { consoleRouteDescriptions } from "../console/console-openapi.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

// The console's real answers held to /openapi.json (test-support/openapi-answers.ts), as
// openapi-answers.test.ts holds the rest: a browser's whole round (invite, sign-in by cookie,
// its session, the sessions, the audit log and its CSV, a revocation, sign-out), the error
// envelopes each route answers (csrf_failed, invite_invalid, session_not_found, 401, a
// sign-in over its failure budget), and the console's page and modules. Every operation the
// console describes must be answered here.

type Method = "get" | "post" | "delete";

interface Browser {
  cookie: string;
  csrf: string;
  sessionId: string;
}

const codeOf = (link: string) => new URL(link).hash.replace("#invite=", "");

describe("the console's answers match /openapi.json", () => {
  let h: IngestHarness;
  let answers: OpenApiAnswers;

  const call = async (
    method: Method,
    path: string,
    prepare: (t: Test) => Test = (t) => t,
  ): Promise<Response> => {
    const res = await prepare(request(h.app)[method](path));
    return answers.check(method.toUpperCase(), path, res);
  };
  const admin = (t: Test) => t.set(ADMIN);
  const expect = (res: Response, status: number, code?: string) => {
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 500)}`);
    if (code !== undefined) assert.equal(res.body.error.code, code);
    return res;
  };
  /** A browser signed in through this invite: its cookie, and its CSRF token. */
  const signIn = async (link: string): Promise<Browser> => {
    const res = expect(
      await call("post", "/v1/console/sessions", (t) => t.send({ code: codeOf(link) })),
      201,
    );
    const cookie = String(res.headers["set-cookie"]?.[0]).split(";")[0]!;
    return { cookie, csrf: res.body.csrfToken, sessionId: res.body.session.id };
  };
  const asCookie = (b: Browser) => (t: Test) => t.set("Cookie", b.cookie);
  const asPage = (b: Browser) => (t: Test) => t.set({ Cookie: b.cookie, "X-CSRF-Token": b.csrf });

  before(async () => {
    h = await startIngestHarness({
      // Failed sign-ins from one (forwarded) address: the fourth is refused.
      TRUST_PROXY: "loopback",
      RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES_PER_MIN: "3",
    });
    const doc = await request(h.app).get("/openapi.json");
    answers = new OpenApiAnswers(doc.body as OpenApiDocument);
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
  });
  after(() => h?.close());

  test("invite → session by cookie → sessions → audit log → revocation → sign-out", async () => {
    const invites = "/v1/console/invites";
    const ops = expect(await call("post", invites, (t) => admin(t).send({ label: "Ops" })), 201);
    expect(await call("post", invites, (t) => t.send({ label: "Ops" })), 401, "unauthorized");
    expect(await call("post", invites, (t) => admin(t).send({ label: "" })), 400);
    expect(
      await call("post", invites, (t) => admin(t).send({ label: "X", schoolId: "nowhere" })),
      404,
      "school_not_found",
    );
    expect(await call("post", invites, (t) => admin(t).type("text/plain").send("x")), 415);

    const page = await signIn(ops.body.link);
    expect(
      await call("post", "/v1/console/sessions", (t) => t.send({ code: codeOf(ops.body.link) })),
      404,
      "invite_invalid",
    );
    const me = expect(await call("get", "/v1/console/session", asCookie(page)), 200);
    assert.equal(me.body.csrfToken, page.csrf);
    expect(await call("get", "/v1/console/session"), 401, "unauthorized");
    // The page's own session is the cookie's: a bearer token is no session.
    expect(await call("get", "/v1/console/session", admin), 401, "unauthorized");

    // The session's changes carry its CSRF token.
    expect(
      await call("post", invites, (t) => asCookie(page)(t).send({ label: "Office" })),
      403,
      "csrf_failed",
    );
    const office = expect(
      await call("post", invites, (t) =>
        asPage(page)(t).send({ label: "Office", schoolId: "north" }),
      ),
      201,
    );
    const head = await signIn(office.body.link);

    const sessions = expect(await call("get", "/v1/console/sessions", asCookie(page)), 200);
    assert.deepEqual(
      (sessions.body.sessions as { id: string }[]).map((s) => s.id).sort(),
      [page.sessionId, head.sessionId].sort(),
    );
    expect(await call("get", "/v1/console/sessions?schoolId=north", admin), 200);
    expect(await call("get", "/v1/console/sessions"), 401, "unauthorized");
    expect(await call("get", "/v1/console/sessions?schoolId=bad%20id", admin), 400);
    expect(
      await call("get", "/v1/console/sessions?schoolId=south", asCookie(head)),
      404,
      "school_not_found",
    );

    // The audit log is written after each answer: the invites and sign-ins appear shortly.
    await eventually("the audit log holds the sign-ins", async () => {
      const res = await request(h.app).get("/v1/audit?action=POST /v1/console/sessions").set(ADMIN);
      return res.body.entries?.length === 2 ? res : undefined;
    });
    const first = expect(await call("get", "/v1/audit?limit=1", asCookie(page)), 200);
    assert.equal(first.body.entries.length, 1);
    assert.ok(first.body.next, first.text);
    expect(await call("get", `/v1/audit?before=${first.body.next}`, asCookie(page)), 200);
    expect(await call("get", "/v1/audit?schoolId=north", asCookie(head)), 200);
    expect(await call("get", "/v1/audit?limit=100000", admin), 400, "invalid_request");
    expect(await call("get", "/v1/audit?schoolId=south", asCookie(head)), 404, "school_not_found");
    expect(await call("get", "/v1/audit"), 401, "unauthorized");
    const csv = expect(await call("get", "/v1/audit.csv", asCookie(page)), 200);
    assert.match(csv.text, /^id,at,schoolId,/);
    expect(await call("get", "/v1/audit.csv?from=yesterday", admin), 400, "invalid_request");
    expect(await call("get", "/v1/audit.csv"), 401, "unauthorized");

    // Revoking the school's session: refused without the CSRF token, then at once.
    const revoke = `/v1/console/sessions/${head.sessionId}`;
    expect(await call("delete", revoke, asCookie(page)), 403, "csrf_failed");
    expect(await call("delete", revoke), 401, "unauthorized");
    const revoked = expect(await call("delete", revoke, asPage(page)), 200);
    assert.equal(revoked.body.id, head.sessionId);
    // Again: the same answer (revoking is idempotent); an unknown id is 404.
    expect(await call("delete", revoke, asPage(page)), 200);
    expect(
      await call("delete", "/v1/console/sessions/cs-nothing", asPage(page)),
      404,
      "session_not_found",
    );
    expect(await call("delete", "/v1/console/sessions/bad%20id", admin), 400, "invalid_request");
    expect(await call("get", "/v1/console/session", asCookie(head)), 401, "unauthorized");

    // Sign-out: the session's own, by its cookie and CSRF token.
    expect(await call("delete", "/v1/console/session", admin), 401, "unauthorized");
    expect(await call("delete", "/v1/console/session", asCookie(page)), 403, "csrf_failed");
    const out = expect(await call("delete", "/v1/console/session", asPage(page)), 204);
    assert.match(String(out.headers["set-cookie"]?.[0]), /^tallyflow_console=;/);
    expect(await call("get", "/v1/console/session", asCookie(page)), 401, "unauthorized");
  });

  test("sign-in refusals: an invalid body, and 429 past the failure budget", async () => {
    const from = (t: Test) => t.set("X-Forwarded-For", "203.0.113.9");
    const signIn = (body: unknown) =>
      call("post", "/v1/console/sessions", (t) => from(t).send(body as object));
    expect(await signIn({ code: 12 }), 400, "invalid_request");
    expect(await signIn({ code: "nope" }), 404, "invite_invalid");
    expect(await signIn({ code: "nope" }), 404, "invite_invalid");
    const limited = expect(await signIn({ code: "nope" }), 429, "rate_limited");
    assert.ok(limited.headers["retry-after"]);
  });

  test("the console's page and modules", async () => {
    const redirect = expect(await call("get", "/console"), 301);
    assert.equal(redirect.headers.location, "/console/");
    expect(await call("get", "/console/"), 200);
    const app = expect(await call("get", "/console/assets/app.js"), 200);
    expect(
      await call("get", "/console/assets/app.js", (t) =>
        t.set("If-None-Match", String(app.headers.etag)),
      ),
      304,
    );
    expect(await call("get", "/console/assets/nothing.js"), 404);
    for (const module of ["preact/preact.js", "preact/hooks.js", "htm/htm.js"])
      expect(await call("get", `/vendor/${module}`), 200);
    expect(await call("get", "/vendor/nothing/nothing.js"), 404, "route_not_found");
  });

  test("every operation the console describes was answered here", () => {
    const called = new Set([...answers.covered].map((c) => c.split(" ").slice(0, 2).join(" ")));
    const missed = operationsOf(consoleRouteDescriptions).filter((op) => !called.has(op));
    assert.deepEqual(missed, [], "console operations of the document no request here exercised");
  });
});
