import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { expectError } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers } from "../../test-support/openapi-answers.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";
import type { OpenApiDocument } from "../openapi/openapi-document.ts";

// A lesson register's document read while Redis is unreachable: 503 redis_unavailable with
// Retry-After, as /openapi.json describes it, never a 500 or a hang; once Redis is back the
// same read answers again (not published yet: 503 register_not_ready). Redis is reached
// through a TCP proxy this test stops: the shared server is never touched.

describe("GET /v1/registers/:pollId while Redis is unreachable", () => {
  let proxy: TcpProxy;
  let h: IngestHarness;
  let answers: OpenApiAnswers;
  let path: string;

  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    h = await startIngestHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      RESULTS_INTERVAL_MS: "3000",
    });
    answers = new OpenApiAnswers(
      (await request(h.app).get("/openapi.json")).body as OpenApiDocument,
    );
    const now = Date.now();
    const created = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "maths",
        kind: "register",
        title: "Maths",
        groupId: "7a",
        startsAt: new Date(now).toISOString(),
        endsAt: new Date(now + 45 * 60_000).toISOString(),
      });
    assert.equal(created.status, 201, created.text);
    path = `/v1/registers/${created.body.id}`;
  });

  after(async () => {
    await proxy?.up(); // the harness removes its Redis keys through the proxy
    if (h) {
      await eventually(
        "the harness's Redis client reconnected",
        async () => ((await h.redis.ping()) === "PONG" ? true : undefined),
        { timeoutMs: 15_000 },
      );
      await h.close();
    }
    await proxy?.down();
  });

  test("503 redis_unavailable with Retry-After, as documented; answered again once Redis is back", async () => {
    const published = await request(h.app).get(path).set(ADMIN);
    expectError(answers.check("GET", path, published), 503, "register_not_ready");
    assert.equal(published.headers["retry-after"], "3", "RESULTS_INTERVAL_MS, in seconds");

    await proxy.down();
    const refused = await request(h.app).get(path).set(ADMIN);
    const error = expectError(answers.check("GET", path, refused), 503, "redis_unavailable");
    assert.match(error.message, /unreachable/);
    assert.equal(refused.headers["retry-after"], "2");
    assert.equal(refused.headers.etag, undefined, "no version claimed");

    await proxy.up();
    await eventually(
      "the register is read from Redis again",
      async () => {
        const res = await request(h.app).get(path).set(ADMIN);
        return res.status === 503 && res.body.error.code === "register_not_ready"
          ? answers.check("GET", path, res)
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
  });
});
