import type { TestNames } from "./names.ts";

// The environment a service under test runs with, built from one test file's names, so
// that its writer, publisher and API share that file's database, stream and Redis prefix.

export const NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
export const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "silent";

export type EnvVars = Record<string, string>;

/** The writer's environment for one test file: its own names, small timings. */
export function writerEnv(names: TestNames, databaseUrl: string, extra: EnvVars = {}): EnvVars {
  return {
    DATABASE_URL: databaseUrl,
    NATS_URL,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    CONSUMER_NAME: names.consumerName,
    ACK_WAIT_MS: "2000",
    REDELIVERY_BACKOFF_MS: "1000",
    BATCH_LINGER_MS: "1000",
    RETRY_MIN_MS: "50",
    RETRY_MAX_MS: "500",
    WRITER_METRICS_PORT: "0",
    PG_POOL_SIZE: "4",
    SHUTDOWN_DEADLINE_MS: "10000",
    LOG_LEVEL,
    ...extra,
  };
}

/**
 * The writer's environment beside an ingest API (pipeline tests): the writer's own
 * defaults for acks and retries, a short linger so that votes are stored soon.
 */
export function pipelineWriterEnv(names: TestNames, databaseUrl: string, natsUrl: string): EnvVars {
  return {
    DATABASE_URL: databaseUrl,
    NATS_URL: natsUrl,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    CONSUMER_NAME: names.consumerName,
    WRITER_METRICS_PORT: "0",
    BATCH_LINGER_MS: "20",
    PG_POOL_SIZE: "2",
    SHUTDOWN_DEADLINE_MS: "5000",
    LOG_LEVEL,
  };
}

/** The publisher's environment for one test file: its database, its Redis prefix, an 800×600 chart. */
export function publisherEnv(names: TestNames, databaseUrl: string, extra: EnvVars = {}): EnvVars {
  return {
    DATABASE_URL: databaseUrl,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    REDIS_KEY_PREFIX: names.redisKeyPrefix,
    RESULTS_INTERVAL_MS: "1000",
    // Every changed poll's chart, so that a test reads the PNG of a run without reading it
    // first through the API (demand-driven rendering has its own tests).
    CHART_RENDER: "all",
    CHART_WIDTH: "800",
    CHART_HEIGHT: "600",
    PUBLISHER_METRICS_PORT: "0",
    SHUTDOWN_DEADLINE_MS: "5000",
    LOG_LEVEL,
    ...extra,
  };
}
