import type { Express } from "express";
import { Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { type IngestConfig, readIngestConfig } from "../ingest-api/config.ts";
import { buildIngestApi, type IngestApi } from "../ingest-api/service.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { type TestNames, testNames } from "./names.ts";
import { deleteStreams } from "./streams.ts";

export const ADMIN_TOKEN = "test-admin-token-123";
export const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

export interface IngestHarness extends IngestApi {
  app: Express;
  names: TestNames;
  db: TestDatabase;
  config: IngestConfig;
  redis: RedisClient;
  /** The API's Prometheus text, as its metrics port serves it (off here: API_METRICS_PORT=0). */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Every request of a test file comes from one address, many from one kiosk, often in tight
 * loops: the rate limits are off here unless a test sets them (ingest-api/rate-limits.test.ts).
 */
export const RATE_LIMITS_OFF: Readonly<Record<string, string>> = Object.freeze({
  RATE_LIMIT_KIOSK_VOTES_PER_S: "0",
  RATE_LIMIT_KIOSK_BATCHES_PER_S: "0",
  RATE_LIMIT_RESULTS_PER_S: "0",
  RATE_LIMIT_SSE_CONNECTS_PER_S: "0",
  RATE_LIMIT_PAGES_PER_S: "0",
  RATE_LIMIT_READYZ_PER_S: "0",
  RATE_LIMIT_AUTH_FAILURES_PER_MIN: "0",
  RATE_LIMIT_PAIR_PER_MIN: "0",
  RATE_LIMIT_PAIR_FAILURES_PER_MIN: "0",
  RATE_LIMIT_COMPLETIONS_PER_MIN: "0",
});

/** The API's configuration for a test file's names and database, `env` on top. */
function harnessConfig(
  names: TestNames,
  databaseUrl: string,
  env: Record<string, string>,
): IngestConfig {
  return readIngestConfig({
    DATABASE_URL: databaseUrl,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    REDIS_KEY_PREFIX: names.redisKeyPrefix,
    ADMIN_TOKEN,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    // Test files run side by side: no fixed port. A test that scrapes over HTTP sets one.
    API_METRICS_PORT: "0",
    ...RATE_LIMITS_OFF,
    ...env,
  });
}

/** Where a harness runs when a test chooses (Redis users need the key prefix in advance). */
export interface HarnessOptions {
  names?: TestNames;
  /** The test's own Redis client (fixtures, cleanup), when not the API's REDIS_URL. */
  testRedisUrl?: string;
}

/** The ingest API wired to this test file's own database, stream and Redis prefix. */
export async function startIngestHarness(
  env: Record<string, string> = {},
  options: HarnessOptions = {},
): Promise<IngestHarness> {
  const names = options.names ?? testNames();
  const db = await createTestDatabase(names.database);
  const config = harnessConfig(names, db.url, env);
  const logger = createLogger(config.logLevel);
  const lifecycle = new Lifecycle(logger);
  const api = await buildIngestApi(config, logger, lifecycle);
  const redis = await connectRedis(options.testRedisUrl ?? config.redisUrl, logger, "test");
  return {
    ...api,
    names,
    db,
    config,
    redis,
    metrics: () => api.metricsRegistry.metrics(),
    async close() {
      await lifecycle.close(5_000);
      for await (const keys of redis.scanIterator({
        MATCH: `${names.redisKeyPrefix}*`,
        COUNT: 1000,
      }))
        if (keys.length > 0) await redis.unlink(keys);
      await redis.close();
      await deleteStreams(config.natsUrl, [names.streamName]).catch(() => {});
      await db.drop();
    },
  };
}

/**
 * A second API process on the first one's database, stream and Redis keys (as two
 * replicas behind a load balancer), with its own registry cache. `env` may point its
 * DATABASE_URL elsewhere (a TcpProxy, to hold its registry back). Closing it leaves the
 * shared state to the first.
 */
export async function startIngestReplica(
  first: IngestHarness,
  env: Record<string, string> = {},
): Promise<{ app: Express; close(): Promise<void> }> {
  const config = harnessConfig(first.names, first.db.url, env);
  const logger = createLogger(config.logLevel);
  const lifecycle = new Lifecycle(logger);
  const api = await buildIngestApi(config, logger, lifecycle);
  return { app: api.app, close: () => lifecycle.close(5_000) };
}
