import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Express } from "express";
import request, { type Response } from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { listenLocally } from "../../test-support/http-listen.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";
import { readIngestConfig } from "../config.ts";

// Windows are fixed and one second long, so a test never counts on several requests
// landing in the same window: it sends bursts well over the budget (any two windows
// together hold at most twice the budget) and waits with `eventually` where a window
// may roll over between requests on a loaded machine.

/** Sends `n` requests at once. */
const burst = (n: number, send: () => request.Test) =>
  Promise.all(Array.from({ length: n }, () => send().then((res: Response) => res)));

function expectThrottled(res: Response, limit: string): void {
  const error = expectError(res, 429, "rate_limited");
  assert.match(String(res.headers["retry-after"]), /^[1-9]\d*$/, "Retry-After in whole seconds");
  assert.deepEqual(error.details, {
    limit,
    retryAfterSeconds: Number(res.headers["retry-after"]),
  });
}

const vote = (app: Express, kiosk: TestKiosk, pollId: string) =>
  request(app).post("/v1/votes").set(kiosk.auth).send({ pollId, optionId: "yes" });

const batchOf = (pollId: string, n: number) => ({
  votes: Array.from({ length: n }, () => ({ eventId: randomUUID(), pollId, optionId: "yes" })),
});

describe("per-kiosk limits", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  before(async () => {
    h = await startIngestHarness({
      RATE_LIMIT_KIOSK_VOTES_PER_S: "5",
      RATE_LIMIT_KIOSK_BATCHES_PER_S: "2",
      RATE_LIMIT_KIOSK_BATCH_BURST_PER_MIN: "0",
    });
    await createPoll(h.app, { id: "lim" });
    kiosk = await createKiosk(h.app, "lim-kiosk");
  });
  after(() => h.close());

  test("single votes beyond the budget get 429 with Retry-After, then the budget recovers", async () => {
    const answers = await burst(20, () => vote(h.app, kiosk, "lim"));
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 10, `at most 2 windows × 5 pass: ${answers.map((r) => r.status)}`);
    for (const res of answers) if (res.status !== 429) assert.equal(res.status, 202, res.text);
    expectThrottled(refused[0]!, "kiosk_votes");
    assert.match(refused[0]!.body.error.message, /kiosk "lim-kiosk".*5 votes per second/);

    await eventually("the kiosk's budget recovers", async () => {
      const res = await vote(h.app, kiosk, "lim");
      return res.status === 202 ? true : undefined;
    });
    const throttled = metricSample(await h.metrics(), "tallyflow_rate_limited_total", {
      limit: "kiosk_votes",
    });
    assert.ok(throttled !== undefined && throttled >= 10, `metric: ${throttled}`);
  });

  test("batches are limited as requests, before their body is read", async () => {
    const answers = await burst(8, () =>
      request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes: "not even a list" }),
    );
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 4, `statuses: ${answers.map((r) => r.status)}`);
    for (const res of answers) if (res.status !== 429) assert.equal(res.status, 400, res.text);
    expectThrottled(refused[0]!, "kiosk_batches");
  });

  test("the budget is per kiosk: another kiosk is not throttled meanwhile", async () => {
    const other = await createKiosk(h.app, "lim-other");
    await burst(20, () => vote(h.app, kiosk, "lim"));
    const res = await vote(h.app, other, "lim");
    assert.equal(res.status, 202, res.text);
  });
});

