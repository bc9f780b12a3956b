import { type CommonConfig, readCommonConfig } from "../common/config.ts";
import { type Env, readHost, readInt, readOptionalString, readString } from "../common/env.ts";
import { ConfigError } from "../common/errors.ts";
import { type NatsAuth, readNatsAuth } from "../common/nats-auth.ts";
import { readRegisterCompletionGraceMs } from "../common/register-contract.ts";
import { type ConsoleConfig, readConsoleConfig } from "./console/console-config.ts";
import { type DeadLetterConfig, readDeadLetterConfig } from "./dead-letters/dead-letter-config.ts";
import { type BodyLimitsConfig, readBodyLimits } from "./http/body-limits.ts";
import { type HttpExposureConfig, readHttpExposureConfig } from "./http/http-config.ts";
import type { ListPageConfig } from "./http/page-cursor.ts";
import { largestVoteMessageBytes } from "./votes/vote-messages.ts";

export const DEV_ADMIN_TOKEN = "dev-admin-token";

export interface IngestConfig extends CommonConfig, HttpExposureConfig {
  readonly port: number;
  readonly host: string;
  /**
   * Port of the API's /metrics (and a /healthz of its own), never the API port: a scrape
   * is costly and says much about the fleet. 0 = none. @defaultValue 9100
   */
  readonly metricsPort: number;
  /** Address the /metrics server listens on (0.0.0.0 to reach it from another host). @defaultValue 127.0.0.1 */
  readonly metricsHost: string;
  /** Bearer token for the registry API. A development default exists outside production. */
  readonly adminToken: string;
  readonly adminTokenIsDefault: boolean;
  /** The API's NATS user (NATS_API_USER, NATS_API_PASSWORD): it may only publish votes. */
  readonly natsAuth: NatsAuth;
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
  /** Largest JSON body of the admin, registry, console and pairing routes (http/body-limits.ts). */
  readonly bodyLimits: BodyLimitsConfig;
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
  /**
   * Full reload interval of the known people (every school's active people, for `voters:
   * "roster"` polls), the safety net: a NOTIFY per school changed reloads that school at
   * once and a re-opened LISTEN reloads everything. A full reload streams every active
   * person's key (~4 s at 10 million, `npm run bench:roster-memory`). @defaultValue 600000
   */
  readonly peopleRefreshMs: number;
  /** A load of the known people not done within this is abandoned (its connection closed) and retried. @defaultValue 300000 */
  readonly peopleLoadTimeoutMs: number;
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
  /** How often each API process checks that Redis holds every voter claim. @defaultValue 5000 */
  readonly voterClaimsCheckMs: number;
  /** voter_ballots rows per step of a claims rebuild (read, then pipelined to Redis). @defaultValue 10000 */
  readonly voterRebuildBatchRows: number;
  /** Lifetime of the claims rebuild lock, renewed after each step. @defaultValue 30000 */
  readonly voterRebuildLockMs: number;
  /** Longest wait, before a claims rebuild, for the writer to store the votes in the stream; 0 = none. @defaultValue 30000 */
  readonly voterRebuildWriterWaitMs: number;
  /** Graceful shutdown deadline. @defaultValue 10000 */
  readonly shutdownDeadlineMs: number;
  /** Per-kiosk and per-address request limits (shared across API instances through Redis). */
  readonly rateLimits: RateLimitConfig;
  /** How long one /readyz answer is reused, so a flood costs at most one probe round per period. @defaultValue 1000 */
  readonly readyzCacheMs: number;
  /** Origins allowed to call the kiosk and public routes from a browser; empty = no CORS headers. */
  readonly corsOrigins: readonly string[];
  /** How long a browser may cache a preflight answer (Access-Control-Max-Age). @defaultValue 600000 */
  readonly corsMaxAgeMs: number;
  /** Kiosk pairing and health. */
  readonly kiosks: KioskConfig;
  /** The people API: page sizes, roster imports and exports. */
  readonly people: PeopleConfig;
  /** Page sizes of the admin lists of polls, kiosks and schools (ingest-api/http/page-cursor.ts). */
  readonly listPages: ListPageConfig;
  /** The schools' day documents as the API serves them. */
  readonly attendance: AttendanceReadConfig;
  /** The "already checked in" state kiosks read (ingest-api/attendance/attendance-state.ts). */
  readonly attendanceState: AttendanceStateConfig;
  /** The attendance reads and holidays: page sizes and date ranges. */
  readonly attendanceReads: AttendanceReadsConfig;
  /** The operator console (ingest-api/console/): invites, sessions, the audit log. */
  readonly console: ConsoleConfig;
  /** Lesson registers (ingest-api/registers/). */
  readonly registers: RegistersConfig;
  /** The CSV exports (ingest-api/exports/). */
  readonly exports: ExportsConfig;
  /** The dead letters' routes (ingest-api/dead-letters/). */
  readonly deadLetters: DeadLetterConfig;
}

