import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { queueChartJob } from "../common/chart-job-queue.ts";
import { createLogger } from "../common/logger.ts";
import { closeRedis, connectRedis, type RedisClient } from "../common/redis.ts";
import { chartJobsKey, resultsKeys } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import { sampleResults } from "../test-support/chart-results.ts";
import { testNames } from "../test-support/names.ts";
import { ChartRenderer } from "./chart-renderer.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

// A chart thread that never answers (a draw stuck in a loop, a native call that never
// returns) held its renderer's loop for ever: no other poll's chart was drawn by it again,
// and close() waited on it too. CHART_RENDER_TIMEOUT_MS ends the thread and fails that
// render (counted, logged); the loop goes on with a new thread.

/** Long enough for a new thread's start on a loaded 2-core box, short for the test. */
const RENDER_TIMEOUT_MS = 4_000;

describe("the chart renderer with a render that never returns", () => {
  const prefix = testNames().redisKeyPrefix;
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  const metrics = createPublisherMetrics();
  let redis: RedisClient;
  let renderer: ChartRenderer | undefined;

  before(async () => {
    redis = await connectRedis("redis://127.0.0.1:6379", logger, "chart-timeout-test");
    for (const [id, title] of [
      ["hang", "Hang"],
      ["ok", "OK"],
    ] as const) {
      const results = sampleResults(id, title);
      const keys = resultsKeys(prefix, id);
      await redis.mSet([
        [keys.json, JSON.stringify(results)],
        [keys.version, results.version],
      ]);
    }
  });
  after(async () => {
    await renderer?.close();
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.unlink(keys);
    await closeRedis(redis);
  });

  test("the stuck render fails after CHART_RENDER_TIMEOUT_MS and the next poll's chart is drawn by the same loop", async () => {
    const queue = async (pollId: string, at: number) => {
      const tx = redis.multi();
      queueChartJob(tx, prefix, pollId, at);
      await tx.exec();
    };
    // The stuck poll first, on the one loop there is: every later job waits behind it.
    await queue("hang", 1);
    await queue("ok", 2);
    renderer = await ChartRenderer.start({
      redis,
      keyPrefix: prefix,
      chartWidth: 400,
      chartHeight: 300,
      workers: 1,
      logger,
      metrics,
      silentAfterMs: 500,
      renderTimeoutMs: RENDER_TIMEOUT_MS,
      threadUrl: new URL("../test-support/hanging-chart-thread.ts", import.meta.url),
    });
    await eventually(
      "the poll queued behind the stuck one has its chart",
      async () => {
        if ((await redis.exists(resultsKeys(prefix, "ok").png)) === 1) return true;
        // A render of it that a slow thread start let time out too: its next read queues it.
        if ((await metrics.renderFailures.get()).values[0]!.value > 1) await queue("ok", 2);
        return undefined;
      },
      { intervalMs: 100 },
    );
    const failures = (await metrics.renderFailures.get()).values[0]!.value;
    assert.ok(failures >= 1, "the stuck render is counted as a failure");
    assert.equal(await redis.exists(resultsKeys(prefix, "hang").png), 0, "no PNG for it");
    // Its next demand queues it again (a new thread takes it); close() then waits for that
    // stuck render at most its timeout, where it waited for ever.
    await queue("hang", Date.now());
    await eventually(
      "the stuck poll is taken again",
      async () => (await redis.zCard(chartJobsKey(prefix))) === 0,
    );
    const closing = performance.now();
    await renderer.close();
    renderer = undefined;
    assert.ok(performance.now() - closing < RENDER_TIMEOUT_MS + 10_000, "close() returned");
  });
});
