import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { resultsChannel, resultsKeys } from "../../common/results-contract.ts";
import { PrivateRedis } from "../../harness/private-redis.ts";
import { eventually } from "../../harness/waiting.ts";
import { createPoll, expectError, isoFromNow, minutes } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";

// The API's in-process copy of the publications (ResultsCache). Publications are written
// straight into Redis as the publisher would (one MULTI), with or without the PUBLISH, so
// that each test decides whether the announcement arrives.

interface Written {
  version: string;
  png?: Buffer;
  /** PUBLISH the announcement in the same MULTI (as the publisher does). */
  announce: boolean;
}

function writer(h: IngestHarness) {
  return async (pollId: string, { version, png, announce }: Written) => {
    const keys = resultsKeys(h.names.redisKeyPrefix, pollId);
    const doc = {
      pollId,
      version,
      hidden: false,
      totalVotes: 3,
      options: [{ id: "yes", count: 3 }],
    };
    const tx = h.redis.multi().set(keys.json, JSON.stringify(doc)).set(keys.version, version);
    if (png) tx.set(keys.png, png);
    else tx.del(keys.png);
    if (announce)
      tx.publish(resultsChannel(h.names.redisKeyPrefix), JSON.stringify({ pollId, version }));
    await tx.exec();
  };
}

// Versions as the publisher makes them, `<change>-<registry time, base 36>`: a registry time
// before the poll's creation would be an earlier poll's publication (not served), so these
// carry one an hour ahead.
const STAMP = (Date.now() + 3_600_000).toString(36);
const v = (tag: string) => `${tag}-${STAMP}`;

const pngOf = (version: string) => Buffer.from(`\x89PNG chart of ${version}`, "latin1");

/** The version a read of the JSON gets (its ETag, checked against the body's). */
async function servedVersion(h: IngestHarness, pollId: string): Promise<string> {
  const res = await request(h.app).get(`/v1/polls/${pollId}/results`).expect(200);
  assert.equal(res.headers.etag, `"${res.body.version}"`, "the ETag names the body's version");
  return res.body.version as string;
}

