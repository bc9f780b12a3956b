import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RESP_TYPES } from "redis";
import request from "supertest";
import { CHART_DEMAND_THROTTLE_MS } from "../common/chart-demand.ts";
import { chartJobsKey, type HiddenResults, resultsKeys } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import { createPoll, isoFromNow, minutes } from "../test-support/api.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { assertMatchesSql } from "../test-support/results-checks.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";
import { renderResultsPng } from "./chart.ts";
import { storePngIfCurrent } from "./chart-jobs.ts";

// Charts drawn apart from the JSON (CHART_RENDER=demand, the default): only for polls
// being read, by any publisher process, and never beside a JSON of another version.

const DAY_MS = 86_400_000;

describe("charts on demand, and the bounded distribution", () => {
  let p: ResultsPipeline;
  let standby: InProcessPublisher | undefined;
  const keys = (pollId: string) => resultsKeys(p.h.names.redisKeyPrefix, pollId);
  const binary = () => p.h.redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  const get = (path: string) => request(p.h.app).get(path);
  let stored = 0;
  const votes = async (list: { pollId: string; optionId: string; castAt?: string }[]) => {
    await p.voteBatch(list);
    stored += list.length;
    await p.stored(stored);
  };
  const metric = async (pub: InProcessPublisher, name: string) =>
    (await pub.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? 0;
  const pngReadable = (pollId: string) =>
    eventually(
      `the chart of ${pollId} is served`,
      async () => {
        const res = await get(`/v1/polls/${pollId}/results.png`);
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 20_000, intervalMs: CHART_DEMAND_THROTTLE_MS / 4 },
    );

  before(async () => {
    // The leader draws no charts (CHART_WORKERS=0): every PNG here comes from the standby.
    p = await startResultsPipeline({
      CHART_RENDER: "demand",
      CHART_WORKERS: "0",
      DISTRIBUTION_WINDOW_HOURS: "2",
    });
    standby = await startPublisherInProcess({ ...p.publisherEnv, CHART_WORKERS: "1" });
    assert.equal(await standby.firstRun, undefined, "the second publisher is a standby");
    await createPoll(p.h.app, { id: "read" });
    await createPoll(p.h.app, { id: "unread" });
  });
  after(async () => {
    await standby?.close();
    await p?.close();
  });

  test("an unread poll gets no chart; a read one is drawn by the standby, and again after each change", async () => {
    await votes([
      { pollId: "read", optionId: "yes" },
      { pollId: "unread", optionId: "no" },
    ]);
    const first = await p.publisher.run();
    assert.deepEqual([...first.published].sort(), ["read", "unread"]);
    assert.deepEqual(first.chartsQueued, [], "nobody read a chart yet");
    assert.equal(await p.h.redis.exists([keys("read").png, keys("unread").png]), 0);
    assert.equal(await p.h.redis.zCard(chartJobsKey(p.h.names.redisKeyPrefix)), 0);

    // The first read finds no PNG (503) and queues it: the standby draws it at once.
    const drawnBefore = await metric(standby!, "tallyflow_publisher_charts_stored_total");
    const miss = await get("/v1/polls/read/results.png");
    assert.equal(miss.status, 503);
    assert.equal(miss.body.error.code, "chart_unavailable");
    const version = (await p.visible("read")).version;
    const png = await pngReadable("read");
    assert.equal(png.headers.etag, `"${version}"`);
    assert.equal(
      await metric(standby!, "tallyflow_publisher_charts_stored_total"),
      drawnBefore + 1,
    );

    // A new vote on both: the leader queues the read poll's chart with its publication.
    await votes([
      { pollId: "read", optionId: "no" },
      { pollId: "unread", optionId: "yes" },
    ]);
    const second = await p.publisher.run();
    assert.deepEqual([...second.published].sort(), ["read", "unread"]);
    assert.deepEqual(second.chartsQueued, ["read"]);
    await standby!.chartsDrawn();
    const next = (await p.visible("read")).version;
    assert.notEqual(next, version);
    const [v, pngNow] = await binary().mGet([keys("read").version, keys("read").png]);
    assert.equal(v?.toString(), next);
    assert.ok(pngNow, "the new version's chart, drawn without another read");
    assert.equal(await p.h.redis.exists(keys("unread").png), 0, "still nobody reads it");
  });

  test("a render of version V finishing after V+1 was published is refused (never a PNG of another version)", async () => {
    const old = await p.visible("read");
    const oldPng = await renderResultsPng(old, 800, 600);
    await votes([{ pollId: "read", optionId: "yes" }]);
    await p.publisher.run();
    const current = (await p.visible("read")).version;
    assert.notEqual(current, old.version);
    // The renderer's write of V, landing after V+1's MULTI: refused.
    const stored = await storePngIfCurrent(
      p.h.redis,
      p.h.names.redisKeyPrefix,
      "read",
      old.version,
      oldPng,
    );
    assert.equal(stored, false);
    const [v, png] = await binary().mGet([keys("read").version, keys("read").png]);
    assert.equal(v?.toString(), current);
    assert.ok(!png?.equals(oldPng), "no PNG of the older version");
    // And a write for the current version is taken.
    assert.equal(
      await storePngIfCurrent(p.h.redis, p.h.names.redisKeyPrefix, "read", current, oldPng),
      true,
    );
    // The next publication deletes it with the same MULTI that changes the version.
    await votes([{ pollId: "read", optionId: "no" }]);
    await p.publisher.run();
    const after = await binary().mGet([keys("read").version, keys("read").png]);
    assert.notEqual(after[0]?.toString(), current);
    assert.ok(!after[1]?.equals(oldPng), "the PNG went with the version it was drawn for");
    await standby!.chartsDrawn();
  });

  test("a back-dated vote does not grow the distribution beyond the window; totals stay exact", async () => {
    await createPoll(p.h.app, { id: "history" });
    const now = Date.now();
    await votes([
      { pollId: "history", optionId: "yes", castAt: new Date(now - 29 * DAY_MS).toISOString() },
      { pollId: "history", optionId: "no", castAt: new Date(now - 3 * 3_600_000).toISOString() },
      { pollId: "history", optionId: "yes" },
      { pollId: "history", optionId: "no" },
    ]);
    await p.publisher.run();
    const doc = await p.visible("history");
    assert.equal(doc.distribution.windowHours, 2);
    assert.ok(doc.distribution.buckets <= 2 * 6, `${doc.distribution.buckets} buckets`);
    assert.equal(doc.totalVotes, 4);
    assert.deepEqual(
      doc.options.map((o) => [o.id, o.count]),
      [
        ["yes", 2],
        ["no", 2],
      ],
    );
    assert.deepEqual(
      doc.distribution.series.map((s) => [s.optionId, s.before, s.counts.reduce((a, b) => a + b)]),
      [
        ["yes", 1, 1],
        ["no", 1, 1],
      ],
      "the 29-day and 3-hour old votes are before the window, counted in `before`",
    );
    // Inside the window the buckets are exact: the SQL check on a poll within the window.
    await createPoll(p.h.app, { id: "recent" });
    await votes([
      { pollId: "recent", optionId: "yes", castAt: new Date(now - 50 * 60_000).toISOString() },
      { pollId: "recent", optionId: "no" },
    ]);
    await p.publisher.run();
    await assertMatchesSql(p.h, await p.visible("recent"), ["yes", "no"]);
  });

  test("a hidden poll: the placeholder is drawn from its document alone, no counts anywhere", async () => {
    await createPoll(p.h.app, {
      id: "secret",
      closesAt: isoFromNow(minutes(60)),
      resultsVisibility: "after_close",
    });
    await votes([
      { pollId: "secret", optionId: "yes" },
      { pollId: "secret", optionId: "yes" },
    ]);
    await p.publisher.run();
    const doc = (await p.published("secret")) as HiddenResults;
    assert.equal(doc.hidden, true);
    assert.equal("totalVotes" in doc || "options" in doc || "distribution" in doc, false);
    // A kiosk reading Redis directly gets a placeholder once a job for it runs.
    await p.h.redis.zAdd(chartJobsKey(p.h.names.redisKeyPrefix), { value: "secret", score: 0 });
    await standby!.chartsDrawn();
    const png = await binary().get(keys("secret").png);
    assert.ok(png, "the placeholder PNG");
    assert.ok(png.equals(await renderResultsPng(doc, 800, 600)), "drawn from the hidden document");
    const res = await get("/v1/polls/secret/results.png");
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "results_hidden");
  });

  test("an idle run reads no registry and no rollups; a change reads only its own rows", async () => {
    const reloads = () => metric(p.publisher, "tallyflow_publisher_registry_reloads_total");
    const rows = () => metric(p.publisher, "tallyflow_publisher_rollup_rows_read_total");
    await p.publisher.run();
    const [reloads0, rows0] = [await reloads(), await rows()];
    const idle = await p.publisher.run();
    assert.deepEqual(idle.published, []);
    assert.equal(await reloads(), reloads0, "no registry read");
    assert.equal(await rows(), rows0, "no rollup read");

    await votes([{ pollId: "unread", optionId: "yes" }]);
    const one = await p.publisher.run();
    assert.deepEqual(one.published, ["unread"]);
    assert.equal(await reloads(), reloads0, "a vote is no registry change");
    assert.equal(await rows(), rows0 + 1, "the one bucket the vote touched");

    // A registry edit is read (at once: the fingerprint, not only the notification).
    await request(p.h.app)
      .patch("/v1/polls/unread")
      .set(ADMIN)
      .send({ title: "Renamed" })
      .expect(200);
    const edited = await p.publisher.run();
    assert.deepEqual(edited.published, ["unread"]);
    assert.equal((await p.visible("unread")).title, "Renamed");
    assert.equal(await reloads(), reloads0 + 1);
  });
});
