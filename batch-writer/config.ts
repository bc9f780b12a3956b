import { type CommonConfig, readCommonConfig } from "../common/config.ts";
import {
  type Env,
  readHost,
  readInt,
  readName,
  readOptionalString,
  readString,
} from "../common/env.ts";
import { ConfigError } from "../common/errors.ts";
import { type NatsAuth, type NatsRole, readNatsAuth } from "../common/nats-auth.ts";

export interface WriterConfig extends CommonConfig {
  /**
   * Who connects to NATS: the writers' user (NATS_WRITER_*), or the migration's
   * (NATS_MIGRATE_*) when the migration reads this config to provision what the writers use.
   */
  readonly natsAuth: NatsAuth;
  /** Durable consumer shared by every writer process. @defaultValue batch-writer */
  readonly consumerName: string;
  /** Most messages fetched into one batch. @defaultValue 20000 */
  readonly batchMaxMessages: number;
  /** Most bytes fetched into one batch. @defaultValue 8388608 */
  readonly batchMaxBytes: number;
  /** Under light traffic, a batch is sized to what arrives in this time (the latency a vote waits). @defaultValue 200 */
  readonly batchLingerMs: number;
  /** Time a delivered message may stay unacked before JetStream redelivers it. @defaultValue 30000 */
  readonly ackWaitMs: number;
  /** Deliveries before a message is given up (it then lands in dead_letters). @defaultValue 20 */
  readonly maxDeliver: number;
  /** Unacked messages allowed across all writers. @defaultValue 50000 */
  readonly maxAckPending: number;
  /** Redelivery delays after a writer died holding messages. @defaultValue 30000,60000,120000,300000 */
  readonly redeliveryBackoffMs: readonly number[];
  /** First retry delay while Postgres is unavailable (doubles, with jitter). @defaultValue 250 */
  readonly retryMinMs: number;
  /** Longest retry delay while Postgres is unavailable. @defaultValue 10000 */
  readonly retryMaxMs: number;
  /**
   * Attempts at a batch failing with an error that is neither transient nor about the data
   * (a trigger raising, a revoked privilege, a missing table) before the batch is split to
   * find the messages that fail, which are then dead-lettered. @defaultValue 5
   */
  readonly permanentFailureAttempts: number;
  /**
   * Dirty person-days (attendance_dirty: a register deleted) recomputed with each batch, and
   * per transaction of the sweep while idle. @defaultValue 1000
   */
  readonly attendanceDirtyBatch: number;
  /**
   * Rows a deleted poll's purge removes per statement from each of its tables (votes, voter
   * ballots, refusals): the longest any one lock or transaction of the purge lasts.
   * @defaultValue 5000
   */
  readonly pollPurgeBatchRows: number;
  /**
   * Queued deleted polls one purge step takes at once (migration 060), their rows still
   * within pollPurgeBatchRows a table: a lesson register is a few rows, and the step's fixed
   * cost (a statement per partition) is then shared by many. @defaultValue 100
   */
  readonly pollPurgeBatchPolls: number;
  /**
   * While votes keep arriving, how often a writer takes one purge step between batches
   * (while idle it purges for the linger). @defaultValue 2000
   */
  readonly pollPurgeIntervalMs: number;
  /**
   * Months ahead of the current one that `votes` and the writer's other monthly tables have
   * partitions for (migrations 033, 044, votes-partitions.ts). @defaultValue 3
   */
  readonly votesPartitionsAheadMonths: number;
  /** How often a writer runs the votes partitions' maintenance. @defaultValue 3600000 */
  readonly votesPartitionCheckMs: number;
  /**
   * Days of raw votes kept (migration 035, votes-retention.ts): the partitions of months
   * that ended before then are dropped (rollups stay), and a vote whose event id time is
   * older is refused (rejected_votes, past_retention). The refusals, clashes, duplicate
   * counts and dead letters follow the same horizon (migration 044; a month holding a dead
   * letter never replayed is kept). Unset: kept for ever.
   */
  readonly votesRetentionDays: number | undefined;
  /**
   * VOTES_ARCHIVE_DIR: with retention, each expired partition is written there (gzip'd CSV)
   * before it is dropped (votes-archive.ts); unset: dropped without a copy.
   */
  readonly votesArchiveDir: string | undefined;
  /**
   * Days a lesson register is kept after its lesson ended (migration 054,
   * register-retention.ts): older ones are deleted in the background, as an admin's delete
   * deletes a poll, once the purge's queue is empty. Unset: kept for ever.
   */
  readonly registerRetentionDays: number | undefined;
  /**
   * Registers past retention deleted per statement (each then purged, up to
   * pollPurgeBatchPolls a purge step). At most 500: each deleted poll is a registry
   * notification to every API process, and a burst of more than 500 makes each reload its
   * whole registry (registry-cache.ts, MAX_ROWS_PER_LOAD). @defaultValue 250
   */
  readonly registerRetentionBatch: number;
  /** Port of the writer's /metrics; 0 = none. @defaultValue 9101 */
  readonly metricsPort: number;
  /** Address the /metrics server listens on (0.0.0.0 to reach it from another host). @defaultValue 127.0.0.1 */
  readonly metricsHost: string;
  readonly shutdownDeadlineMs: number;
}

