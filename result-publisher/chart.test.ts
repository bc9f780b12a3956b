import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { crc32 } from "node:zlib";
import { createCanvas, loadImage } from "@napi-rs/canvas";
import request from "supertest";
import { CHART_DEMAND_THROTTLE_MS } from "../common/chart-demand.ts";
import { resultsKeys } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import { notifyRegistryRows } from "../ingest-api/registry/registry-changes.ts";
import { createPoll, expectError } from "../test-support/api.ts";
import { metricSample } from "../test-support/metrics-scrape.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The PNG's IHDR chunk (the first one, right after the signature), CRC checked. */
function ihdr(png: Buffer): { width: number; height: number; bitDepth: number; colorType: number } {
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE, "PNG signature");
  assert.equal(png.readUInt32BE(8), 13, "IHDR length");
  assert.equal(png.subarray(12, 16).toString("latin1"), "IHDR");
  assert.equal(png.readUInt32BE(29), crc32(png.subarray(12, 29)), "IHDR CRC");
  assert.equal(png.subarray(-8, -4).toString("latin1"), "IEND", "ends with IEND");
  return {
    width: png.readUInt32BE(16),
    height: png.readUInt32BE(20),
    bitDepth: png.readUInt8(24),
    colorType: png.readUInt8(25),
  };
}

/** Decodes the PNG and counts the pixels of one exact colour. */
async function pixelsOf(png: Buffer, [r, g, b]: [number, number, number]): Promise<number> {
  const image = await loadImage(png);
  const canvas = createCanvas(image.width, image.height);
  const ctx = canvas.getContext("2d");
  ctx.drawImage(image, 0, 0);
  const { data } = ctx.getImageData(0, 0, image.width, image.height);
  let n = 0;
  for (let i = 0; i < data.length; i += 4)
    if (data[i] === r && data[i + 1] === g && data[i + 2] === b) n++;
  return n;
}

// The chart's first two series colours (Okabe-Ito blue and orange).
const FIRST_OPTION: [number, number, number] = [0x00, 0x72, 0xb2];
const SECOND_OPTION: [number, number, number] = [0xe6, 0x9f, 0x00];