export interface ExportsConfig {
  /**
   * Longest a CSV export may stream (its COPY or cursor holds a pool connection while the
   * client downloads): cut beyond, so that a stalled client cannot hold one for ever.
   * @defaultValue 900000 (15 min)
   */
  readonly maxMs: number;
}

export interface RegistersConfig {
  /** A register not completed by its `endsAt` plus this is overdue. @defaultValue 600000 */
  readonly completionGraceMs: number;
  /** Longest `from`…`to` of the registers' statistics, in days (both counted). @defaultValue 366 */
  readonly statsRangeMaxDays: number;
  /** How long a teacher's sign-in link may be used (once). @defaultValue 86400000 (a day) */
  readonly signInLinkTtlMs: number;
  /**
   * Most registers `GET /v1/teacher` lists for a day (a school's lessons of the day, by start);
   * past it the answer says `more`. @defaultValue 2000
   */
  readonly teacherDayMaxRegisters: number;
}

export interface AttendanceReadsConfig {
  /** People in a page of `GET …/attendance?period=` when `limit` is not given (at most pageMax). @defaultValue 100 */
  readonly pageDefault: number;
  /** Largest `limit` of that page. @defaultValue 1000 */
  readonly pageMax: number;
  /** Longest `from`…`to` of `GET …/people/:personId/attendance`, in days (both counted). @defaultValue 366 */
  readonly personRangeMaxDays: number;
  /** Longest `from`…`to` of `GET …/holidays`, in days (both counted). @defaultValue 731 */
  readonly holidaysRangeMaxDays: number;
}

export interface AttendanceReadConfig {
  /** Most school day documents kept in memory; the least recently read goes first. @defaultValue 2000 */
  readonly cacheMaxDocuments: number;
  /** Most bytes of school day documents (and the answers made from them) kept in memory. @defaultValue 268435456 (256 MiB) */
  readonly cacheMaxBytes: number;
  /** Schools whose people's names are kept in memory for their own admin's reads. @defaultValue 100 */
  readonly namesCacheSchools: number;
  /** Day answers at least this large go gzip'd to a client that accepts it (made once per version); 0 = never. @defaultValue 16384 */
  readonly gzipMinBytes: number;
  /** A new version's answers are made as it is fetched only while its day was read within this long; 0 = never ahead. @defaultValue 60000 */
  readonly answersWarmMs: number;
}

export interface AttendanceStateConfig {
  /** Hashes per school and day = 2^bits; keep a school's people checked in a day / 2^bits ≤ 128. @defaultValue 7 */
  readonly bucketBits: number;
  /** A day's state expires this long after the school-local day ends. @defaultValue 3600000 */
  readonly expiryMarginMs: number;
  /** How often each API process checks that Redis holds the state. @defaultValue 5000 */
  readonly checkMs: number;
  /** attendance_days rows per step of a state rebuild. @defaultValue 10000 */
  readonly rebuildBatchRows: number;
  /** Lifetime of the state rebuild lock, renewed after each step. @defaultValue 30000 */
  readonly rebuildLockMs: number;
  /** Longest wait, before a state rebuild, for the writer to store the events in the stream; 0 = none. @defaultValue 30000 */
  readonly rebuildWriterWaitMs: number;
}

export interface PeopleConfig {
  /** People in a page of `GET …/people` when `limit` is not given (at most pageMax). @defaultValue 50 */
  readonly pageDefault: number;
  /** Largest `limit` of `GET …/people`. @defaultValue 500 */
  readonly pageMax: number;
  /** Largest roster CSV body of `POST …/people/import` (413 beyond). @defaultValue 5242880 (5 MiB) */
  readonly importMaxBytes: number;
  /** Most rows in one roster import (413 beyond). @defaultValue 100000 */
  readonly importMaxRows: number;
  /** Most row errors an import answer lists (`errorCount` has them all). @defaultValue 1000 */
  readonly importMaxErrors: number;
  /** People read from Postgres per query while an export streams. @defaultValue 5000 */
  readonly exportChunkRows: number;
}

