import { type CommonConfig, readCommonConfig } from "../common/config.ts";
import { type Env, readInt, readOptionalString, readString } from "../common/env.ts";
import { ConfigError } from "../common/errors.ts";
import { type HttpExposureConfig, readHttpExposureConfig } from "./http-config.ts";
import { largestVoteMessageBytes } from "./vote-messages.ts";

export const DEV_ADMIN_TOKEN = "dev-admin-token";

export interface IngestConfig extends CommonConfig, HttpExposureConfig {
  readonly port: number;
  readonly host: string;
  /** Bearer token for the registry API. A development default exists outside production. */
  readonly adminToken: string;
  readonly adminTokenIsDefault: boolean;
  /** How long to wait for JetStream's ack before answering 503. @defaultValue 2000 */
  readonly publishTimeoutMs: number;
  /** Largest `POST /v1/votes` body. @defaultValue 16384 */
  readonly maxVoteBodyBytes: number;
  /** Largest `POST /v1/votes/batch` body. @defaultValue 1048576 */
  readonly maxBatchBodyBytes: number;
  /** Most votes in one batch. @defaultValue 1000 */
  readonly maxBatchItems: number;
  /**
   * Largest JetStream message the API publishes; a batch is split into messages under it.
   * 0 = the NATS server's max_payload less 4096 for headers. @defaultValue 0
   */
  readonly maxMessageBytes: number;
  /** How far in the future a kiosk clock may be. @defaultValue 60000 */
  readonly castAtMaxSkewMs: number;
  /** Oldest castAt accepted (a kiosk whose clock reset to 1970 is refused). @defaultValue 2592000000 (30 days) */
  readonly castAtMaxAgeMs: number;
  /** After a poll closes, votes cast before the close are still taken this long. @defaultValue 3600000 */
  readonly lateVoteGraceMs: number;
  /**
   * Full registry reload interval, the safety net: per-row NOTIFY applies each change at
   * once and a re-opened LISTEN reloads everything, so this only bounds a change made with
   * the triggers off. A full reload reads every poll (~200 ms at 10,000). @defaultValue 60000
   */
  readonly registryRefreshMs: number;
  /** How often the results cache compares its versions with Redis (missed announcements). @defaultValue 2000 */
  readonly resultsCacheCheckMs: number;
  /** Most polls whose current publication the API keeps in memory. @defaultValue 10000 */
  readonly resultsCacheMaxPolls: number;
  /** Most bytes (JSON and PNG) of publications kept in memory. @defaultValue 268435456 (256 MiB) */
  readonly resultsCacheMaxBytes: number;
  /** One-vote-per-voter hash buckets per poll: 2^bits. @defaultValue 16 */
  readonly voterBucketBits: number;
  /** Idle time after which a voter bucket expires from Redis. @defaultValue 2592000000 (30 days) */
  readonly voterRetentionMs: number;
  /** Graceful shutdown deadline. @defaultValue 10000 */
  readonly shutdownDeadlineMs: number;
}

export function readIngestConfig(env: Env = process.env): Readonly<IngestConfig> {
  const production = env.NODE_ENV === "production";
  const adminToken = readOptionalString(env, "ADMIN_TOKEN");
  if (production && (adminToken === undefined || adminToken === DEV_ADMIN_TOKEN))
    throw new ConfigError("ADMIN_TOKEN", "must be set to a secret when NODE_ENV=production");
  if (adminToken !== undefined && adminToken.length < 12)
    throw new ConfigError("ADMIN_TOKEN", "must be at least 12 characters");
  return Object.freeze({
    ...readCommonConfig(env),
    ...readHttpExposureConfig(env),
    port: readInt(env, "PORT", 3000, { min: 0, max: 65535 }),
    host: readString(env, "HOST", "0.0.0.0"),
    adminToken: adminToken ?? DEV_ADMIN_TOKEN,
    adminTokenIsDefault: adminToken === undefined,
    publishTimeoutMs: readInt(env, "PUBLISH_TIMEOUT_MS", 2_000, { min: 100 }),
    maxVoteBodyBytes: readInt(env, "MAX_VOTE_BODY_BYTES", 16_384, { min: 1_024 }),
    maxBatchBodyBytes: readInt(env, "MAX_BATCH_BODY_BYTES", 1_048_576, { min: 1_024 }),
    maxBatchItems: readInt(env, "MAX_BATCH_ITEMS", 1_000, { min: 1, max: 10_000 }),
    maxMessageBytes: readMaxMessageBytes(env),
    castAtMaxSkewMs: readInt(env, "CAST_AT_MAX_SKEW_MS", 60_000, { min: 0 }),
    castAtMaxAgeMs: readInt(env, "CAST_AT_MAX_AGE_MS", 2_592_000_000, { min: 60_000 }),
    lateVoteGraceMs: readInt(env, "LATE_VOTE_GRACE_MS", 3_600_000, { min: 0 }),
    registryRefreshMs: readInt(env, "REGISTRY_REFRESH_MS", 60_000, { min: 100 }),
    resultsCacheCheckMs: readInt(env, "RESULTS_CACHE_CHECK_MS", 2_000, { min: 100 }),
    resultsCacheMaxPolls: readInt(env, "RESULTS_CACHE_MAX_POLLS", 10_000, { min: 1 }),
    resultsCacheMaxBytes: readInt(env, "RESULTS_CACHE_MAX_BYTES", 268_435_456, { min: 1_048_576 }),
    voterBucketBits: readInt(env, "VOTER_BUCKET_BITS", 16, { min: 0, max: 24 }),
    voterRetentionMs: readInt(env, "VOTER_RETENTION_MS", 2_592_000_000, { min: 60_000 }),
    shutdownDeadlineMs: readInt(env, "SHUTDOWN_DEADLINE_MS", 10_000, { min: 100 }),
  });
}

/** 0 (derive from the server) or at least what one vote at its largest encodes to. */
function readMaxMessageBytes(env: Env): number {
  const value = readInt(env, "MAX_MESSAGE_BYTES", 0, { min: 0 });
  const floor = largestVoteMessageBytes();
  if (value !== 0 && value < floor)
    throw new ConfigError(
      "MAX_MESSAGE_BYTES",
      `must be 0 (derived from the NATS server) or at least ${floor} (one vote at its largest), got ${value}`,
    );
  return value;
}