describe("results cache: announcements, reconnects, Redis gone (check interval pushed out)", () => {
  let redis: PrivateRedis;
  let h: IngestHarness;
  let write: ReturnType<typeof writer>;

  before(async () => {
    redis = await PrivateRedis.create();
    h = await startIngestHarness({ REDIS_URL: redis.url, RESULTS_CACHE_CHECK_MS: "600000" });
    write = writer(h);
    await createPoll(h.app, { id: "lunch" });
    await createPoll(h.app, { id: "chart" });
  });
  after(async () => {
    await h?.close();
    await redis?.destroy();
  });

  test("reads come from memory; an announcement replaces the copy", async () => {
    await write("lunch", { version: v("1a"), announce: false });
    assert.equal(await servedVersion(h, "lunch"), v("1a"));
    // Written without an announcement: this process keeps serving its copy...
    await write("lunch", { version: v("2a"), announce: false });
    assert.equal(await servedVersion(h, "lunch"), v("1a"));
    // ...until it is told.
    await write("lunch", { version: v("3a"), announce: true });
    await eventually("the announced version is served", async () =>
      (await servedVersion(h, "lunch")) === v("3a") ? true : undefined,
    );
    const res = await request(h.app)
      .get("/v1/polls/lunch/results")
      .set("If-None-Match", `"${v("3a")}"`);
    assert.equal(res.status, 304);
    assert.equal(res.headers.etag, `"${v("3a")}"`);
    const old = await request(h.app)
      .get("/v1/polls/lunch/results")
      .set("If-None-Match", `"${v("1a")}"`);
    assert.equal(old.status, 200);
    assert.equal(old.headers.etag, `"${v("3a")}"`);
    assert.equal(old.headers["content-length"], String(Buffer.byteLength(old.text)));
    assert.equal(old.headers["x-content-type-options"], "nosniff");
    assert.equal(old.headers["cache-control"], "public, max-age=5");
    // Through the route (a query string skips the hot path): the same answer.
    const routed = await request(h.app).get("/v1/polls/lunch/results?via=route").expect(200);
    assert.equal(routed.headers.etag, old.headers.etag);
    assert.equal(routed.text, old.text);
    assert.equal(routed.headers["content-type"], old.headers["content-type"]);
    assert.equal(routed.headers["x-content-type-options"], "nosniff");
    // Both paths are counted under the route's label.
    const served = metricSample(await h.metrics(), "tallyflow_http_requests_total", {
      route: "/v1/polls/:pollId/results",
      status: "200",
    });
    assert.ok(served !== undefined && served >= 4, `200s counted: ${served}`);
  });

  test("the subscriber reconnecting compares every cached version with Redis", async () => {
    await write("lunch", { version: v("4a"), announce: false });
    assert.equal(await servedVersion(h, "lunch"), v("3a"));
    // Cut the API's subscriber (announcements sent meanwhile would be lost).
    await redis.command(["CLIENT", "KILL", "TYPE", "pubsub"]);
    await eventually("the version missed is served after the reconnect", async () =>
      (await servedVersion(h, "lunch")) === v("4a") ? true : undefined,
    );
  });

  test("a PNG is always of the version its ETag names, and of the JSON served with it", async () => {
    await write("chart", { version: v("1c"), png: pngOf(v("1c")), announce: false });
    assert.equal(await servedVersion(h, "chart"), v("1c"));
    // The JSON copy holds no PNG yet. Redis moves on silently: the PNG read fetches version,
    // JSON and PNG together, and the JSON follows it to that version.
    await write("chart", { version: v("2c"), png: pngOf(v("2c")), announce: false });
    const png = await request(h.app).get("/v1/polls/chart/results.png").expect(200);
    assert.equal(png.headers["content-type"], "image/png");
    assert.equal(png.headers.etag, `"${v("2c")}"`);
    assert.deepEqual(png.body, pngOf(v("2c")));
    assert.equal(await servedVersion(h, "chart"), v("2c"));
    // A version without a chart: 503 chart_unavailable, never the previous chart.
    await write("chart", { version: v("3c"), announce: true });
    await eventually("the version without a chart", async () =>
      (await servedVersion(h, "chart")) === v("3c") ? true : undefined,
    );
    expectError(await request(h.app).get("/v1/polls/chart/results.png"), 503, "chart_unavailable");
    // A later run renders that same version at last: its chart is served, unannounced.
    await write("chart", { version: v("3c"), png: pngOf(v("3c")), announce: false });
    const healed = await request(h.app).get("/v1/polls/chart/results.png").expect(200);
    assert.equal(healed.headers.etag, `"${v("3c")}"`);
    assert.deepEqual(healed.body, pngOf(v("3c")));
    await write("chart", { version: v("4c"), png: pngOf(v("4c")), announce: true });
    await eventually("the new chart", async () => {
      const res = await request(h.app).get("/v1/polls/chart/results.png");
      return res.status === 200 ? res : undefined;
    }).then((res) => {
      assert.equal(res.headers.etag, `"${v("4c")}"`);
      assert.deepEqual(res.body, pngOf(v("4c")));
    });
    const cached = await request(h.app)
      .get("/v1/polls/chart/results.png")
      .set("If-None-Match", `"${v("4c")}"`);
    assert.equal(cached.status, 304);
  });

  test("a poll turned after_close is hidden at once, its cached counts never served", async () => {
    await createPoll(h.app, { id: "secret" });
    await write("secret", { version: v("1s"), png: pngOf(v("1s")), announce: false });
    await request(h.app).get("/v1/polls/secret/results").expect(200);
    await request(h.app).get("/v1/polls/secret/results.png").expect(200);
    await request(h.app)
      .patch("/v1/polls/secret")
      .set(ADMIN)
      .send({ resultsVisibility: "after_close", closesAt: isoFromNow(minutes(60)) })
      .expect(200);
    for (const path of ["/v1/polls/secret/results", "/v1/polls/secret/results.png"]) {
      const res = await request(h.app)
        .get(path)
        .set("If-None-Match", `"${v("1s")}"`);
      expectError(res, 403, "results_hidden");
      assert.equal(res.headers.etag, undefined, path);
      assert.doesNotMatch(res.text, /count/, path);
    }
  });

  test("one fetch per poll and version per process, however many read it", async () => {
    await createPoll(h.app, { id: "fresh" });
    await write("fresh", { version: v("1f"), announce: false });
    const before = h.results.fetches;
    const reads = await Promise.all(
      Array.from({ length: 20 }, () => request(h.app).get("/v1/polls/fresh/results")),
    );
    assert.deepEqual(
      new Set(reads.map((r) => `${r.status} ${r.headers.etag}`)),
      new Set([`200 "${v("1f")}"`]),
    );
    assert.equal(h.results.fetches, before + 1, "readers arriving during the fetch share it");
    await write("fresh", { version: v("2f"), announce: true });
    await eventually("the announced version", async () =>
      (await servedVersion(h, "fresh")) === v("2f") ? true : undefined,
    );
    await Promise.all(Array.from({ length: 20 }, () => servedVersion(h, "fresh")));
    assert.equal(h.results.fetches, before + 2, "the announcement cost one fetch");
    const metrics = await h.metrics();
    assert.equal(metricSample(metrics, "tallyflow_results_cache_fetches_total"), before + 2);
    assert.equal(metricSample(metrics, "tallyflow_results_cache_polls"), h.results.size);
  });

  test("Redis unreachable: once a check fails the copy is dropped and reads answer 503 redis_unavailable", async () => {
    assert.equal(await servedVersion(h, "lunch"), v("4a"));
    await redis.stop();
    await h.results.check(); // what the interval would do
    assert.equal(h.results.size, 0);
    const res = await request(h.app).get("/v1/polls/lunch/results");
    expectError(res, 503, "redis_unavailable");
    assert.equal(res.headers.etag, undefined);
    // Back, and empty: not published.
    await redis.start();
    await eventually(
      "Redis is back, empty",
      async () => {
        const again = await request(h.app).get("/v1/polls/lunch/results");
        return again.status === 503 && again.body.error.code === "results_not_ready"
          ? true
          : undefined;
      },
      { timeoutMs: 15_000 },
    );
  });
});

