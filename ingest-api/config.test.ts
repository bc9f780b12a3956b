import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { assertFailsNaming } from "../test-support/config-errors.ts";
import { DEV_ADMIN_TOKEN, readIngestConfig } from "./config.ts";
import { largestVoteMessageBytes } from "./votes/vote-messages.ts";

/** Reading this env fails with a ConfigError naming `variable`. */
const failsNaming = (env: Record<string, string>, variable: string, message?: RegExp) =>
  assertFailsNaming(readIngestConfig, env, variable, message);

describe("readIngestConfig", () => {
  test("defaults without any variable (development)", () => {
    const config = readIngestConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, "0.0.0.0");
    assert.equal(config.adminToken, DEV_ADMIN_TOKEN);
    assert.equal(config.adminTokenIsDefault, true);
    assert.equal(config.databaseUrl, "postgres://postgres@127.0.0.1:5432/tallyflow");
    assert.equal(config.natsUrl, "nats://127.0.0.1:4222");
    assert.equal(config.redisUrl, "redis://127.0.0.1:6379");
    assert.equal(config.streamName, "VOTES");
    assert.equal(config.subjectPrefix, "votes");
    assert.equal(config.redisKeyPrefix, "tallyflow:");
    assert.equal(config.maxVoteBodyBytes, 16_384);
    assert.equal(config.maxBatchBodyBytes, 1_048_576);
    assert.equal(config.maxBatchItems, 1_000);
    assert.equal(config.maxMessageBytes, 0, "derived from the NATS server at start");
    assert.equal(config.castAtMaxSkewMs, 60_000);
    assert.equal(config.castAtMaxAgeMs, 2_592_000_000);
    assert.equal(config.lateVoteGraceMs, 3_600_000);
    assert.equal(config.duplicateWindowMs, 600_000);
    assert.equal(config.publishTimeoutMs, 2_000);
    assert.equal(config.publishRetries, 3);
    assert.equal(config.publishRetryDelayMs, 100);
    assert.equal(config.streamReplicas, 1);
    assert.equal(config.jetstreamHealIntervalMs, 1_000);
    assert.equal(config.logLevel, "info");
    assert.ok(Object.isFrozen(config));
  });

  test("reads every variable it is given", () => {
    const config = readIngestConfig({
      NODE_ENV: "production",
      PORT: "8080",
      HOST: "127.0.0.1",
      ADMIN_TOKEN: "a-long-enough-secret",
      NATS_API_PASSWORD: "a-nats-secret",
      DATABASE_URL: "postgresql://app@db.internal:5433/votes",
      NATS_URL: "nats://n1:4222,nats://n2:4222",
      REDIS_URL: "rediss://cache:6380",
      STREAM_NAME: "VOTES_2",
      SUBJECT_PREFIX: "ballots",
      MAX_VOTE_BODY_BYTES: "4096",
      MAX_BATCH_ITEMS: "250",
      LATE_VOTE_GRACE_MS: "0",
      LOG_LEVEL: "warn",
    });
    assert.equal(config.port, 8080);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.adminToken, "a-long-enough-secret");
    assert.equal(config.adminTokenIsDefault, false);
    assert.equal(config.natsAuth.password, "a-nats-secret");
    assert.equal(config.databaseUrl, "postgresql://app@db.internal:5433/votes");
    assert.equal(config.natsUrl, "nats://n1:4222,nats://n2:4222");
    assert.equal(config.redisUrl, "rediss://cache:6380");
    assert.equal(config.streamName, "VOTES_2");
    assert.equal(config.subjectPrefix, "ballots");
    assert.equal(config.maxVoteBodyBytes, 4096);
    assert.equal(config.maxBatchItems, 250);
    assert.equal(config.lateVoteGraceMs, 0);
    assert.equal(config.logLevel, "warn");
  });

  test("the voter claims rebuild settings: defaults, values, and bounds naming the variable", () => {
    const defaults = readIngestConfig({});
    assert.deepEqual(
      [
        defaults.voterClaimsCheckMs,
        defaults.voterRebuildBatchRows,
        defaults.voterRebuildLockMs,
        defaults.voterRebuildWriterWaitMs,
      ],
      [5_000, 10_000, 30_000, 30_000],
    );
    const set = readIngestConfig({
      VOTER_CLAIMS_CHECK_MS: "1000",
      VOTER_REBUILD_BATCH_ROWS: "20000",
      VOTER_REBUILD_LOCK_MS: "60000",
      VOTER_REBUILD_WRITER_WAIT_MS: "0",
    });
    assert.deepEqual(
      [
        set.voterClaimsCheckMs,
        set.voterRebuildBatchRows,
        set.voterRebuildLockMs,
        set.voterRebuildWriterWaitMs,
      ],
      [1_000, 20_000, 60_000, 0],
    );
    failsNaming({ VOTER_CLAIMS_CHECK_MS: "0" }, "VOTER_CLAIMS_CHECK_MS", /at least 100/);
    failsNaming({ VOTER_REBUILD_BATCH_ROWS: "50000" }, "VOTER_REBUILD_BATCH_ROWS", /at most/);
    failsNaming(
      { VOTER_REBUILD_WRITER_WAIT_MS: "-1" },
      "VOTER_REBUILD_WRITER_WAIT_MS",
      /at least 0/,
    );
    failsNaming({ VOTER_REBUILD_LOCK_MS: "soon" }, "VOTER_REBUILD_LOCK_MS", /integer/);
  });

  test("NATS_URL may list several seed servers", () => {
    const config = readIngestConfig({ NATS_URL: "nats://n1:4222, tls://n2:4222" });
    assert.equal(config.natsUrl, "nats://n1:4222,tls://n2:4222");
  });

  test("blank values count as unset; values are trimmed", () => {
    const config = readIngestConfig({ PORT: "   ", ADMIN_TOKEN: "", MAX_BATCH_ITEMS: " 50 " });
    assert.equal(config.port, 3000);
    assert.equal(config.adminTokenIsDefault, true);
    assert.equal(config.maxBatchItems, 50);
  });

  test("a bad PORT fails naming PORT", () => {
    failsNaming({ PORT: "http" }, "PORT", /must be an integer/);
    failsNaming({ PORT: "3000.5" }, "PORT", /must be an integer/);
    failsNaming({ PORT: "1e3" }, "PORT", /must be an integer/);
    failsNaming({ PORT: "65536" }, "PORT", /at most 65535/);
    failsNaming({ PORT: "-1" }, "PORT", /at least 0/);
  });

  test("a bad DATABASE_URL fails naming DATABASE_URL", () => {
    failsNaming({ DATABASE_URL: "not a url" }, "DATABASE_URL", /must be a URL/);
    failsNaming({ DATABASE_URL: "mysql://root@db/tallyflow" }, "DATABASE_URL", /postgres:/);
    failsNaming({ DATABASE_URL: "127.0.0.1:5432/tallyflow" }, "DATABASE_URL");
  });

  test("MAX_MESSAGE_BYTES: 0 or at least one vote at its largest", () => {
    const floor = largestVoteMessageBytes();
    assert.equal(readIngestConfig({ MAX_MESSAGE_BYTES: String(floor) }).maxMessageBytes, floor);
    assert.equal(readIngestConfig({ MAX_MESSAGE_BYTES: "0" }).maxMessageBytes, 0);
    failsNaming(
      { MAX_MESSAGE_BYTES: String(floor - 1) },
      "MAX_MESSAGE_BYTES",
      /one vote at its largest/,
    );
    failsNaming({ MAX_MESSAGE_BYTES: "-1" }, "MAX_MESSAGE_BYTES", /at least 0/);
  });

  test("a short ADMIN_TOKEN fails naming ADMIN_TOKEN", () => {
    failsNaming({ ADMIN_TOKEN: "short" }, "ADMIN_TOKEN", /at least 12 characters/);
    failsNaming({ ADMIN_TOKEN: "12345678901" }, "ADMIN_TOKEN", /at least 12 characters/);
    assert.equal(readIngestConfig({ ADMIN_TOKEN: "123456789012" }).adminToken, "123456789012");
  });

  test("NODE_ENV=production requires a real ADMIN_TOKEN", () => {
    failsNaming({ NODE_ENV: "production" }, "ADMIN_TOKEN", /NODE_ENV=production/);
    failsNaming({ NODE_ENV: "production", ADMIN_TOKEN: "  " }, "ADMIN_TOKEN");
    failsNaming({ NODE_ENV: "production", ADMIN_TOKEN: DEV_ADMIN_TOKEN }, "ADMIN_TOKEN");
  });

  test("other bad values fail naming their variable", () => {
    const cases: [Record<string, string>, string][] = [
      [{ NATS_URL: "http://127.0.0.1:4222" }, "NATS_URL"],
      [{ NATS_URL: "nats://n1:4222,http://n2:4222" }, "NATS_URL"],
      [{ NATS_URL: "nats://n1:4222,," }, "NATS_URL"],
      [{ REDIS_URL: "127.0.0.1:6379" }, "REDIS_URL"],
      [{ STREAM_NAME: "VOTES.ALL" }, "STREAM_NAME"],
      [{ SUBJECT_PREFIX: "votes.*" }, "SUBJECT_PREFIX"],
      [{ LOG_LEVEL: "verbose" }, "LOG_LEVEL"],
      [{ PG_POOL_SIZE: "0" }, "PG_POOL_SIZE"],
      [{ PUBLISH_TIMEOUT_MS: "fast" }, "PUBLISH_TIMEOUT_MS"],
      [{ PUBLISH_RETRIES: "11" }, "PUBLISH_RETRIES"],
      [{ PUBLISH_RETRIES: "-1" }, "PUBLISH_RETRIES"],
      [{ PUBLISH_RETRY_DELAY_MS: "5" }, "PUBLISH_RETRY_DELAY_MS"],
      [{ STREAM_REPLICAS: "0" }, "STREAM_REPLICAS"],
      [{ STREAM_REPLICAS: "6" }, "STREAM_REPLICAS"],
      [{ JETSTREAM_HEAL_INTERVAL_MS: "10" }, "JETSTREAM_HEAL_INTERVAL_MS"],
      [{ DUPLICATE_WINDOW_MS: "60000" }, "DUPLICATE_WINDOW_MS"],
      [{ MAX_VOTE_BODY_BYTES: "100" }, "MAX_VOTE_BODY_BYTES"],
      [{ MAX_BATCH_BODY_BYTES: "1mb" }, "MAX_BATCH_BODY_BYTES"],
      [{ MAX_BATCH_ITEMS: "0" }, "MAX_BATCH_ITEMS"],
      [{ MAX_BATCH_ITEMS: "10001" }, "MAX_BATCH_ITEMS"],
      [{ CAST_AT_MAX_SKEW_MS: "-5" }, "CAST_AT_MAX_SKEW_MS"],
      [{ LATE_VOTE_GRACE_MS: "1h" }, "LATE_VOTE_GRACE_MS"],
      [{ REGISTRY_REFRESH_MS: "10" }, "REGISTRY_REFRESH_MS"],
      [{ RESULTS_CACHE_CHECK_MS: "10" }, "RESULTS_CACHE_CHECK_MS"],
      [{ RESULTS_CACHE_MAX_POLLS: "0" }, "RESULTS_CACHE_MAX_POLLS"],
      [{ RESULTS_CACHE_MAX_BYTES: "64kb" }, "RESULTS_CACHE_MAX_BYTES"],
      [{ VOTER_BUCKET_BITS: "25" }, "VOTER_BUCKET_BITS"],
      [{ VOTER_RETENTION_MS: "1000" }, "VOTER_RETENTION_MS"],
      [{ SHUTDOWN_DEADLINE_MS: "soon" }, "SHUTDOWN_DEADLINE_MS"],
    ];
    for (const [env, variable] of cases) failsNaming(env, variable);
  });

  test("rate limits, CORS and the proxy: defaults, values and 0 = off", () => {
    const defaults = readIngestConfig({});
    assert.deepEqual(defaults.rateLimits, {
      kioskVotesPerS: 200,
      kioskBatchesPerS: 20,
      kioskBatchBurstPerMin: 600,
      resultsPerS: 50,
      sseConnectsPerS: 20,
      pagesPerS: 200,
      readyzPerS: 20,
      authFailuresPerMin: 60,
      pairPerMin: 10,
      pairFailuresPerMin: 30,
      completionsPerMin: 60,
      pairFailuresWindowMs: 60_000,
      redisTimeoutMs: 250,
    });
    assert.equal(defaults.readyzCacheMs, 1_000);
    assert.deepEqual(defaults.corsOrigins, []);
    assert.equal(defaults.corsMaxAgeMs, 600_000);
    assert.equal(defaults.trustProxy, false);
    const config = readIngestConfig({
      RATE_LIMIT_KIOSK_VOTES_PER_S: "0",
      RATE_LIMIT_RESULTS_PER_S: "500",
      CORS_ORIGINS: "https://dash.example.org, http://10.0.0.5:8080",
    });
    assert.equal(config.rateLimits.kioskVotesPerS, 0);
    assert.equal(config.rateLimits.resultsPerS, 500);
    assert.deepEqual(config.corsOrigins, ["https://dash.example.org", "http://10.0.0.5:8080"]);
    assert.equal(
      readIngestConfig({ RATE_LIMIT_COMPLETIONS_PER_MIN: "0" }).rateLimits.completionsPerMin,
      0,
    );
  });

  test("a teacher's sign-in link lives a day unless TEACHER_SIGN_IN_LINK_TTL_MS says", () => {
    assert.equal(readIngestConfig({}).registers.signInLinkTtlMs, 86_400_000);
    assert.equal(
      readIngestConfig({ TEACHER_SIGN_IN_LINK_TTL_MS: "3600000" }).registers.signInLinkTtlMs,
      3_600_000,
    );
    failsNaming({ TEACHER_SIGN_IN_LINK_TTL_MS: "10" }, "TEACHER_SIGN_IN_LINK_TTL_MS", /./);
    assert.equal(readIngestConfig({}).registers.teacherDayMaxRegisters, 2_000);
    failsNaming({ TEACHER_DAY_MAX_REGISTERS: "0" }, "TEACHER_DAY_MAX_REGISTERS", /./);
  });

  test("kiosk pairing and health: defaults, PUBLIC_URL, and bad values naming the variable", () => {
    assert.deepEqual(readIngestConfig({}).kiosks, {
      pairingCodeTtlMs: 600_000,
      publicUrl: undefined,
      statusMaxBytes: 1_024,
      statusWriteMs: 5_000,
      seenRecentlyMs: 300_000,
      attentionSnapshotMs: 2_000,
    });
    const set = readIngestConfig({ PUBLIC_URL: "https://vote.example.org/tally/" });
    assert.equal(set.kiosks.publicUrl, "https://vote.example.org/tally");
    assert.equal(
      readIngestConfig({ PUBLIC_URL: "http://10.0.0.5:3000" }).kiosks.publicUrl,
      "http://10.0.0.5:3000",
    );
    failsNaming({ PUBLIC_URL: "vote.example.org" }, "PUBLIC_URL", /http\(s\) URL/);
    failsNaming({ PUBLIC_URL: "ftp://vote.example.org" }, "PUBLIC_URL");
    failsNaming({ PUBLIC_URL: "https://vote.example.org/?a=1" }, "PUBLIC_URL", /no query/);
    failsNaming({ PUBLIC_URL: "https://vote.example.org/#x" }, "PUBLIC_URL", /fragment/);
    failsNaming({ PAIRING_CODE_TTL_MS: "1000" }, "PAIRING_CODE_TTL_MS");
    failsNaming({ KIOSK_STATUS_MAX_BYTES: "100000" }, "KIOSK_STATUS_MAX_BYTES");
    failsNaming({ KIOSK_STATUS_WRITE_MS: "0" }, "KIOSK_STATUS_WRITE_MS");
    failsNaming({ KIOSK_SEEN_RECENTLY_MS: "soon" }, "KIOSK_SEEN_RECENTLY_MS");
    failsNaming({ RATE_LIMIT_PAIR_PER_MIN: "-1" }, "RATE_LIMIT_PAIR_PER_MIN");
    failsNaming({ RATE_LIMIT_PAIR_FAILURES_PER_MIN: "x" }, "RATE_LIMIT_PAIR_FAILURES_PER_MIN");
    const window = "RATE_LIMIT_PAIR_FAILURES_WINDOW_MS";
    assert.equal(readIngestConfig({ [window]: "5000" }).rateLimits.pairFailuresWindowMs, 5_000);
    failsNaming({ [window]: "1500" }, window, /whole seconds/);
    failsNaming({ [window]: "500" }, window, /at least 1000/);
  });

  test("people: defaults; a default page larger than the largest fails naming it", () => {
    assert.deepEqual(readIngestConfig({}).people, {
      pageDefault: 50,
      pageMax: 500,
      importMaxBytes: 5_242_880,
      importMaxRows: 100_000,
      importMaxErrors: 1_000,
      exportChunkRows: 5_000,
    });
    const set = readIngestConfig({ PEOPLE_PAGE_MAX: "20" });
    assert.deepEqual([set.people.pageDefault, set.people.pageMax], [20, 20]);
    failsNaming(
      { PEOPLE_PAGE_MAX: "20", PEOPLE_PAGE_DEFAULT: "30" },
      "PEOPLE_PAGE_DEFAULT",
      /at most 20/,
    );
    failsNaming({ PEOPLE_PAGE_MAX: "0" }, "PEOPLE_PAGE_MAX");
    failsNaming({ PEOPLE_IMPORT_MAX_BYTES: "5MB" }, "PEOPLE_IMPORT_MAX_BYTES");
    failsNaming({ PEOPLE_IMPORT_MAX_ROWS: "0" }, "PEOPLE_IMPORT_MAX_ROWS");
    failsNaming({ PEOPLE_IMPORT_MAX_ERRORS: "-1" }, "PEOPLE_IMPORT_MAX_ERRORS");
    failsNaming({ PEOPLE_EXPORT_CHUNK_ROWS: "10" }, "PEOPLE_EXPORT_CHUNK_ROWS");
  });

  test("a bad origin or limit fails naming its variable (TRUST_PROXY: http-config.test.ts)", () => {
    failsNaming(
      { CORS_ORIGINS: "https://dash.example.org/" },
      "CORS_ORIGINS",
      /"https:\/\/dash.example.org"/,
    );
    failsNaming({ CORS_ORIGINS: "https://a.org/app" }, "CORS_ORIGINS", /not an origin/);
    failsNaming({ CORS_ORIGINS: "dash.example.org" }, "CORS_ORIGINS", /not an origin/);
    failsNaming({ CORS_ORIGINS: "ftp://files.example.org" }, "CORS_ORIGINS");
    failsNaming({ CORS_ORIGINS: "*" }, "CORS_ORIGINS");
    failsNaming({ CORS_ORIGINS: "https://a.org,," }, "CORS_ORIGINS");
    failsNaming({ CORS_ORIGINS: "https://Dash.Example.org" }, "CORS_ORIGINS");
    failsNaming({ RATE_LIMIT_KIOSK_BATCHES_PER_S: "-1" }, "RATE_LIMIT_KIOSK_BATCHES_PER_S");
    failsNaming({ RATE_LIMIT_AUTH_FAILURES_PER_MIN: "many" }, "RATE_LIMIT_AUTH_FAILURES_PER_MIN");
    failsNaming({ RATE_LIMIT_REDIS_TIMEOUT_MS: "0" }, "RATE_LIMIT_REDIS_TIMEOUT_MS");
    failsNaming({ READYZ_CACHE_MS: "1s" }, "READYZ_CACHE_MS");
    failsNaming({ CORS_MAX_AGE_MS: "-1" }, "CORS_MAX_AGE_MS");
  });

  test("the ingest API refuses to start on a bad variable, exiting 2 and naming it", () => {
    const main = join(import.meta.dirname, "main.ts");
    const result = spawnSync(process.execPath, [main], {
      env: { PATH: process.env.PATH ?? "", PORT: "eighty" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /^configuration error: PORT: must be an integer, got "eighty"$/m);
  });
});

describe("ATTENDANCE_ANSWERS_WARM_MS", () => {
  test("60 s by default, 0 turns the answers made ahead off, beyond a day is refused", () => {
    assert.equal(readIngestConfig({}).attendance.answersWarmMs, 60_000);
    assert.equal(readIngestConfig({ ATTENDANCE_ANSWERS_WARM_MS: "0" }).attendance.answersWarmMs, 0);
    failsNaming({ ATTENDANCE_ANSWERS_WARM_MS: "86400001" }, "ATTENDANCE_ANSWERS_WARM_MS");
    failsNaming({ ATTENDANCE_ANSWERS_WARM_MS: "-1" }, "ATTENDANCE_ANSWERS_WARM_MS");
  });
});
