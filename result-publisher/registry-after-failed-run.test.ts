import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import request from "supertest";
import { listenLiveness, readCommonConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { type PublishedResults, resultsKeys } from "../common/results-contract.ts";
import { PrivateRedis } from "../harness/private-redis.ts";
import { eventually } from "../harness/waiting.ts";
import { createPoll } from "../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "./config.ts";
import { ResultsPublisher } from "./publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";
import { RegistryWatch } from "./registry-watch.ts";

// A run that read its snapshot (taking the registry watch's "changed" mark and the
// registry's fingerprint) and then failed writing to Redis must leave the next run to read
// the registry again: otherwise an edit in between is published only at the resync, up to
// 5 minutes later, with the old title, labels, closing time or visibility meanwhile.

describe("the registry after a run that failed past its snapshot", () => {
  let h: IngestHarness;
  let redis: PrivateRedis;
  let client: RedisClient;
  let watch: RegistryWatch;
  let publisher: ResultsPublisher;
  const logger = createLogger("silent");

  const published = async (pollId: string): Promise<PublishedResults> => {
    const json = await client.get(resultsKeys(h.names.redisKeyPrefix, pollId).json);
    assert.ok(json, `${pollId} is published`);
    return JSON.parse(json) as PublishedResults;
  };
  /** Redis answers reads but refuses every write (NOREPLICAS) while `on`. */
  const refuseWrites = (on: boolean) =>
    redis.command(["CONFIG", "SET", "min-replicas-to-write", on ? "1" : "0"]);

  before(async () => {
    h = await startIngestHarness();
    redis = await PrivateRedis.create();
    client = await connectRedis(redis.url, logger, "test-publisher");
    watch = new RegistryWatch(h.db.url, logger, listenLiveness(readCommonConfig({})));
    publisher = new ResultsPublisher({
      pool: h.db.pool,
      redis: client,
      keyPrefix: h.names.redisKeyPrefix,
      chartWidth: 800,
      chartHeight: 600,
      distributionWindowHours: DEFAULT_DISTRIBUTION_WINDOW_HOURS,
      chartRender: "all",
      chartDemandTtlMs: 60_000,
      registry: watch,
      logger,
      metrics: createPublisherMetrics(),
    });
  });
  after(async () => {
    await watch?.close();
    await client?.close();
    await redis?.destroy();
    await h?.close();
  });

  test("an edit consumed by a failed run is published by the next one", async () => {
    await createPoll(h.app, { id: "edited", title: "Before" });
    assert.deepEqual((await publisher.run()).published, ["edited"]);
    assert.equal((await published("edited")).title, "Before");
    // The watch is listening: with nothing changed, a run reads no registry rows.
    await eventually("the registry watch is listening", () => !watch.takeStale());

    await request(h.app).patch("/v1/polls/edited").set(ADMIN).send({ title: "After" }).expect(200);
    await sleep(500); // its notification reaches the watch: the failing run takes the mark
    await refuseWrites(true);
    try {
      await assert.rejects(publisher.run(), /NOREPLICAS/);
    } finally {
      await refuseWrites(false);
    }

    const next = await publisher.run();
    assert.deepEqual(next.published, ["edited"]);
    assert.equal((await published("edited")).title, "After");
  });
});
