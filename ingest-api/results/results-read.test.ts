import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RESP_TYPES } from "redis";
import request from "supertest";
import { type HiddenResults, resultsKeys } from "../../common/results-contract.ts";
import { createPoll, expectError, isoFromNow, minutes } from "../../test-support/api.ts";
import { ADMIN } from "../../test-support/ingest.ts";
import { type ResultsPipeline, startResultsPipeline } from "../../test-support/results-pipeline.ts";
import { notifyRegistryRows } from "../registry/registry-changes.ts";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** supertest buffers image/png bodies as a Buffer. */
const pngOf = (res: request.Response) => {
  assert.ok(Buffer.isBuffer(res.body), "a binary body");
  return res.body as Buffer;
};

describe("results read API", () => {
  let p: ResultsPipeline;
  let stored = 0;
  const get = (path: string) => request(p.h.app).get(path);
  const storedPng = (pollId: string) =>
    p.h.redis
      .withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
      .get(resultsKeys(p.h.names.redisKeyPrefix, pollId).png);
  const votes = async (list: [pollId: string, optionId: string][]) => {
    await p.voteBatch(list.map(([pollId, optionId]) => ({ pollId, optionId })));
    stored += list.length;
    await p.stored(stored);
  };

  before(async () => {
    // RESULTS_INTERVAL_MS=3000: max-age and Retry-After are 3 seconds.
    p = await startResultsPipeline({ RESULTS_INTERVAL_MS: "3000" });
    await createPoll(p.h.app, { id: "lunch" });
  });
  after(() => p?.close());

  test("before the first publication: 503 results_not_ready with Retry-After", async () => {
    for (const path of ["/v1/polls/lunch/results", "/v1/polls/lunch/results.png"]) {
      const res = await get(path);
      expectError(res, 503, "results_not_ready");
      assert.equal(res.headers["retry-after"], "3", path);
      assert.equal(res.headers.etag, undefined, path);
    }
  });

  test("an unknown poll is 404 poll_not_found", async () => {
    for (const path of [
      "/v1/polls/nope/results",
      "/v1/polls/nope/results.png",
      "/v1/polls/not%20an%20id/results",
    ]) {
      expectError(await get(path), 404, "poll_not_found");
    }
  });

  test("JSON: ETag is the version, If-None-Match answers 304, Cache-Control max-age is the interval", async () => {
    await votes([
      ["lunch", "yes"],
      ["lunch", "yes"],
      ["lunch", "no"],
    ]);
    await p.publisher.run();
    const published = await p.visible("lunch");
    const etag = `"${published.version}"`;

    const res = await get("/v1/polls/lunch/results").expect(200);
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers["cache-control"], "public, max-age=3");
    assert.deepEqual(res.body, published);
    assert.deepEqual(
      res.body.options.map((o: { count: number }) => o.count),
      [2, 1],
    );

    for (const ifNoneMatch of [etag, `W/${etag}`, `"older", ${etag}`, "*"]) {
      const cached = await get("/v1/polls/lunch/results").set("If-None-Match", ifNoneMatch);
      assert.equal(cached.status, 304, `If-None-Match: ${ifNoneMatch}`);
      assert.equal(cached.text, "");
      assert.equal(cached.headers.etag, etag);
      assert.equal(cached.headers["cache-control"], "public, max-age=3");
    }
    const stale = await get("/v1/polls/lunch/results").set("If-None-Match", '"0-old"');
    assert.equal(stale.status, 200);
    assert.equal(stale.headers.etag, etag);
  });

  test("PNG: the chart of the same version, with the same ETag and 304", async () => {
    const published = await p.visible("lunch");
    const etag = `"${published.version}"`;
    const res = await get("/v1/polls/lunch/results.png").expect(200);
    assert.equal(res.headers["content-type"], "image/png");
    assert.equal(res.headers.etag, etag);
    assert.equal(res.headers["cache-control"], "public, max-age=3");
    const png = pngOf(res);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(png, await storedPng("lunch"), "the bytes stored in Redis");

    const cached = await get("/v1/polls/lunch/results.png").set("If-None-Match", etag);
    assert.equal(cached.status, 304);
    assert.equal(cached.headers.etag, etag);
    assert.equal(cached.headers["content-length"] ?? "0", "0");
  });

  test("a new publication: the old ETag gets the new version on both endpoints", async () => {
    const before = await p.visible("lunch");
    await votes([["lunch", "no"]]);
    await p.publisher.run();
    const after = await p.visible("lunch");
    assert.notEqual(after.version, before.version);
    for (const path of ["/v1/polls/lunch/results", "/v1/polls/lunch/results.png"]) {
      const res = await get(path).set("If-None-Match", `"${before.version}"`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.etag, `"${after.version}"`, path);
    }
    const res = await get("/v1/polls/lunch/results").expect(200);
    assert.deepEqual(
      res.body.options.map((o: { count: number }) => o.count),
      [2, 2],
    );
  });

  test("the ETag always names the version of the body it comes with, while publications land", async () => {
    // Readers on a real socket poll both endpoints while the publisher publishes 30 new
    // versions; each version has a title of its own, so its PNG differs from the others'.
    // Between a publication and the drawing of its chart the PNG is 503 chart_unavailable
    // (charts are drawn apart from the JSON since pubscale): never a PNG of another version.
    const base = await p.listen();
    await createPoll(p.h.app, { id: "busy", title: "Busy 0" });
    await p.publisher.run();
    const seen: { kind: "json" | "png"; etag: string | null; body: Buffer }[] = [];
    let stop = false;
    const reader = async (kind: "json" | "png") => {
      while (!stop) {
        const res = await fetch(`${base}/v1/polls/busy/results${kind === "png" ? ".png" : ""}`);
        const body = Buffer.from(await res.arrayBuffer());
        if (kind === "png" && res.status === 503) {
          assert.equal(JSON.parse(body.toString()).error.code, "chart_unavailable");
          continue;
        }
        assert.equal(res.status, 200, body.toString());
        seen.push({ kind, etag: res.headers.get("etag"), body });
      }
    };
    const pngs = new Map<string, Buffer>();
    const record = async () => {
      const [version, png] = await p.h.redis
        .withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer })
        .mGet([
          resultsKeys(p.h.names.redisKeyPrefix, "busy").version,
          resultsKeys(p.h.names.redisKeyPrefix, "busy").png,
        ]);
      assert.ok(version && png);
      pngs.set(version.toString(), png);
    };
    await record();
    const readers = ["json", "json", "png", "png"].map((k) => reader(k as "json" | "png"));
    try {
      for (let round = 1; round <= 30; round++) {
        await p.h.db.pool.query(
          "update polls set title = $1, updated_at = clock_timestamp() where id = 'busy'",
          [`Busy ${round}`],
        );
        await notifyRegistryRows(p.h.db.pool, "polls", ["busy"]);
        assert.deepEqual((await p.publisher.run()).published, ["busy"]);
        await record();
      }
    } finally {
      stop = true;
      await Promise.all(readers);
    }
    assert.equal(pngs.size, 31);
    assert.equal(new Set([...pngs.values()].map((b) => b.toString("base64"))).size, 31);
    const json = seen.filter((s) => s.kind === "json");
    const png = seen.filter((s) => s.kind === "png");
    assert.ok(json.length > 0 && png.length > 0);
    const wrongJson = json.filter(
      (s) => s.etag !== `"${(JSON.parse(s.body.toString()) as { version: string }).version}"`,
    );
    assert.equal(wrongJson.length, 0, `${wrongJson.length} of ${json.length} JSON ETags`);
    const wrongPng = png.filter((s) => {
      const stored = pngs.get(s.etag?.slice(1, -1) ?? "");
      return stored === undefined || !stored.equals(s.body);
    });
    assert.equal(wrongPng.length, 0, `${wrongPng.length} of ${png.length} PNG ETags`);
  });

  test("after_close results stay hidden until the poll closes, then show", async () => {
    const closesAt = isoFromNow(minutes(60));
    const hiddenPoll = {
      title: "Secret ballot",
      closesAt,
      resultsVisibility: "after_close",
    } as const;
    await createPoll(p.h.app, { id: "secret", ...hiddenPoll });
    await createPoll(p.h.app, { id: "secret-empty", ...hiddenPoll });
    await votes([
      ["secret", "yes"],
      ["secret", "yes"],
      ["secret", "no"],
    ]);
    const summary = await p.publisher.run();
    assert.deepEqual([...summary.published].sort(), ["secret", "secret-empty"]);

    const doc = (await p.published("secret")) as HiddenResults;
    assert.deepEqual(Object.keys(doc).sort(), [
      "asOf",
      "closesAt",
      "hidden",
      "message",
      "opensAt",
      "pollId",
      "publishedAt",
      "resultsVisibility",
      "status",
      "timeZone",
      "title",
      "version",
    ]);
    assert.equal(doc.hidden, true);
    assert.equal(doc.resultsVisibility, "after_close");
    assert.equal(doc.status, "open");
    assert.equal(doc.message, `Results are shown after the poll closes at ${closesAt}.`);
    for (const path of ["/v1/polls/secret/results", "/v1/polls/secret/results.png"]) {
      const res = await get(path);
      expectError(res, 403, "results_hidden");
      assert.equal(res.headers.etag, undefined);
    }

    // The placeholder shows no numbers: it is the very same picture as that of a poll with
    // the same title and close time and no votes at all.
    const placeholder = await storedPng("secret");
    assert.ok(placeholder, "a placeholder PNG is stored");
    assert.deepEqual(placeholder.subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(placeholder, await storedPng("secret-empty"));

    // Closing the poll (admin API) shows the counts at the next run.
    await request(p.h.app)
      .patch("/v1/polls/secret")
      .set(ADMIN)
      .send({ closesAt: isoFromNow(-minutes(1)) })
      .expect(200);
    const next = await p.publisher.run();
    assert.deepEqual(next.published, ["secret"]);
    const shown = await p.visible("secret");
    assert.notEqual(shown.version, doc.version);
    assert.equal(shown.status, "closed");
    assert.equal(shown.totalVotes, 3);
    const res = await get("/v1/polls/secret/results").expect(200);
    assert.equal(res.headers.etag, `"${shown.version}"`);
    assert.deepEqual(
      res.body.options.map((o: { id: string; count: number }) => [o.id, o.count]),
      [
        ["yes", 2],
        ["no", 1],
      ],
    );
    const png = await get("/v1/polls/secret/results.png").expect(200);
    assert.equal(png.headers.etag, `"${shown.version}"`);
    assert.notDeepEqual(pngOf(png), placeholder, "the real chart replaced the placeholder");
    // The other poll is still open: still hidden.
    expectError(await get("/v1/polls/secret-empty/results"), 403, "results_hidden");
  });
});