describe("an honest kiosk flushing its offline queue", () => {
  let h: IngestHarness;
  before(async () => {
    // The production defaults (the harness turns the limits off otherwise).
    const { kioskBatchesPerS, kioskBatchBurstPerMin } = readIngestConfig({}).rateLimits;
    h = await startIngestHarness({
      RATE_LIMIT_KIOSK_BATCHES_PER_S: String(kioskBatchesPerS),
      RATE_LIMIT_KIOSK_BATCH_BURST_PER_MIN: String(kioskBatchBurstPerMin),
    });
    await createPoll(h.app, { id: "flush" });
  });
  after(() => h.close());

  test("30 batches of 1,000 back to back are never throttled (the burst covers them)", async () => {
    const kiosk = await createKiosk(h.app, "flusher");
    for (let i = 0; i < 30; i++) {
      const res = await request(h.app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .send(batchOf("flush", 1_000));
      assert.equal(res.status, 200, `batch ${i}: ${res.status} ${res.text.slice(0, 300)}`);
      assert.equal(res.body.accepted, 1_000);
    }
  });
});

describe("per-address limits", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({
      RATE_LIMIT_RESULTS_PER_S: "5",
      RATE_LIMIT_READYZ_PER_S: "3",
      RATE_LIMIT_PAGES_PER_S: "5",
      RATE_LIMIT_SSE_CONNECTS_PER_S: "5",
      RATE_LIMIT_AUTH_FAILURES_PER_MIN: "3",
    });
    await createPoll(h.app, { id: "pub" });
  });
  after(() => h.close());

  test("/v1/public/polls beyond the budget gets 429 naming the limit", async () => {
    const answers = await burst(20, () => request(h.app).get("/v1/public/polls"));
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 10, `statuses: ${answers.map((r) => r.status)}`);
    for (const res of answers) if (res.status !== 429) assert.equal(res.status, 200, res.text);
    expectThrottled(refused[0]!, "results");
    assert.match(refused[0]!.body.error.message, /results requests from .*at most 5 per second/);
    await eventually("the address's budget recovers", async () => {
      const res = await request(h.app).get("/v1/public/polls/pub");
      return res.status === 200 ? true : undefined;
    });
  });

  test("/readyz is throttled per address; /healthz never is", async () => {
    const answers = await burst(12, () => request(h.app).get("/readyz"));
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 6, `statuses: ${answers.map((r) => r.status)}`);
    for (const res of answers) if (res.status !== 429) assert.equal(res.status, 200, res.text);
    expectThrottled(refused[0]!, "readyz");

    const health = await burst(40, () => request(h.app).get("/healthz"));
    assert.deepEqual(new Set(health.map((r) => r.status)), new Set([200]));
  });

  test("without TRUST_PROXY, X-Forwarded-For is ignored (a client cannot pick its address)", async () => {
    let n = 0;
    const answers = await burst(20, () =>
      request(h.app).get("/v1/public/polls").set("X-Forwarded-For", `198.51.100.${++n}`),
    );
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 10, `statuses: ${answers.map((r) => r.status)}`);
    assert.doesNotMatch(refused[0]!.body.error.message, /198\.51\.100/);
  });

  test("the web pages are throttled per address", async () => {
    const answers = await burst(20, () => request(h.app).get("/dashboard/pub"));
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 10, `statuses: ${answers.map((r) => r.status)}`);
    expectThrottled(refused[0]!, "pages");
    await eventually("assets count against the same budget", async () => {
      const assets = await burst(20, () => request(h.app).get("/assets/site.css"));
      const throttled = assets.find((r) => r.status === 429);
      if (throttled === undefined) return undefined;
      expectThrottled(throttled, "pages");
      return true;
    });
  });

  test("SSE connects are throttled per address", async () => {
    const server = await listenLocally(h.app);
    const abort = new AbortController();
    try {
      const url = `${server.url}/v1/polls/pub/events`;
      const answers = await Promise.all(
        Array.from({ length: 12 }, () => fetch(url, { signal: abort.signal })),
      );
      const refused = answers.filter((r) => r.status === 429);
      assert.ok(refused.length >= 2, `statuses: ${answers.map((r) => r.status)}`);
      for (const res of answers) assert.ok([200, 429].includes(res.status));
      assert.match(String(refused[0]!.headers.get("retry-after")), /^[1-9]\d*$/);
      const body = (await refused[0]!.json()) as { error: { code: string; details: unknown } };
      assert.equal(body.error.code, "rate_limited");
      assert.deepEqual(body.error.details, {
        limit: "sse_connects",
        retryAfterSeconds: Number(refused[0]!.headers.get("retry-after")),
      });
    } finally {
      abort.abort();
      await server.close();
    }
  });

  test("failed authentications: past the budget, the address's credentialed requests get 429", async () => {
    const bad = { Authorization: "Bearer not-a-kiosk-token" };
    await eventually(
      "the address is refused after 3 failures a minute",
      async () => {
        const res = await request(h.app).post("/v1/votes").set(bad).send({});
        if (res.status === 401) return undefined;
        expectThrottled(res, "auth_failures");
        assert.match(res.body.error.message, /failed authentications .*3 per minute/);
        return true;
      },
      { timeoutMs: 10_000 },
    );
    // The admin API too: the refusal is by address, not by route.
    const admin = await request(h.app).get("/v1/kiosks").set(bad);
    expectThrottled(admin, "auth_failures");
    // Reading needs no credentials, so it is not refused (once its own budget allows).
    await eventually("a public read from the address is served", async () => {
      const res = await request(h.app).get("/v1/public/polls/pub");
      return res.status === 200 ? true : undefined;
    });
  });
});

