import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { queueChartJob } from "../common/chart-job-queue.ts";
import { createLogger } from "../common/logger.ts";
import { closeRedis, connectRedis, type RedisClient } from "../common/redis.ts";
import { resultsKeys } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import { sampleResults } from "../test-support/chart-results.ts";
import { testNames } from "../test-support/names.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { ChartRenderer } from "./chart-renderer.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

// A chart loop waits on its own connection in a blocking take (BZPOPMIN), so no PING can
// tell a silent connection from a quiet queue. A take unanswered past its wait and a margin
// marks the connection silent: it is replaced, and queued charts are drawn again.

describe("the chart renderer over a black-holed connection", () => {
  const prefix = testNames().redisKeyPrefix;
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  let proxy: TcpProxy;
  let direct: RedisClient;
  let main: RedisClient;
  let renderer: ChartRenderer | undefined;

  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    direct = await connectRedis("redis://127.0.0.1:6379", logger, "chart-liveness-direct");
    // The drawing's own reads go through the proxy too, watched as every service client is.
    main = await connectRedis(`redis://127.0.0.1:${proxy.port}`, logger, "chart-liveness", {
      pingIntervalMs: 200,
      pingTimeoutMs: 500,
      keepAliveMs: 1_000,
      commandTimeoutMs: 5_000,
    });
  });
  after(async () => {
    await renderer?.close();
    main?.destroy();
    for await (const keys of direct.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await direct.unlink(keys);
    await closeRedis(direct);
    await proxy?.down();
  });

  test("a chart demanded after the freeze is drawn once the blocking connection is replaced", async () => {
    renderer = await ChartRenderer.start({
      redis: main,
      keyPrefix: prefix,
      chartWidth: 400,
      chartHeight: 300,
      workers: 1,
      logger,
      metrics: createPublisherMetrics(),
      silentAfterMs: 500,
      renderTimeoutMs: 20_000,
    });
    const results = sampleResults("silent", "Silent");
    const keys = resultsKeys(prefix, "silent");
    await direct.mSet([
      [keys.json, JSON.stringify(results)],
      [keys.version, results.version],
    ]);
    const connections = proxy.connections;
    proxy.freeze();
    // Redis still serves the take that was waiting on the silent connection: the job it
    // pops is lost with its answer, and a reader's next demand queues it again, as here.
    await eventually("a chart queued after the freeze is drawn", async () => {
      if ((await direct.exists(keys.png)) === 1) return true;
      const tx = direct.multi();
      queueChartJob(tx, prefix, "silent", Date.now());
      await tx.exec();
      return undefined;
    });
    assert.ok(proxy.connections > connections, "new connections were opened");
  });
});
