import { type Env, readEnum, readInt, readName, readString, readUrl, readUrlList } from "./env.ts";
import type { ListenLiveness } from "./postgres.ts";
import type { RedisLiveness } from "./redis.ts";

// Settings every service shares: where the three dependencies are and how the stream,
// subjects and Redis keys are named (tests give each file its own names).

/** How often results are published, and so how often a poll's version can change. */
export const DEFAULT_RESULTS_INTERVAL_MS = 5_000;

export interface CommonConfig {
  /** @defaultValue postgres://postgres@127.0.0.1:5432/tallyflow */
  readonly databaseUrl: string;
  /** Comma-separated seed servers. @defaultValue nats://127.0.0.1:4222 */
  readonly natsUrl: string;
  /** @defaultValue redis://127.0.0.1:6379 */
  readonly redisUrl: string;
  /** JetStream stream holding votes. @defaultValue VOTES */
  readonly streamName: string;
  /** Votes are published on `<subjectPrefix>.<pollId>`. @defaultValue votes */
  readonly subjectPrefix: string;
  /** Prefix of every Redis key this system writes. @defaultValue tallyflow: */
  readonly redisKeyPrefix: string;
  readonly logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Postgres pool size per process. @defaultValue 10 */
  readonly pgPoolSize: number;
  /** Longest wait for one query's answer on a pool's connection; past it the connection is dropped. @defaultValue 60000 */
  readonly pgQueryTimeoutMs: number;
  /** Idle time before TCP keepalive probes start on every Postgres connection. @defaultValue 10000 */
  readonly pgKeepAliveMs: number;
  /** How often a dedicated connection (LISTEN) is checked with `select 1`. @defaultValue 10000 */
  readonly pgListenCheckMs: number;
  /** A check not answered within this ends the connection, and it is opened again. @defaultValue 5000 */
  readonly pgListenCheckTimeoutMs: number;
  /** How often each Redis connection is PINGed. @defaultValue 5000 */
  readonly redisPingIntervalMs: number;
  /** A PING not answered within this replaces the connection. @defaultValue 5000 */
  readonly redisPingTimeoutMs: number;
  readonly redisCommandTimeoutMs: number;
  /** Idle time before TCP keepalive probes start on each Redis connection. @defaultValue 10000 */
  readonly redisKeepAliveMs: number;
  /** JetStream duplicate window (at least 10 minutes). @defaultValue 600000 */
  readonly duplicateWindowMs: number;
  /** Stream size limit; 0 = unlimited. A full stream refuses votes with 503. @defaultValue 0 */
  readonly streamMaxBytes: number;
  /** How often results are refreshed; also the read API's Cache-Control max-age. @defaultValue 5000 */
  readonly resultsIntervalMs: number;
  /** At start, how long to keep trying NATS while no server answers yet. @defaultValue 30000 */
  readonly natsConnectWaitMs: number;
  /** Copies of each stream in a JetStream cluster (3 survives a node loss). @defaultValue 1 */
  readonly streamReplicas: number;
  /** Least time between two re-provisionings of a missing stream or consumer. @defaultValue 1000 */
  readonly jetstreamHealIntervalMs: number;
  /**
   * Attendance day documents are kept for the school's last this many local days, today
   * included: the publisher publishes them (and lets older ones expire), the API serves them.
   * @defaultValue 7
   */
  readonly attendanceDaysKept: number;
}

/** The votes stream as configured: migrate applies it; the API and the writer check it (and create it when missing). */
export function votesStreamOptions(c: CommonConfig) {
  return {
    streamName: c.streamName,
    subjectPrefix: c.subjectPrefix,
    duplicateWindowMs: c.duplicateWindowMs,
    maxBytes: c.streamMaxBytes,
    replicas: c.streamReplicas,
  };
}

/** How every Redis connection of a service finds out that Redis stopped answering. */
export function redisLiveness(c: CommonConfig): RedisLiveness {
  return {
    pingIntervalMs: c.redisPingIntervalMs,
    pingTimeoutMs: c.redisPingTimeoutMs,
    keepAliveMs: c.redisKeepAliveMs,
    commandTimeoutMs: c.redisCommandTimeoutMs,
  };
}