describe("result charts", () => {
  let p: ResultsPipeline;
  let stored = 0;
  const get = (path: string) => request(p.h.app).get(path);
  const pngKey = (pollId: string) => resultsKeys(p.h.names.redisKeyPrefix, pollId).png;
  const renderFailures = async () =>
    metricSample(
      await p.publisher.metrics.registry.metrics(),
      "tallyflow_publisher_render_failures_total",
    );
  const votes = async (list: [pollId: string, optionId: string][]) => {
    await p.voteBatch(list.map(([pollId, optionId]) => ({ pollId, optionId })));
    stored += list.length;
    await p.stored(stored);
  };

  before(async () => {
    p = await startResultsPipeline({ CHART_WIDTH: "800", CHART_HEIGHT: "600" });
    await createPoll(p.h.app, { id: "lunch", title: "Lunch" });
    await createPoll(p.h.app, { id: "zone", title: "Zone" });
  });
  after(() => p?.close());

  test("the PNG decodes as an 800×600 picture with the options' bars", async () => {
    await votes([
      ["lunch", "yes"],
      ["lunch", "yes"],
      ["lunch", "no"],
    ]);
    await p.publisher.run();
    const res = await get("/v1/polls/lunch/results.png").expect(200);
    assert.equal(res.headers["content-type"], "image/png");
    const png = res.body as Buffer;
    assert.deepEqual(ihdr(png), { width: 800, height: 600, bitDepth: 8, colorType: 6 });
    const image = await loadImage(png);
    assert.equal(image.width, 800);
    assert.equal(image.height, 600);
    // Both options have votes: both colours are drawn, the first one with a longer bar.
    const first = await pixelsOf(png, FIRST_OPTION);
    const second = await pixelsOf(png, SECOND_OPTION);
    assert.ok(second > 0, "the second option's bar is drawn");
    assert.ok(
      first > second,
      `the 2-vote bar (${first} px) outsizes the 1-vote bar (${second} px)`,
    );
    assert.deepEqual((await p.visible("lunch")).chart, { width: 800, height: 600 });
  });

  test("a failed render still publishes the JSON; the PNG is 503 until drawn", async () => {
    // Contract change: charts are drawn apart from the JSON (chart-renderer.ts), so a
    // failed render no longer makes the publisher republish the version; the PNG stays
    // absent, and the next read of it queues the chart again.
    await votes([
      ["zone", "yes"],
      ["zone", "no"],
      ["zone", "no"],
      ["lunch", "no"],
    ]);
    // A zone this Node's ICU does not know (written outside the API, which checks zones):
    // Chart.js's time labels throw. Not touching updated_at keeps the version as it is.
    await p.h.db.pool.query("update polls set time_zone = 'Mars/Olympus' where id = 'zone'");
    await notifyRegistryRows(p.h.db.pool, "polls", ["zone"]);
    const failuresBefore = (await renderFailures()) ?? 0;

    const first = await p.publisher.run();
    assert.deepEqual([...first.published].sort(), ["lunch", "zone"]);
    assert.equal(await renderFailures(), failuresBefore + 1);
    const zone = await p.visible("zone");
    assert.deepEqual(
      zone.options.map((o) => o.count),
      [1, 2],
    );
    assert.equal(await p.h.redis.exists(pngKey("zone")), 0, "no PNG of another version");
    const json = await get("/v1/polls/zone/results").expect(200);
    assert.equal(json.headers.etag, `"${zone.version}"`);
    const chart = await get("/v1/polls/zone/results.png");
    expectError(chart, 503, "chart_unavailable");
    assert.equal(chart.headers["retry-after"], "3");
    // No validator or freshness on the error: a cache that kept it would otherwise
    // revalidate it with 304 once the same version's chart exists.
    assert.equal(chart.headers.etag, undefined);
    assert.equal(chart.headers["cache-control"], undefined);
    // The other poll of the same run rendered.
    assert.deepEqual((await p.visible("lunch")).chart, { width: 800, height: 600 });
    await get("/v1/polls/lunch/results.png").expect(200);

    // A PNG lost (a renderer that died with the job, say): the next read queues it again,
    // and the same version gets its chart without a new publication.
    const lunch = await p.visible("lunch");
    await p.h.redis.del(pngKey("lunch"));
    // This API's in-process copy still holds that version's PNG and serves it (the same
    // version as the JSON): an API process without the copy (a new one) finds none.
    await get("/v1/polls/lunch/results.png").expect(200);
    p.h.results.forget("lunch");
    await new Promise((r) => setTimeout(r, CHART_DEMAND_THROTTLE_MS));
    expectError(await get("/v1/polls/lunch/results.png"), 503, "chart_unavailable");
    const png = await eventually(
      "the chart of the same version is drawn",
      async () => {
        const res = await get("/v1/polls/lunch/results.png");
        return res.status === 200 ? res : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200 },
    );
    assert.equal(png.headers.etag, `"${lunch.version}"`);
    assert.deepEqual(ihdr(png.body as Buffer).width, 800);
    assert.equal((await p.visible("lunch")).version, lunch.version);
    await get("/v1/polls/lunch/results.png").set("If-None-Match", `"${lunch.version}"`).expect(304);

    // The chart draws the published document, so the fixed zone shows with the registry
    // edit's new version.
    await p.h.db.pool.query(
      "update polls set time_zone = 'Europe/London', updated_at = now() where id = 'zone'",
    );
    await notifyRegistryRows(p.h.db.pool, "polls", ["zone"]);
    assert.deepEqual((await p.publisher.run()).published, ["zone"]);
    const fixed = await p.visible("zone");
    const fixedPng = await get("/v1/polls/zone/results.png").expect(200);
    assert.equal(fixedPng.headers.etag, `"${fixed.version}"`);
    assert.deepEqual((await p.publisher.run()).published, []);
  });
});
