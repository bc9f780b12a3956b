import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response } from "supertest";
import { resultsKeys } from "../../common/results-contract.ts";
import { createPoll } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// A published version names its poll's registry time (result-publisher/published-version.ts):
// one from before the poll was created would be an earlier poll's, and is not served.
const VERSION = `7-${(Date.now() + 60_000).toString(36)}`;

// `X-Content-Type-Options: nosniff` on every answer (JSON, errors, 304, PNG, pages), and
// `Strict-Transport-Security` only when HSTS_MAX_AGE_SECONDS says the API is served over TLS.

/** One answer of each kind the API gives, named for the assertion messages. */
async function answers(h: IngestHarness): Promise<[string, Response][]> {
  const keys = resultsKeys(h.names.redisKeyPrefix, "shown");
  await h.redis.mSet([
    [keys.version, VERSION],
    [keys.json, JSON.stringify({ pollId: "shown", version: VERSION })],
    [keys.png, "not really a png"],
  ]);
  const app = h.app;
  return [
    ["200 JSON", await request(app).get("/v1/polls/shown/results")],
    ["304", await request(app).get("/v1/polls/shown/results").set("If-None-Match", `"${VERSION}"`)],
    ["PNG", await request(app).get("/v1/polls/shown/results.png")],
    ["503", await request(app).get("/v1/polls/unpublished/results")],
    ["401", await request(app).post("/v1/votes").send({})],
    ["404 route", await request(app).get("/no/such/route")],
    ["400", await request(app).post("/v1/polls").set(ADMIN).send({ id: "" })],
    ["healthz", await request(app).get("/healthz")],
    ["public poll", await request(app).get("/v1/public/polls/shown")],
    ["HEAD events", await request(app).head("/v1/polls/shown/events")],
    ["page", await request(app).get("/")],
    ["404 page", await request(app).get("/dashboard/nope")],
  ];
}

describe("security headers by default (plain HTTP)", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness();
    await createPoll(h.app, { id: "shown" });
    await createPoll(h.app, { id: "unpublished" });
  });
  after(async () => await h?.close());

  test("every answer carries nosniff and none carries HSTS, pages included", async () => {
    const all = await answers(h);
    const statuses = Object.fromEntries(all.map(([name, res]) => [name, res.status]));
    assert.deepEqual(statuses, {
      "200 JSON": 200,
      "304": 304,
      PNG: 200,
      "503": 503,
      "401": 401,
      "404 route": 404,
      "400": 400,
      healthz: 200,
      "public poll": 200,
      "HEAD events": 200,
      page: 200,
      "404 page": 404,
    });
    for (const [name, res] of all) {
      assert.equal(res.headers["x-content-type-options"], "nosniff", name);
      assert.equal(res.headers["strict-transport-security"], undefined, name);
    }
  });
});

describe("HSTS_MAX_AGE_SECONDS (served over TLS)", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({ HSTS_MAX_AGE_SECONDS: "31536000" });
    await createPoll(h.app, { id: "shown" });
    await createPoll(h.app, { id: "unpublished" });
  });
  after(async () => await h?.close());

  test("every answer carries Strict-Transport-Security with the configured max-age", async () => {
    for (const [name, res] of await answers(h)) {
      assert.equal(res.headers["strict-transport-security"], "max-age=31536000", name);
      assert.equal(res.headers["x-content-type-options"], "nosniff", name);
    }
  });
});