describe("behind a trusted proxy (TRUST_PROXY)", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({ TRUST_PROXY: "loopback", RATE_LIMIT_RESULTS_PER_S: "3" });
  });
  after(() => h.close());

  test("each forwarded client address has a budget of its own", async () => {
    const from = (address: string) =>
      request(h.app).get("/v1/public/polls").set("X-Forwarded-For", `${address}, 127.0.0.1`);
    const answers = await burst(12, () => from("203.0.113.7"));
    const refused = answers.filter((r) => r.status === 429);
    assert.ok(refused.length >= 6, `statuses: ${answers.map((r) => r.status)}`);
    assert.match(refused[0]!.body.error.message, /from 203\.0\.113\.7:/);
    const other = await from("203.0.113.8");
    assert.equal(other.status, 200, other.text);
  });
});

describe("/readyz answers from one probe round per READYZ_CACHE_MS", () => {
  let h: IngestHarness;
  let proxy: TcpProxy;
  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    h = await startIngestHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      READYZ_CACHE_MS: "5000",
    });
  });
  after(async () => {
    await proxy.up();
    await eventually(
      "the harness's Redis client reconnected",
      async () => ((await h.redis.ping()) === "PONG" ? true : undefined),
      { timeoutMs: 15_000 },
    );
    await h.close();
    await proxy.down();
  });

  test("a dependency lost meanwhile shows at the next round, not before", async () => {
    assert.equal((await request(h.app).get("/readyz")).status, 200);
    await proxy.down();
    const cached = await request(h.app).get("/readyz");
    assert.equal(cached.status, 200, "the round of a moment ago is reused");
    const fresh = await eventually(
      "the next round sees Redis down",
      async () => {
        const res = await request(h.app).get("/readyz");
        return res.status === 503 ? res : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.equal(fresh.body.checks.redis.ok, false);
  });

  test("/readyz names the dependency down, never its error (that is for the log)", async () => {
    await proxy.down();
    const res = await eventually(
      "/readyz sees Redis down",
      async () => {
        const r = await request(h.app).get("/readyz");
        return r.status === 503 ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    const { registryCacheAgeMs, ...rest } = res.body;
    assert.deepEqual(rest, {
      status: "not_ready",
      checks: { postgres: { ok: true }, nats: { ok: true }, redis: { ok: false } },
    });
    assert.equal(typeof registryCacheAgeMs, "number");
  });
});

describe("two API instances on the same Redis", () => {
  let a: IngestHarness;
  let b: IngestHarness;
  before(async () => {
    const env = { RATE_LIMIT_RESULTS_PER_S: "4" };
    a = await startIngestHarness(env);
    b = await startIngestHarness({ ...env, REDIS_KEY_PREFIX: a.config.redisKeyPrefix });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  test("share one budget per address", async () => {
    // Within budget on each instance alone (3 ≤ 4); only a shared count refuses any.
    await eventually("the second instance counts the first one's requests", async () => {
      const first = await burst(3, () => request(a.app).get("/v1/public/polls"));
      const second = await burst(3, () => request(b.app).get("/v1/public/polls"));
      assert.ok(first.every((r) => r.status === 200 || r.status === 429));
      const refused = second.find((r) => r.status === 429);
      if (refused === undefined) return undefined;
      expectThrottled(refused, "results");
      return true;
    });
  });
});

describe("while Redis is unavailable", () => {
  let h: IngestHarness;
  let proxy: TcpProxy;
  let kiosk: TestKiosk;
  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    h = await startIngestHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      RATE_LIMIT_KIOSK_VOTES_PER_S: "5",
    });
    await createPoll(h.app, { id: "offline" });
    kiosk = await createKiosk(h.app, "no-redis");
  });
  after(async () => {
    await proxy.up(); // the harness cleans its Redis keys through the proxy
    await eventually(
      "the harness's Redis client reconnected",
      async () => ((await h.redis.ping()) === "PONG" ? true : undefined),
      { timeoutMs: 15_000 },
    );
    await h.close();
    await proxy.down();
  });

  for (const outage of ["down", "frozen"] as const)
    test(`votes are still accepted, limited in memory (Redis ${outage})`, async () => {
      if (outage === "down") await proxy.down();
      else {
        await proxy.up();
        await eventually("the API's Redis client reconnected", async () =>
          (await request(h.app).get("/readyz")).status === 200 ? true : undefined,
        );
        proxy.freeze();
      }
      const res = await vote(h.app, kiosk, "offline");
      assert.equal(res.status, 202, res.text);
      // The in-memory insurance keeps the same budget on this instance.
      await eventually("a burst is throttled from memory", async () => {
        const answers = await burst(20, () => vote(h.app, kiosk, "offline"));
        for (const r of answers) assert.ok([202, 429].includes(r.status), r.text);
        const refused = answers.find((r) => r.status === 429);
        if (refused === undefined) return undefined;
        expectThrottled(refused, "kiosk_votes");
        return true;
      });
      if (outage === "frozen") await proxy.down();
    });
});