export interface KioskConfig {
  /** Lifetime of a pairing code. @defaultValue 600000 (10 minutes) */
  readonly pairingCodeTtlMs: number;
  /**
   * Where people reach the API (`https://vote.example.org`, a path allowed): the base of the
   * pairing URL. Unset: the admin request's own origin (through TRUST_PROXY's X-Forwarded-Proto).
   */
  readonly publicUrl: string | undefined;
  /** Largest X-Kiosk-Status header or heartbeat body. @defaultValue 1024 */
  readonly statusMaxBytes: number;
  /** Least time between two Redis writes of one kiosk's health (per API process). @defaultValue 5000 */
  readonly statusWriteMs: number;
  /** A kiosk heard from within this long counts in `tallyflow_kiosks_seen_recently`. @defaultValue 300000 */
  readonly seenRecentlyMs: number;
  /** How long `GET /v1/kiosks?sort=attention` reuses one sort of the fleet (0: none). @defaultValue 2000 */
  readonly attentionSnapshotMs: number;
}

/** Every limit is per second unless its name says otherwise; 0 turns that limit off. */
export interface RateLimitConfig {
  /** `POST /v1/votes` requests per kiosk per second. @defaultValue 200 */
  readonly kioskVotesPerS: number;
  /** `POST /v1/votes/batch` requests per kiosk per second. @defaultValue 20 */
  readonly kioskBatchesPerS: number;
  /** Batch requests per kiosk per minute allowed beyond the per-second rate (offline flushes). @defaultValue 600 */
  readonly kioskBatchBurstPerMin: number;
  /** Results JSON/PNG and public poll reads per client address. @defaultValue 50 */
  readonly resultsPerS: number;
  /** SSE connects per client address. @defaultValue 20 */
  readonly sseConnectsPerS: number;
  /** Web pages and their assets per client address. @defaultValue 200 */
  readonly pagesPerS: number;
  /** /readyz requests per client address. @defaultValue 20 */
  readonly readyzPerS: number;
  /** Failed authentications (401) per client address per minute before it is refused. @defaultValue 60 */
  readonly authFailuresPerMin: number;
  /** `POST /v1/pair` attempts per client address per minute (pairing-code guessing). @defaultValue 10 */
  readonly pairPerMin: number;
  /** Failed `POST /v1/pair` attempts per minute from every address together (guessing from many addresses). @defaultValue 30 */
  readonly pairFailuresPerMin: number;
  /** `POST /v1/registers/:pollId/complete` per credential (kiosk, teacher, admin) and minute. @defaultValue 60 */
  readonly completionsPerMin: number;
  /**
   * The window those failures are counted in, whole seconds: the budget above is per window
   * (per minute by default). A test shortens it so that it need not wait out a minute. @defaultValue 60000
   */
  readonly pairFailuresWindowMs: number;
  /** Longest wait for Redis before the limiter decides in memory (this instance only). @defaultValue 250 */
  readonly redisTimeoutMs: number;
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
    metricsPort: readInt(env, "API_METRICS_PORT", 9100, { min: 0, max: 65535 }),
    metricsHost: readHost(env, "API_METRICS_HOST", "127.0.0.1"),
    adminToken: adminToken ?? DEV_ADMIN_TOKEN,
    adminTokenIsDefault: adminToken === undefined,
    natsAuth: readNatsAuth(env, "api"),
    publishTimeoutMs: readInt(env, "PUBLISH_TIMEOUT_MS", 2_000, { min: 100 }),
    publishRetries: readInt(env, "PUBLISH_RETRIES", 3, { min: 0, max: 10 }),
    publishRetryDelayMs: readInt(env, "PUBLISH_RETRY_DELAY_MS", 100, { min: 10, max: 5_000 }),
    maxVoteBodyBytes: readInt(env, "MAX_VOTE_BODY_BYTES", 16_384, { min: 1_024 }),
    maxBatchBodyBytes: readInt(env, "MAX_BATCH_BODY_BYTES", 1_048_576, { min: 1_024 }),
    maxBatchItems: readInt(env, "MAX_BATCH_ITEMS", 1_000, { min: 1, max: 10_000 }),
    bodyLimits: readBodyLimits(env),
    maxMessageBytes: readMaxMessageBytes(env),
    castAtMaxSkewMs: readInt(env, "CAST_AT_MAX_SKEW_MS", 60_000, { min: 0 }),
    castAtMaxAgeMs: readInt(env, "CAST_AT_MAX_AGE_MS", 2_592_000_000, { min: 60_000 }),
    lateVoteGraceMs: readInt(env, "LATE_VOTE_GRACE_MS", 3_600_000, { min: 0 }),
    registryRefreshMs: readInt(env, "REGISTRY_REFRESH_MS", 60_000, { min: 100 }),
    peopleRefreshMs: readInt(env, "PEOPLE_REFRESH_MS", 600_000, { min: 1_000 }),
    peopleLoadTimeoutMs: readInt(env, "PEOPLE_LOAD_TIMEOUT_MS", 300_000, { min: 1_000 }),
    resultsCacheCheckMs: readInt(env, "RESULTS_CACHE_CHECK_MS", 2_000, { min: 100 }),
    resultsCacheMaxPolls: readInt(env, "RESULTS_CACHE_MAX_POLLS", 10_000, { min: 1 }),
    resultsCacheMaxBytes: readInt(env, "RESULTS_CACHE_MAX_BYTES", 268_435_456, { min: 1_048_576 }),
    voterBucketBits: readInt(env, "VOTER_BUCKET_BITS", 16, { min: 0, max: 24 }),
    voterRetentionMs: readInt(env, "VOTER_RETENTION_MS", 2_592_000_000, { min: 60_000 }),
    voterClaimsCheckMs: readInt(env, "VOTER_CLAIMS_CHECK_MS", 5_000, { min: 100 }),
    // At most 20,000: a step is one script call of 3 arguments a row, and node-redis spreads
    // a command's arguments on the stack (60,000 is safe, 150,000 overflows it).
    voterRebuildBatchRows: readInt(env, "VOTER_REBUILD_BATCH_ROWS", 10_000, {
      min: 100,
      max: 20_000,
    }),
    voterRebuildLockMs: readInt(env, "VOTER_REBUILD_LOCK_MS", 30_000, { min: 1_000 }),
    voterRebuildWriterWaitMs: readInt(env, "VOTER_REBUILD_WRITER_WAIT_MS", 30_000, { min: 0 }),
    shutdownDeadlineMs: readInt(env, "SHUTDOWN_DEADLINE_MS", 10_000, { min: 100 }),
    rateLimits: readRateLimits(env),
    readyzCacheMs: readInt(env, "READYZ_CACHE_MS", 1_000, { min: 0, max: 60_000 }),
    corsOrigins: readOrigins(env, "CORS_ORIGINS"),
    corsMaxAgeMs: readInt(env, "CORS_MAX_AGE_MS", 600_000, { min: 0, max: 86_400_000 }),
    kiosks: readKioskConfig(env),
    people: readPeopleConfig(env),
    listPages: readListPageConfig(env),
    attendance: Object.freeze({
      cacheMaxDocuments: readInt(env, "ATTENDANCE_CACHE_MAX_DOCUMENTS", 2_000, { min: 1 }),
      cacheMaxBytes: readInt(env, "ATTENDANCE_CACHE_MAX_BYTES", 268_435_456, {
        min: 1_048_576,
      }),
      namesCacheSchools: readInt(env, "ATTENDANCE_NAMES_CACHE_SCHOOLS", 100, {
        min: 1,
        max: 10_000,
      }),
      gzipMinBytes: readInt(env, "ATTENDANCE_GZIP_MIN_BYTES", 16_384, { min: 0 }),
      answersWarmMs: readInt(env, "ATTENDANCE_ANSWERS_WARM_MS", 60_000, {
        min: 0,
        max: 86_400_000,
      }),
    }),
    attendanceState: readAttendanceStateConfig(env),
    attendanceReads: readAttendanceReadsConfig(env),
    registers: Object.freeze({
      completionGraceMs: readRegisterCompletionGraceMs(env),
      statsRangeMaxDays: readInt(env, "REGISTER_STATS_RANGE_MAX_DAYS", 366, { min: 1, max: 3_660 }),
      signInLinkTtlMs: readInt(env, "TEACHER_SIGN_IN_LINK_TTL_MS", 86_400_000, {
        min: 60_000,
        max: 30 * 86_400_000,
      }),
      teacherDayMaxRegisters: readInt(env, "TEACHER_DAY_MAX_REGISTERS", 2_000, {
        min: 1,
        max: 100_000,
      }),
    }),
    console: readConsoleConfig(env),
    exports: Object.freeze({
      maxMs: readInt(env, "EXPORT_MAX_MS", 900_000, { min: 1_000, max: 86_400_000 }),
    }),
    deadLetters: readDeadLetterConfig(env),
  });
}

