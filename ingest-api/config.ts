import { type CommonConfig, readCommonConfig } from "../common/config.ts";
import { type Env, readInt, readOptionalString, readString } from "../common/env.ts";
import { ConfigError } from "../common/errors.ts";

export const DEV_ADMIN_TOKEN = "dev-admin-token";

export interface IngestConfig extends CommonConfig {
  readonly port: number;
  readonly host: string;
  /** Bearer token for the registry API. A development default exists outside production. */
  readonly adminToken: string;
  readonly adminTokenIsDefault: boolean;
  /** How long to wait for JetStream's ack before answering 503. @defaultValue 2000 */
  readonly publishTimeoutMs: number;
  /** Retries of a publish that got no responders, a 503 or a timeout, within the timeout above. @defaultValue 3 */
  readonly publishRetries: number;
  /** Pause before the first retry (doubling after). @defaultValue 100 */
  readonly publishRetryDelayMs: number;
  /** Largest `POST /v1/votes` body. @defaultValue 16384 */
  readonly maxVoteBodyBytes: number;
  /** Largest `POST /v1/votes/batch` body. @defaultValue 1048576 */
  readonly maxBatchBodyBytes: number;
  /** Most votes in one batch. @defaultValue 1000 */
  readonly maxBatchItems: number;
  /** How far in the future a kiosk clock may be. @defaultValue 60000 */
  readonly castAtMaxSkewMs: number;
  /** Oldest castAt accepted (a kiosk whose clock reset to 1970 is refused). @defaultValue 2592000000 (30 days) */
  readonly castAtMaxAgeMs: number;
  /** After a poll closes, votes cast before the close are still taken this long. @defaultValue 3600000 */
  readonly lateVoteGraceMs: number;
  /** Full registry reload interval (NOTIFY makes changes visible sooner). @defaultValue 5000 */
  readonly registryRefreshMs: number;
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
    port: readInt(env, "PORT", 3000, { min: 0, max: 65535 }),
    host: readString(env, "HOST", "0.0.0.0"),
    adminToken: adminToken ?? DEV_ADMIN_TOKEN,
    adminTokenIsDefault: adminToken === undefined,
    publishTimeoutMs: readInt(env, "PUBLISH_TIMEOUT_MS", 2_000, { min: 100 }),
    publishRetries: readInt(env, "PUBLISH_RETRIES", 3, { min: 0, max: 10 }),
    publishRetryDelayMs: readInt(env, "PUBLISH_RETRY_DELAY_MS", 100, { min: 10, max: 5_000 }),
    maxVoteBodyBytes: readInt(env, "MAX_VOTE_BODY_BYTES", 16_384, { min: 1_024 }),
    maxBatchBodyBytes: readInt(env, "MAX_BATCH_BODY_BYTES", 1_048_576, { min: 1_024 }),
    maxBatchItems: readInt(env, "MAX_BATCH_ITEMS", 1_000, { min: 1, max: 10_000 }),
    castAtMaxSkewMs: readInt(env, "CAST_AT_MAX_SKEW_MS", 60_000, { min: 0 }),
    castAtMaxAgeMs: readInt(env, "CAST_AT_MAX_AGE_MS", 2_592_000_000, { min: 60_000 }),
    lateVoteGraceMs: readInt(env, "LATE_VOTE_GRACE_MS", 3_600_000, { min: 0 }),
    registryRefreshMs: readInt(env, "REGISTRY_REFRESH_MS", 5_000, { min: 100 }),
    voterBucketBits: readInt(env, "VOTER_BUCKET_BITS", 16, { min: 0, max: 24 }),
    voterRetentionMs: readInt(env, "VOTER_RETENTION_MS", 2_592_000_000, { min: 60_000 }),
    shutdownDeadlineMs: readInt(env, "SHUTDOWN_DEADLINE_MS", 10_000, { min: 100 }),
  });
}
