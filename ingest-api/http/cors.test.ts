import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response } from "supertest";
import { resultsKeys } from "../../common/results-contract.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import { listenLocally } from "../../test-support/http-listen.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// A published version names its poll's registry time (result-publisher/published-version.ts):
// one from before the poll was created would be an earlier poll's, and is not served.
const VERSION = `7-${(Date.now() + 60_000).toString(36)}`;

const ALLOWED = "https://dash.example.org";
const ALSO_ALLOWED = "http://kiosk.school.lan:8080";
const OTHER = "https://evil.example.com";

function corsHeaders(res: Response): string[] {
  return Object.keys(res.headers).filter((h) => h.startsWith("access-control-"));
}

const preflight = (h: IngestHarness, path: string, origin: string, method = "POST") =>
  request(h.app)
    .options(path)
    .set("Origin", origin)
    .set("Access-Control-Request-Method", method)
    .set("Access-Control-Request-Headers", "authorization,content-type");

describe("CORS for the configured origins", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  before(async () => {
    h = await startIngestHarness({
      CORS_ORIGINS: `${ALLOWED}, ${ALSO_ALLOWED}`,
      CORS_MAX_AGE_MS: "120000",
    });
    await createPoll(h.app, { id: "cors" });
    kiosk = await createKiosk(h.app, "cors-kiosk");
    const keys = resultsKeys(h.config.redisKeyPrefix, "cors");
    await h.redis.mSet([
      [keys.version, VERSION],
      [keys.json, JSON.stringify({ pollId: "cors", version: VERSION })],
    ]);
  });
  after(() => h.close());

  for (const path of ["/v1/votes", "/v1/votes/batch"])
    test(`preflight of POST ${path} from an allowed origin: 204 with the CORS headers`, async () => {
      const res = await preflight(h, path, ALLOWED);
      assert.equal(res.status, 204, res.text);
      assert.equal(res.headers["access-control-allow-origin"], ALLOWED);
      assert.equal(
        res.headers["access-control-allow-headers"],
        "Authorization,Content-Type,X-Kiosk-Status",
      );
      assert.deepEqual(res.headers["access-control-allow-methods"]?.split(","), [
        "GET",
        "HEAD",
        "POST",
      ]);
      assert.equal(res.headers["access-control-max-age"], "120");
      assert.equal(res.headers["access-control-allow-credentials"], undefined);
      assert.match(String(res.headers.vary), /\bOrigin\b/);
    });

  test("the kiosk-client's batch passes the preflight: X-Kiosk-Status is an allowed header", async () => {
    // What a browser asks before the outbox's POST (sender.ts sets these three headers).
    const res = await request(h.app)
      .options("/v1/votes/batch")
      .set("Origin", ALLOWED)
      .set("Access-Control-Request-Method", "POST")
      .set("Access-Control-Request-Headers", "authorization,content-type,x-kiosk-status");
    assert.equal(res.status, 204, res.text);
    const allowed = String(res.headers["access-control-allow-headers"]).toLowerCase().split(",");
    for (const header of ["authorization", "content-type", "x-kiosk-status"])
      assert.ok(allowed.includes(header), `${header} in ${allowed.join(",")}`);
  });

  test("each configured origin is allowed as itself (never `*`)", async () => {
    const res = await preflight(h, "/v1/votes", ALSO_ALLOWED);
    assert.equal(res.headers["access-control-allow-origin"], ALSO_ALLOWED);
  });

  test("another origin gets no CORS header at all", async () => {
    const pre = await preflight(h, "/v1/votes", OTHER);
    assert.deepEqual(corsHeaders(pre), []);
    const get = await request(h.app).get("/v1/polls/cors/results").set("Origin", OTHER);
    assert.equal(get.status, 200);
    assert.deepEqual(corsHeaders(get), []);
    // The answer depends on the origin either way: shared caches must keep them apart.
    assert.match(String(get.headers.vary), /\bOrigin\b/);
    // A near miss is another origin (exact match only).
    const near = await preflight(h, "/v1/votes", `${ALLOWED}.evil.com`);
    assert.deepEqual(corsHeaders(near), []);
  });

  test("a cross-origin results GET carries Allow-Origin and exposes ETag, Retry-After and Date (the outbox learns the server's clock from it)", async () => {
    const res = await request(h.app).get("/v1/polls/cors/results").set("Origin", ALLOWED);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.etag, `"${VERSION}"`);
    assert.equal(res.headers["access-control-allow-origin"], ALLOWED);
    assert.deepEqual(res.headers["access-control-expose-headers"]?.split(","), [
      "ETag",
      "Retry-After",
      "Date",
    ]);
    const png = await request(h.app).get("/v1/polls/cors/results.png").set("Origin", ALLOWED);
    assert.equal(png.headers["access-control-allow-origin"], ALLOWED, png.text);
    const polls = await request(h.app).get("/v1/public/polls").set("Origin", ALLOWED);
    assert.equal(polls.headers["access-control-allow-origin"], ALLOWED);
  });

  test("a cross-origin vote works and its errors are readable by the app", async () => {
    const ok = await request(h.app)
      .post("/v1/votes")
      .set("Origin", ALLOWED)
      .set(kiosk.auth)
      .send({ pollId: "cors", optionId: "yes" });
    assert.equal(ok.status, 202, ok.text);
    assert.equal(ok.headers["access-control-allow-origin"], ALLOWED);
    const denied = await request(h.app)
      .post("/v1/votes")
      .set("Origin", ALLOWED)
      .send({ pollId: "cors", optionId: "yes" });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers["access-control-allow-origin"], ALLOWED);
  });

  test("the admin registry routes get no CORS headers", async () => {
    const pre = await preflight(h, "/v1/polls", ALLOWED);
    assert.deepEqual(corsHeaders(pre), []);
    const list = await request(h.app).get("/v1/kiosks").set(ADMIN).set("Origin", ALLOWED);
    assert.equal(list.status, 200);
    assert.deepEqual(corsHeaders(list), []);
    const poll = await request(h.app).get("/v1/polls/cors").set(ADMIN).set("Origin", ALLOWED);
    assert.equal(poll.status, 200);
    assert.deepEqual(corsHeaders(poll), []);
  });

  test("the SSE stream answers cross-origin (EventSource sends Origin)", async () => {
    const server = await listenLocally(h.app);
    const abort = new AbortController();
    try {
      const res = await fetch(`${server.url}/v1/polls/cors/events`, {
        headers: { Accept: "text/event-stream", Origin: ALLOWED },
        signal: abort.signal,
      });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
      assert.equal(res.headers.get("access-control-allow-origin"), ALLOWED);
    } finally {
      abort.abort();
      await server.close();
    }
  });
});

describe("CORS by default", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness();
  });
  after(() => h.close());

  test("no origin is configured: no CORS headers, preflights are not answered as CORS", async () => {
    const pre = await preflight(h, "/v1/votes", ALLOWED);
    assert.deepEqual(corsHeaders(pre), []);
    const get = await request(h.app).get("/v1/public/polls").set("Origin", ALLOWED);
    assert.equal(get.status, 200);
    assert.deepEqual(corsHeaders(get), []);
  });
});