function readAttendanceReadsConfig(env: Env): AttendanceReadsConfig {
  const pageMax = readInt(env, "ATTENDANCE_PAGE_MAX", 1_000, { min: 1, max: 10_000 });
  return Object.freeze({
    // A smaller ATTENDANCE_PAGE_MAX alone lowers the default with it.
    pageDefault: readInt(env, "ATTENDANCE_PAGE_DEFAULT", Math.min(100, pageMax), {
      min: 1,
      max: pageMax,
    }),
    pageMax,
    personRangeMaxDays: readInt(env, "ATTENDANCE_RANGE_MAX_DAYS", 366, { min: 1, max: 3_660 }),
    holidaysRangeMaxDays: readInt(env, "HOLIDAYS_RANGE_MAX_DAYS", 731, { min: 1, max: 3_660 }),
  });
}

function readAttendanceStateConfig(env: Env): AttendanceStateConfig {
  return Object.freeze({
    bucketBits: readInt(env, "ATTENDANCE_STATE_BUCKET_BITS", 7, { min: 0, max: 16 }),
    expiryMarginMs: readInt(env, "ATTENDANCE_STATE_EXPIRY_MARGIN_MS", 3_600_000, {
      min: 0,
      max: 86_400_000,
    }),
    checkMs: readInt(env, "ATTENDANCE_STATE_CHECK_MS", 5_000, { min: 100 }),
    // As VOTER_REBUILD_BATCH_ROWS: a step is one script call of 3 arguments a row.
    rebuildBatchRows: readInt(env, "ATTENDANCE_STATE_REBUILD_BATCH_ROWS", 10_000, {
      min: 100,
      max: 20_000,
    }),
    rebuildLockMs: readInt(env, "ATTENDANCE_STATE_REBUILD_LOCK_MS", 30_000, { min: 1_000 }),
    rebuildWriterWaitMs: readInt(env, "ATTENDANCE_STATE_REBUILD_WRITER_WAIT_MS", 30_000, {
      min: 0,
    }),
  });
}