describe("results cache: the check interval (short)", () => {
  let h: IngestHarness;
  let write: ReturnType<typeof writer>;

  before(async () => {
    h = await startIngestHarness({ RESULTS_CACHE_CHECK_MS: "200", RESULTS_CACHE_MAX_POLLS: "2" });
    write = writer(h);
    await createPoll(h.app, { id: "lunch" });
  });
  after(() => h?.close());

  test("a missed announcement is caught up by the periodic check (RESULTS_CACHE_CHECK_MS)", async () => {
    await write("lunch", { version: v("1a"), announce: false });
    assert.equal(await servedVersion(h, "lunch"), v("1a"));
    await write("lunch", { version: v("2a"), announce: false });
    await eventually("the version written without an announcement is served", async () =>
      (await servedVersion(h, "lunch")) === v("2a") ? true : undefined,
    );
  });

  test("at most RESULTS_CACHE_MAX_POLLS polls are kept, the least recently read dropped", async () => {
    for (const id of ["p1", "p2", "p3"]) {
      await createPoll(h.app, { id });
      await write(id, { version: v(`1${id}`), announce: false });
    }
    for (const id of ["p1", "p2", "p3", "p1"])
      assert.equal(await servedVersion(h, id), v(`1${id}`));
    assert.equal(h.results.size, 2);
    assert.ok(h.results.bytes > 0);
  });

  test("Redis emptied: the copy is dropped and reads answer 503 results_not_ready", async () => {
    assert.equal(await servedVersion(h, "lunch"), v("2a"));
    const keys = resultsKeys(h.names.redisKeyPrefix, "lunch");
    await h.redis.del([keys.version, keys.json, keys.png]);
    await eventually("503 results_not_ready", async () => {
      const res = await request(h.app).get("/v1/polls/lunch/results");
      if (res.status !== 503) return undefined;
      expectError(res, 503, "results_not_ready");
      assert.equal(res.headers.etag, undefined);
      return true;
    });
    const res = await request(h.app)
      .get("/v1/polls/lunch/results")
      .set("If-None-Match", `"${v("2a")}"`);
    expectError(res, 503, "results_not_ready");
  });
});

describe("results cache: hits under the per-address results limit", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness({ RATE_LIMIT_RESULTS_PER_S: "3" });
    await createPoll(h.app, { id: "lunch" });
    await writer(h)("lunch", { version: v("1a"), announce: false });
  });
  after(() => h?.close());

  test("a read answered from memory still counts against its address", async () => {
    // Within one second (the limit's window); a slow machine may straddle two windows,
    // which allows at most twice the budget: the sixth read of a burst is refused either way.
    const answers = [];
    for (let i = 0; i < 7; i++)
      answers.push((await request(h.app).get("/v1/polls/lunch/results")).status);
    assert.equal(answers[0], 200);
    assert.ok(answers.includes(429), `statuses: ${answers.join(" ")}`);
    assert.ok(h.results.fetches <= 1, "the hits came from memory");
  });
});
