import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Express } from "express";
import request, { type Response } from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { listenLocally } from "../../test-support/http-listen.ts";
import {
  ADMIN,
  type IngestHarness,
  startIngestHarness,
  startIngestReplica,
} from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";
import { readIngestConfig } from "../config.ts";

// Windows are fixed and one second long, and on a loaded machine a window may roll over
// between any two requests: so a test never counts on a given number of requests landing
// in one window. It sends rounds of requests at once until a round has a refusal (with a
// generous deadline), then asserts on the outcome: the budget was spent (at least that
// many passed, as they all count in the window of the refusal) and every other answer was
// the route's own. Where a count must hold across requests (two instances sharing one
// budget), the test uses a per-minute limit.

/** Requests sent at once per round: well over every budget below. */
const ROUND = 10;

/**
 * Sends rounds of ROUND requests until one is refused with 429. Fails unless at least
 * `budget` passed and each answered `okStatus`. Returns the first refusal, and how many.
 */
async function untilRefused<R extends { status: number }>(
  budget: number,
  okStatus: number,
  send: () => PromiseLike<R>,
): Promise<{ refused: R; refusals: number }> {
  const answers: R[] = [];
  await eventually(
    "a request is refused with 429",
    async () => {
      const round = await Promise.all(Array.from({ length: ROUND }, () => send()));
      answers.push(...round);
      return round.some((r) => r.status === 429) ? true : undefined;
    },
    { intervalMs: 0 },
  );
  const statuses = answers.map((r) => r.status);
  const passed = statuses.filter((s) => s !== 429);
  assert.ok(passed.length >= budget, `the budget of ${budget} was not spent: ${statuses}`);
  assert.deepEqual(
    passed.filter((s) => s !== okStatus),
    [],
    `every answer but the refusals is ${okStatus}: ${statuses}`,
  );
  const refused = answers.find((r) => r.status === 429)!;
  return { refused, refusals: statuses.length - passed.length };
}

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
    const { refused, refusals } = await untilRefused(5, 202, () => vote(h.app, kiosk, "lim"));
    expectThrottled(refused, "kiosk_votes");
    assert.match(refused.body.error.message, /kiosk "lim-kiosk".*5 votes per second/);

    const waiting: number[] = [];
    await eventually("the kiosk's budget recovers", async () => {
      const res = await vote(h.app, kiosk, "lim");
      waiting.push(res.status);
      return res.status === 202 ? true : undefined;
    });
    const refusedMeanwhile = waiting.filter((s) => s === 429).length;
    assert.equal(refusedMeanwhile, waiting.length - 1, `answers until then: ${waiting}`);
    const throttled = metricSample(await h.metrics(), "tallyflow_rate_limited_total", {
      limit: "kiosk_votes",
    });
    assert.equal(throttled, refusals + refusedMeanwhile, "every refusal, counted");
  });

  test("batches are limited as requests, before their body is read", async () => {
    const { refused } = await untilRefused(2, 400, () =>
      request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes: "not even a list" }),
    );
    expectThrottled(refused, "kiosk_batches");
  });

  test("the budget is per kiosk: another kiosk is not throttled meanwhile", async () => {
    const other = await createKiosk(h.app, "lim-other");
    await untilRefused(0, 202, () => vote(h.app, kiosk, "lim"));
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

  // The limits count requests, not votes: batches of 100 come at least as fast as a real
  // flush's batches of 1,000 (on a quiet machine faster than the 20 a second, which the
  // burst then covers), and 3,000 votes cost a tenth of 30,000.
  test("30 batches back to back are never throttled (the burst covers them)", async () => {
    const kiosk = await createKiosk(h.app, "flusher");
    for (let i = 0; i < 30; i++) {
      const res = await request(h.app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .send(batchOf("flush", 100));
      assert.equal(res.status, 200, `batch ${i}: ${res.status} ${res.text.slice(0, 300)}`);
      assert.equal(res.body.accepted, 100);
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
    const { refused } = await untilRefused(5, 200, () => request(h.app).get("/v1/public/polls"));
    expectThrottled(refused, "results");
    assert.match(refused.body.error.message, /results requests from .*at most 5 per second/);
    await eventually("the address's budget recovers", async () => {
      const res = await request(h.app).get("/v1/public/polls/pub");
      return res.status === 200 ? true : undefined;
    });
  });

  test("/readyz is throttled per address; /healthz never is", async () => {
    const { refused } = await untilRefused(3, 200, () => request(h.app).get("/readyz"));
    expectThrottled(refused, "readyz");

    const health: number[] = [];
    for (let i = 0; i < 40; i++) health.push((await request(h.app).get("/healthz")).status);
    assert.deepEqual(new Set(health), new Set([200]));
  });

  test("without TRUST_PROXY, X-Forwarded-For is ignored (a client cannot pick its address)", async () => {
    let n = 0;
    // 0: the address may have spent part of its budget in this window already.
    const { refused } = await untilRefused(0, 200, () =>
      request(h.app).get("/v1/public/polls").set("X-Forwarded-For", `198.51.100.${++n}`),
    );
    assert.doesNotMatch(refused.body.error.message, /198\.51\.100/);
  });

  test("the web pages are throttled per address", async () => {
    const { refused } = await untilRefused(5, 200, () => request(h.app).get("/dashboard/pub"));
    expectThrottled(refused, "pages");
    // Assets are refused under the same limit.
    const asset = await untilRefused(0, 200, () => request(h.app).get("/assets/site.css"));
    expectThrottled(asset.refused, "pages");
  });

  test("the outbox's browser modules (/kiosk-client/*) count against the pages budget", async () => {
    const { refused } = await untilRefused(0, 200, () =>
      request(h.app).get("/kiosk-client/outbox.ts"),
    );
    expectThrottled(refused, "pages");
  });

  test("SSE connects are throttled per address", async () => {
    const server = await listenLocally(h.app);
    const abort = new AbortController();
    try {
      const url = `${server.url}/v1/polls/pub/events`;
      const { refused } = await untilRefused(5, 200, () => fetch(url, { signal: abort.signal }));
      assert.match(String(refused.headers.get("retry-after")), /^[1-9]\d*$/);
      const body = (await refused.json()) as { error: { code: string; details: unknown } };
      assert.equal(body.error.code, "rate_limited");
      assert.deepEqual(body.error.details, {
        limit: "sse_connects",
        retryAfterSeconds: Number(refused.headers.get("retry-after")),
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

describe("failed pairings from many addresses (RATE_LIMIT_PAIR_FAILURES_PER_MIN)", () => {
  let h: IngestHarness;
  const FAILURES_PER_MIN = 5;
  // The budget is per window: 5 s instead of the default minute, so that the honest kiosk
  // waits seconds for the window to end, not a minute. Each loop below takes well under it.
  const WINDOW_MS = 5_000;
  const pairFrom = (address: string, code: string) =>
    request(h.app).post("/v1/pair").set("X-Forwarded-For", address).send({ code });
  const codeFor = async (kioskId: string) => {
    await createKiosk(h.app, kioskId);
    const res = await request(h.app).post(`/v1/kiosks/${kioskId}/pairing`).set(ADMIN);
    assert.equal(res.status, 201, res.text);
    return res.body.code as string;
  };
  before(async () => {
    h = await startIngestHarness({
      TRUST_PROXY: "loopback",
      RATE_LIMIT_PAIR_PER_MIN: "2",
      RATE_LIMIT_PAIR_FAILURES_PER_MIN: String(FAILURES_PER_MIN),
      RATE_LIMIT_PAIR_FAILURES_WINDOW_MS: String(WINDOW_MS),
    });
  });
  after(() => h.close());

  test("successful pairings spend nothing of the budget", async () => {
    for (let i = 0; i < FAILURES_PER_MIN + 3; i++) {
      const res = await pairFrom(`2001:db8:0:${i}::1`, await codeFor(`early-${i}`));
      assert.equal(res.status, 200, res.text);
    }
  });

  test("guesses from one /64 each stop at the fleet-wide budget; an honest kiosk pairs once it ends", async () => {
    const honest = await codeFor("honest");
    // Each guesser is within its own per-address budget (2 a minute): only the global bound
    // stops them. Guesses go one after the other, so every failure is counted first.
    const statuses: number[] = [];
    for (let i = 0; i < 3 * FAILURES_PER_MIN; i++) {
      const res = await pairFrom(`2001:db8:1:${i}::1`, "ZZZZ-ZZZZ");
      statuses.push(res.status);
      if (res.status === 429) {
        expectThrottled(res, "pairing_failures");
        assert.match(res.body.error.message, /at most 5 per 5 s;/);
        assert.ok(Number(res.headers["retry-after"]) <= WINDOW_MS / 1_000, "within the window");
      } else expectError(res, 404, "pairing_code_invalid");
    }
    const guessed = statuses.filter((s) => s === 404).length;
    // A window may roll over during the loop: at most two windows' worth get an answer.
    assert.ok(guessed <= 2 * FAILURES_PER_MIN, `statuses: ${statuses}`);
    assert.equal(statuses.at(-1), 429, `statuses: ${statuses}`);
    // The guessing stopped, not the honest kiosk: its code still pairs when the window ends.
    let attempt = 0;
    const paired = await eventually(
      "the honest kiosk pairs",
      async () => {
        // A new address each time, so that the per-address budget is not what refuses it.
        const res = await pairFrom(`2001:db8:2:${attempt++}::1`, honest);
        if (res.status === 429) return undefined;
        return res;
      },
      { timeoutMs: 3 * WINDOW_MS, intervalMs: 250 },
    );
    assert.equal(paired.status, 200, paired.text);
    assert.equal(paired.body.kioskId, "honest");
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
    const { refused } = await untilRefused(3, 200, () => from("203.0.113.7"));
    assert.match(refused.body.error.message, /from 203\.0\.113\.7:/);
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
  let b: Awaited<ReturnType<typeof startIngestReplica>>;
  before(async () => {
    // Pairing is limited per address and minute: the one attempt below falls in one window
    // however slow the machine, and that window is new (the first harness's Redis prefix is).
    // The second instance is a replica: its own process state and limiters, the same
    // database, stream and Redis keys, as behind a load balancer.
    const env = { RATE_LIMIT_PAIR_PER_MIN: "4" };
    a = await startIngestHarness(env);
    b = await startIngestReplica(a, env);
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  test("share one budget per address", async () => {
    const pair = (h: { app: Express }) =>
      request(h.app).post("/v1/pair").send({ code: "no-such-code" });
    const answers: Response[] = [];
    for (const h of [a, a, a, b, b]) answers.push(await pair(h));
    const statuses = answers.map((r) => r.status);
    // Within budget on each instance alone (3 and 2, of 4); only a shared count refuses one.
    // The others are answered as the malformed code they carry.
    assert.deepEqual(statuses, [400, 400, 400, 400, 429]);
    expectThrottled(answers[4]!, "pairing");
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
      try {
        const res = await vote(h.app, kiosk, "offline");
        assert.equal(res.status, 202, res.text);
        // The in-memory insurance keeps the same budget on this instance.
        const { refused } = await untilRefused(0, 202, () => vote(h.app, kiosk, "offline"));
        expectThrottled(refused, "kiosk_votes");
      } finally {
        if (outage === "frozen") await proxy.down();
      }
    });
});