function readListPageConfig(env: Env): ListPageConfig {
  const pageMax = readInt(env, "LIST_PAGE_MAX", 500, { min: 1, max: 10_000 });
  return Object.freeze({
    // A smaller LIST_PAGE_MAX alone lowers the default with it.
    pageDefault: readInt(env, "LIST_PAGE_DEFAULT", Math.min(100, pageMax), {
      min: 1,
      max: pageMax,
    }),
    pageMax,
  });
}

function readPeopleConfig(env: Env): PeopleConfig {
  const pageMax = readInt(env, "PEOPLE_PAGE_MAX", 500, { min: 1, max: 10_000 });
  return Object.freeze({
    // A smaller PEOPLE_PAGE_MAX alone lowers the default with it.
    pageDefault: readInt(env, "PEOPLE_PAGE_DEFAULT", Math.min(50, pageMax), {
      min: 1,
      max: pageMax,
    }),
    pageMax,
    importMaxBytes: readInt(env, "PEOPLE_IMPORT_MAX_BYTES", 5_242_880, {
      min: 1_024,
      max: 1_073_741_824,
    }),
    importMaxRows: readInt(env, "PEOPLE_IMPORT_MAX_ROWS", 100_000, { min: 1, max: 10_000_000 }),
    importMaxErrors: readInt(env, "PEOPLE_IMPORT_MAX_ERRORS", 1_000, { min: 1 }),
    exportChunkRows: readInt(env, "PEOPLE_EXPORT_CHUNK_ROWS", 5_000, { min: 100, max: 100_000 }),
  });
}