/** How every dedicated Postgres connection (LISTEN) of a service finds out that Postgres stopped answering. */
export function listenLiveness(c: CommonConfig): ListenLiveness {
  return {
    checkIntervalMs: c.pgListenCheckMs,
    checkTimeoutMs: c.pgListenCheckTimeoutMs,
    keepAliveMs: c.pgKeepAliveMs,
  };
}

export function readCommonConfig(env: Env): CommonConfig {
  return {
    databaseUrl: readUrl(env, "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/tallyflow", [
      "postgres:",
      "postgresql:",
    ]),
    // One or more seed servers, comma-separated (connectNats splits them).
    natsUrl: readUrlList(env, "NATS_URL", "nats://127.0.0.1:4222", ["nats:", "tls:"]),
    redisUrl: readUrl(env, "REDIS_URL", "redis://127.0.0.1:6379", ["redis:", "rediss:"]),
    streamName: readName(env, "STREAM_NAME", "VOTES"),
    subjectPrefix: readName(env, "SUBJECT_PREFIX", "votes"),
    redisKeyPrefix: readString(env, "REDIS_KEY_PREFIX", "tallyflow:"),
    logLevel: readEnum(
      env,
      "LOG_LEVEL",
      ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const,
      "info",
    ),
    pgPoolSize: readInt(env, "PG_POOL_SIZE", 10, { min: 1, max: 200 }),
    pgQueryTimeoutMs: readInt(env, "PG_QUERY_TIMEOUT_MS", 60_000, { min: 100, max: 3_600_000 }),
    pgKeepAliveMs: readInt(env, "PG_KEEPALIVE_MS", 10_000, { min: 1_000, max: 3_600_000 }),
    pgListenCheckMs: readInt(env, "PG_LISTEN_CHECK_MS", 10_000, { min: 100, max: 3_600_000 }),
    pgListenCheckTimeoutMs: readInt(env, "PG_LISTEN_CHECK_TIMEOUT_MS", 5_000, {
      min: 100,
      max: 3_600_000,
    }),
    redisPingIntervalMs: readInt(env, "REDIS_PING_INTERVAL_MS", 5_000, {
      min: 100,
      max: 3_600_000,
    }),
    redisPingTimeoutMs: readInt(env, "REDIS_PING_TIMEOUT_MS", 5_000, { min: 100, max: 3_600_000 }),
    redisCommandTimeoutMs: readInt(env, "REDIS_COMMAND_TIMEOUT_MS", 5_000, {
      min: 100,
      max: 3_600_000,
    }),
    redisKeepAliveMs: readInt(env, "REDIS_KEEPALIVE_MS", 10_000, { min: 1_000, max: 3_600_000 }),
    duplicateWindowMs: readInt(env, "DUPLICATE_WINDOW_MS", 600_000, { min: 600_000 }),
    streamMaxBytes: readInt(env, "STREAM_MAX_BYTES", 0, { min: 0 }),
    resultsIntervalMs: readInt(env, "RESULTS_INTERVAL_MS", DEFAULT_RESULTS_INTERVAL_MS, {
      min: 1_000,
      max: 3_600_000,
    }),
    natsConnectWaitMs: readInt(env, "NATS_CONNECT_WAIT_MS", 30_000, { min: 0, max: 3_600_000 }),
    // JetStream allows at most 5 replicas; more than the cluster has servers fails at start.
    streamReplicas: readInt(env, "STREAM_REPLICAS", 1, { min: 1, max: 5 }),
    jetstreamHealIntervalMs: readInt(env, "JETSTREAM_HEAL_INTERVAL_MS", 1_000, {
      min: 100,
      max: 60_000,
    }),
    // At least today; at most two months of documents (each a school's whole roster).
    attendanceDaysKept: readInt(env, "ATTENDANCE_DAYS_KEPT", 7, { min: 1, max: 62 }),
  };
}