export function readWriterConfig(
  env: Env = process.env,
  natsRole: Extract<NatsRole, "writer" | "migrate"> = "writer",
): Readonly<WriterConfig> {
  const ackWaitMs = readInt(env, "ACK_WAIT_MS", 30_000, { min: 1_000 });
  const maxDeliver = readInt(env, "MAX_DELIVER", 20, { min: 2 });
  const backoff = readString(env, "REDELIVERY_BACKOFF_MS", "30000,60000,120000,300000")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (!/^\d+$/.test(s) || Number(s) < 1_000)
        throw new ConfigError(
          "REDELIVERY_BACKOFF_MS",
          `must be a list of milliseconds >= 1000, got "${s}"`,
        );
      return Number(s);
    });
  if (backoff.length >= maxDeliver)
    throw new ConfigError("REDELIVERY_BACKOFF_MS", "must have fewer entries than MAX_DELIVER");
  // An archive directory without retention would never be written to: say so at start.
  if (
    readOptionalString(env, "VOTES_ARCHIVE_DIR") !== undefined &&
    readOptionalString(env, "VOTES_RETENTION_DAYS") === undefined
  )
    throw new ConfigError(
      "VOTES_ARCHIVE_DIR",
      "needs VOTES_RETENTION_DAYS (nothing expires without it)",
    );
  return Object.freeze({
    ...readCommonConfig(env),
    natsAuth: readNatsAuth(env, natsRole),
    consumerName: readName(env, "CONSUMER_NAME", "batch-writer"),
    batchMaxMessages: readInt(env, "BATCH_MAX_MESSAGES", 20_000, { min: 1, max: 100_000 }),
    batchMaxBytes: readInt(env, "BATCH_MAX_BYTES", 8 * 1024 * 1024, { min: 1_024 }),
    batchLingerMs: readInt(env, "BATCH_LINGER_MS", 200, { min: 1, max: 60_000 }),
    ackWaitMs,
    maxDeliver,
    maxAckPending: readInt(env, "MAX_ACK_PENDING", 50_000, { min: 1 }),
    redeliveryBackoffMs: Object.freeze(backoff),
    retryMinMs: readInt(env, "RETRY_MIN_MS", 250, { min: 10 }),
    retryMaxMs: readInt(env, "RETRY_MAX_MS", 10_000, { min: 10 }),
    permanentFailureAttempts: readInt(env, "PERMANENT_FAILURE_ATTEMPTS", 5, { min: 1, max: 1_000 }),
    attendanceDirtyBatch: readInt(env, "ATTENDANCE_DIRTY_BATCH", 1_000, { min: 1, max: 100_000 }),
    pollPurgeBatchRows: readInt(env, "POLL_PURGE_BATCH_ROWS", 5_000, { min: 1, max: 1_000_000 }),
    pollPurgeBatchPolls: readInt(env, "POLL_PURGE_BATCH_POLLS", 100, { min: 1, max: 1_000 }),
    pollPurgeIntervalMs: readInt(env, "POLL_PURGE_INTERVAL_MS", 2_000, { min: 10, max: 3_600_000 }),
    votesPartitionsAheadMonths: readInt(env, "VOTES_PARTITIONS_AHEAD_MONTHS", 3, {
      min: 1,
      max: 120,
    }),
    votesPartitionCheckMs: readInt(env, "VOTES_PARTITION_CHECK_MS", 3_600_000, {
      min: 1_000,
      max: 86_400_000,
    }),
    votesRetentionDays:
      readOptionalString(env, "VOTES_RETENTION_DAYS") === undefined
        ? undefined
        : readInt(env, "VOTES_RETENTION_DAYS", 0, { min: 1, max: 36_500 }),
    votesArchiveDir: readOptionalString(env, "VOTES_ARCHIVE_DIR"),
    registerRetentionDays:
      readOptionalString(env, "REGISTER_RETENTION_DAYS") === undefined
        ? undefined
        : readInt(env, "REGISTER_RETENTION_DAYS", 0, { min: 1, max: 36_500 }),
    registerRetentionBatch: readInt(env, "REGISTER_RETENTION_BATCH", 250, { min: 1, max: 500 }),
    metricsPort: readInt(env, "WRITER_METRICS_PORT", 9101, { min: 0, max: 65535 }),
    metricsHost: readHost(env, "WRITER_METRICS_HOST", "127.0.0.1"),
    shutdownDeadlineMs: readInt(env, "SHUTDOWN_DEADLINE_MS", 15_000, { min: 100 }),
  });
}