function readKioskConfig(env: Env): KioskConfig {
  return Object.freeze({
    pairingCodeTtlMs: readInt(env, "PAIRING_CODE_TTL_MS", 600_000, {
      min: 10_000,
      max: 86_400_000,
    }),
    publicUrl: readPublicUrl(env, "PUBLIC_URL"),
    statusMaxBytes: readInt(env, "KIOSK_STATUS_MAX_BYTES", 1_024, { min: 256, max: 8_192 }),
    statusWriteMs: readInt(env, "KIOSK_STATUS_WRITE_MS", 5_000, { min: 100, max: 300_000 }),
    seenRecentlyMs: readInt(env, "KIOSK_SEEN_RECENTLY_MS", 300_000, {
      min: 10_000,
      max: 86_400_000,
    }),
    attentionSnapshotMs: readInt(env, "KIOSK_ATTENTION_SNAPSHOT_MS", 2_000, {
      min: 0,
      max: 60_000,
    }),
  });
}

/** An http(s) base URL without query or fragment; kept without its trailing slash. */
function readPublicUrl(env: Env, name: string): string | undefined {
  const value = readOptionalString(env, name);
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (url === undefined || !["http:", "https:"].includes(url.protocol))
    throw new ConfigError(
      name,
      `must be an http(s) URL such as https://vote.example.org, got "${value}"`,
    );
  if (url.search !== "" || url.hash !== "" || url.username !== "" || url.password !== "")
    throw new ConfigError(name, `must have no query, fragment or credentials, got "${value}"`);
  return url.href.replace(/\/+$/, "");
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

// The defaults and why they are safe for the reference deployment (1,000 schools, peaks of
// ~1,500 votes/s in all) are in docs/configuration.md.
function readRateLimits(env: Env): RateLimitConfig {
  const perS = (name: string, fallback: number) =>
    readInt(env, name, fallback, { min: 0, max: 1_000_000 });
  return Object.freeze({
    kioskVotesPerS: perS("RATE_LIMIT_KIOSK_VOTES_PER_S", 200),
    kioskBatchesPerS: perS("RATE_LIMIT_KIOSK_BATCHES_PER_S", 20),
    kioskBatchBurstPerMin: perS("RATE_LIMIT_KIOSK_BATCH_BURST_PER_MIN", 600),
    resultsPerS: perS("RATE_LIMIT_RESULTS_PER_S", 50),
    sseConnectsPerS: perS("RATE_LIMIT_SSE_CONNECTS_PER_S", 20),
    pagesPerS: perS("RATE_LIMIT_PAGES_PER_S", 200),
    readyzPerS: perS("RATE_LIMIT_READYZ_PER_S", 20),
    authFailuresPerMin: perS("RATE_LIMIT_AUTH_FAILURES_PER_MIN", 60),
    pairPerMin: perS("RATE_LIMIT_PAIR_PER_MIN", 10),
    pairFailuresPerMin: perS("RATE_LIMIT_PAIR_FAILURES_PER_MIN", 30),
    completionsPerMin: perS("RATE_LIMIT_COMPLETIONS_PER_MIN", 60),
    pairFailuresWindowMs: readWholeSeconds(env, "RATE_LIMIT_PAIR_FAILURES_WINDOW_MS", 60_000),
    redisTimeoutMs: readInt(env, "RATE_LIMIT_REDIS_TIMEOUT_MS", 250, { min: 10, max: 10_000 }),
  });
}

/** A window of a Redis-counted limit: rate-limiter-flexible keeps it in whole seconds. */
function readWholeSeconds(env: Env, name: string, fallback: number): number {
  const ms = readInt(env, name, fallback, { min: 1_000, max: 3_600_000 });
  if (ms % 1_000 !== 0)
    throw new ConfigError(name, `must be whole seconds (a multiple of 1000), got ${ms}`);
  return ms;
}

/** Comma-separated exact origins (`https://dash.example.org`), as a browser sends in `Origin`. */
function readOrigins(env: Env, name: string): readonly string[] {
  const value = readOptionalString(env, name);
  if (value === undefined) return Object.freeze([]);
  const origins = value.split(",").map((o) => o.trim());
  for (const origin of origins) {
    let url: URL | undefined;
    try {
      url = new URL(origin);
    } catch {
      url = undefined;
    }
    if (url === undefined || !["http:", "https:"].includes(url.protocol) || url.origin !== origin)
      throw new ConfigError(
        name,
        `"${origin}" is not an origin: use scheme://host[:port] with no path or trailing slash${
          url && ["http:", "https:"].includes(url.protocol) ? ` ("${url.origin}")` : ""
        }`,
      );
  }
  return Object.freeze(origins);
}
