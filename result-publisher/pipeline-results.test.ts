import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { createPoll, isoFromNow, minutes } from "../test-support/api.ts";
import { assertMatchesSql, BUCKET_MS } from "../test-support/results-checks.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";

const bucketOf = (iso: string) => Math.floor(Date.parse(iso) / BUCKET_MS) * BUCKET_MS;
const changeSeqOf = (version: string) => Number(version.split("-")[0]);

describe("results through the whole pipeline", () => {
  let p: ResultsPipeline;

  before(async () => {
    p = await startResultsPipeline();
    await createPoll(p.h.app, {
      id: "lunch",
      title: "Lunch",
      options: [
        { id: "pizza", label: "Pizza" },
        { id: "salad", label: "Salad" },
        { id: "soup", label: "Soup" },
      ],
    });
    await createPoll(p.h.app, { id: "color" });
  });
  after(() => p?.close());

  test("published totals and 10-minute buckets equal a direct count over votes", async () => {
    const at25 = isoFromNow(-minutes(25));
    const at50 = isoFromNow(-minutes(50));
    for (let i = 0; i < 4; i++) await p.vote("lunch", "pizza");
    for (let i = 0; i < 3; i++) await p.vote("lunch", "salad");
    await p.vote("lunch", "pizza", at25);
    await p.vote("lunch", "salad", at50);
    await p.voteBatch([
      { pollId: "lunch", optionId: "pizza", castAt: at25 },
      { pollId: "lunch", optionId: "pizza", castAt: at50 },
      { pollId: "color", optionId: "no" },
      { pollId: "color", optionId: "no" },
    ]);
    await p.stored(13);

    const summary = await p.publisher.run();
    assert.deepEqual([...summary.published].sort(), ["color", "lunch"]);

    const res = await request(p.h.app).get("/v1/polls/lunch/results").expect(200);
    assert.match(String(res.headers["content-type"]), /^application\/json/);
    const lunch = await p.visible("lunch");
    assert.deepEqual(res.body, lunch, "the API serves the document in Redis");

    // Exact values, counted by the test from what it sent...
    assert.equal(lunch.totalVotes, 11);
    assert.deepEqual(
      lunch.options.map((o) => [o.id, o.label, o.count]),
      [
        ["pizza", "Pizza", 7],
        ["salad", "Salad", 4],
        ["soup", "Soup", 0],
      ],
    );
    assert.deepEqual(
      lunch.options.map((o) => o.share),
      [7 / 11, 4 / 11, 0],
    );
    const start = bucketOf(at50);
    assert.equal(lunch.distribution.start, new Date(start).toISOString());
    const series = Object.fromEntries(lunch.distribution.series.map((s) => [s.optionId, s.counts]));
    const at = (iso: string) => (bucketOf(iso) - start) / BUCKET_MS;
    assert.equal(series.pizza?.[at(at50)], 1);
    assert.equal(series.pizza?.[at(at25)], 2);
    assert.equal(series.salad?.[at(at50)], 1);
    assert.ok(series.soup?.every((n) => n === 0));
    // ...and against SQL, bucket by bucket.
    await assertMatchesSql(p.h, lunch, ["pizza", "salad", "soup"]);

    const color = await p.visible("color");
    assert.deepEqual(
      color.options.map((o) => [o.id, o.count]),
      [
        ["yes", 0],
        ["no", 2],
      ],
    );
    await assertMatchesSql(p.h, color, ["yes", "no"]);

    assert.equal(lunch.pollId, "lunch");
    assert.equal(lunch.title, "Lunch");
    assert.equal(lunch.status, "open");
    assert.deepEqual(lunch.chart, { width: 800, height: 600 });
    assert.equal(res.headers.etag, `"${lunch.version}"`);
  });

  test("late votes land in their own bucket and bump the version", async () => {
    const before = await p.visible("lunch");
    const etag = `"${before.version}"`;
    const threeHours = isoFromNow(-minutes(180));
    const twoHours = isoFromNow(-minutes(125));
    await p.voteBatch([
      { pollId: "lunch", optionId: "pizza", castAt: threeHours },
      { pollId: "lunch", optionId: "pizza", castAt: threeHours },
      { pollId: "lunch", optionId: "soup", castAt: threeHours },
      { pollId: "lunch", optionId: "salad", castAt: twoHours },
      { pollId: "lunch", optionId: "salad", castAt: twoHours },
      { pollId: "lunch", optionId: "salad", castAt: twoHours },
    ]);
    await p.stored(19);

    const summary = await p.publisher.run();
    assert.deepEqual(summary.published, ["lunch"], "only the poll with new votes");
    const after = await p.visible("lunch");
    assert.notEqual(after.version, before.version);
    assert.ok(changeSeqOf(after.version) > changeSeqOf(before.version), after.version);
    assert.ok(Date.parse(after.asOf ?? "") >= Date.parse(before.asOf ?? ""));

    assert.equal(after.totalVotes, 17);
    assert.deepEqual(
      after.options.map((o) => o.count),
      [9, 7, 1],
    );
    const start = bucketOf(threeHours);
    assert.equal(after.distribution.start, new Date(start).toISOString());
    const series = Object.fromEntries(after.distribution.series.map((s) => [s.optionId, s.counts]));
    const three = (bucketOf(threeHours) - start) / BUCKET_MS;
    const two = (bucketOf(twoHours) - start) / BUCKET_MS;
    assert.equal(three, 0);
    assert.deepEqual(
      [series.pizza?.[three], series.salad?.[three], series.soup?.[three]],
      [2, 0, 1],
    );
    assert.deepEqual([series.pizza?.[two], series.salad?.[two], series.soup?.[two]], [0, 3, 0]);
    // The buckets published before are unchanged, only shifted by the earlier start.
    const offset = (Date.parse(before.distribution.start ?? "") - start) / BUCKET_MS;
    for (const s of before.distribution.series) {
      const now = after.distribution.series.find((n) => n.optionId === s.optionId)!;
      assert.deepEqual(now.counts.slice(offset, offset + s.counts.length), s.counts, s.optionId);
    }
    await assertMatchesSql(p.h, after, ["pizza", "salad", "soup"]);

    // The old ETag no longer matches: the client gets the new version.
    const res = await request(p.h.app)
      .get("/v1/polls/lunch/results")
      .set("If-None-Match", etag)
      .expect(200);
    assert.equal(res.headers.etag, `"${after.version}"`);
    assert.equal(res.body.totalVotes, 17);
  });
});
