import type { Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { jetstreamManager } from "@nats-io/jetstream";
import type { Express } from "express";
import type { Registry } from "prom-client";
import { listenLiveness, redisLiveness, votesStreamOptions } from "../common/config.ts";
import { JetStreamHealer } from "../common/jetstream-heal.ts";
import { warnDrift } from "../common/jetstream-settings.ts";
import type { Lifecycle } from "../common/lifecycle.ts";
import type { Logger } from "../common/logger.ts";
import { addMetricsServer } from "../common/metrics-server.ts";
import { addNats } from "../common/nats.ts";
import type { Pool } from "../common/postgres.ts";
import { addRedis } from "../common/redis.ts";
import { openServiceBase } from "../common/service-base.ts";
import { provisionVotesStream } from "../common/votes-stream.ts";
import { createApp } from "./app.ts";
import { AttendanceSettingsService } from "./attendance/attendance-settings-service.ts";
import { AttendanceState } from "./attendance/attendance-state.ts";
import { AttendanceStateRebuild } from "./attendance/attendance-state-rebuild.ts";
import { DayAnnouncements } from "./attendance/day-announcements.ts";
import { DayDocuments } from "./attendance/day-documents.ts";
import { HolidaysService } from "./attendance/holidays-service.ts";
import { RosterNames } from "./attendance/roster-names.ts";
import type { IngestConfig } from "./config.ts";
import { buildConsoleParts } from "./console/console-mount.ts";
import { checkDescriptorBudget } from "./http/descriptor-budget.ts";
import { createHttpServer, listen } from "./http/http-server.ts";
import { createIngestMetrics } from "./http/ingest-metrics.ts";
import { RateLimits } from "./http/rate-limits.ts";
import { KioskHealth } from "./kiosks/kiosk-health.ts";
import { KnownPeople } from "./people/known-people.ts";
import { registerKnownPeopleMetrics } from "./people/known-people-metrics.ts";
import { PeopleService } from "./people/people-service.ts";
import { CompletionService } from "./registers/completion-service.ts";
import { completerKey } from "./registers/register-routes.ts";
import { TeacherService } from "./registers/teacher-service.ts";
import { TeacherSignIn } from "./registers/teacher-sign-in.ts";
import { RegistryCache } from "./registry/registry-cache.ts";
import { RegistryService } from "./registry/registry-service.ts";
import { ResultsCache } from "./results/results-cache.ts";
import { registerResultsCacheMetrics } from "./results/results-cache-metrics.ts";
import { ResultsEvents } from "./results/results-events.ts";
import { StreamAdmission } from "./results/sse-admission.ts";
import { SchoolService } from "./schools/school-service.ts";
import { resolveMaxMessageBytes } from "./votes/vote-messages.ts";
import { VotePublisher } from "./votes/vote-publisher.ts";
import { VoteService } from "./votes/vote-service.ts";
import { VoterClaimsRebuild } from "./votes/voter-claims-rebuild.ts";
import { VoterGuard } from "./votes/voter-guard.ts";
import { votesStreamProgress } from "./votes/votes-stream-progress.ts";

export interface IngestApi {
  app: Express;
  cache: RegistryCache;
  /** The active people of every school, for `voters: "roster"` polls. */
  people: KnownPeople;
  registry: RegistryService;
  publisher: VotePublisher;
  events: ResultsEvents;
  voterClaims: VoterClaimsRebuild;
  /** The "already checked in" state and its rebuild after Redis came back empty. */
  attendanceState: AttendanceState;
  attendanceStateRebuild: AttendanceStateRebuild;
  results: ResultsCache;
  /** The in-process copy of the schools' day documents. */
  attendance: DayDocuments;
  /** The SSE slots held, in total and per address. */
  streamAdmission: StreamAdmission;
  /** What the metrics port serves (tests read it directly). */
  metricsRegistry: Registry;
  /** The API's Postgres pool (tests read its idle and total counts). */
  pool: Pool;
  /** The port /metrics listens on (API_METRICS_PORT); undefined when off. */
  metricsPort: number | undefined;
}

/**
 * Connects everything the API needs, registering each closer with the lifecycle so that
 * shutdown runs in reverse: HTTP intake, cache, NATS drain, Redis, then the pool.
 */
export async function buildIngestApi(
  config: IngestConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<IngestApi> {
  const service = "ingest-api";
  const { log, pool } = openServiceBase(service, config, config.pgPoolSize, logger, lifecycle);
  const redis = await addRedis(lifecycle, config.redisUrl, log, service, redisLiveness(config));
  let publisher: VotePublisher | undefined;
  let healer: JetStreamHealer | undefined;
  const nc = await addNats(lifecycle, config, service, log, (up) => {
    publisher?.setConnected(up);
    // The server we reconnected to may be a new one without our stream: check at once
    // rather than on the first failing vote.
    if (up) void healer?.check();
  });
  // `npm run migrate` owns the stream's settings: the API creates the stream only when it is
  // missing (first start without a migration, or a NATS server that lost its store) and
  // warns about any setting that differs from its own environment.
  const ensureStream = async () => provisionVotesStream(nc, votesStreamOptions(config), "check");
  warnDrift(log, (await ensureStream()).drift);
  healer = new JetStreamHealer(
    "votes stream",
    async () => (await ensureStream()).created,
    config.jetstreamHealIntervalMs,
    log,
  );
  publisher = new VotePublisher(nc, {
    subjectPrefix: config.subjectPrefix,
    timeoutMs: config.publishTimeoutMs,
    retries: config.publishRetries,
    retryDelayMs: config.publishRetryDelayMs,
    healer,
    logger: log,
  });
  const cache = new RegistryCache(
    pool,
    config.databaseUrl,
    config.registryRefreshMs,
    log,
    listenLiveness(config),
  );
  await cache.start();
  lifecycle.add("registry-cache", cache, (c) => c.stop());
  const people = new KnownPeople({
    databaseUrl: config.databaseUrl,
    refreshMs: config.peopleRefreshMs,
    loadTimeoutMs: config.peopleLoadTimeoutMs,
    logger: log,
    liveness: listenLiveness(config),
  });
  // Registered before the load: a start that fails half-way still closes the LISTEN connection.
  lifecycle.add("known-people", people, (p) => p.stop());
  await people.start();

  // Pub/sub needs a connection of its own: one per process, shared by every SSE client.
  const subscriber = await addRedis(
    lifecycle,
    config.redisUrl,
    log,
    `${service}-results`,
    redisLiveness(config),
    "redis-subscriber",
  );
  const results = new ResultsCache(
    redis,
    config.redisKeyPrefix,
    {
      checkMs: config.resultsCacheCheckMs,
      maxPolls: config.resultsCacheMaxPolls,
      maxBytes: config.resultsCacheMaxBytes,
    },
    log,
  );
  const events = new ResultsEvents(subscriber, config.redisKeyPrefix, log);
  events.onEveryPoll((event) => results.announce(event));
  // Announcements sent while the subscriber was away are lost: compare every version now.
  subscriber.on("ready", () => void results.check());
  await events.start();
  results.start();
  lifecycle.add("results-cache", results, (r) => r.stop());
  // The schools' day documents, likewise: one copy per process, told by the same subscriber.
  const attendance = new DayDocuments(
    redis,
    config.redisKeyPrefix,
    {
      checkMs: config.resultsCacheCheckMs,
      maxDocuments: config.attendance.cacheMaxDocuments,
      maxBytes: config.attendance.cacheMaxBytes,
      gzipMinBytes: config.attendance.gzipMinBytes,
      warmWhileReadMs: config.attendance.answersWarmMs,
    },
    log,
  );
  const dayAnnouncements = new DayAnnouncements(subscriber, config.redisKeyPrefix, log);
  dayAnnouncements.onEverySchool((event) => attendance.announce(event));
  subscriber.on("ready", () => void attendance.check());
  await dayAnnouncements.start();
  attendance.start();
  lifecycle.add("attendance-documents", attendance, (a) => a.stop());
  // Names for the school's own admin, dropped whenever the known people hear a change.
  const rosterNames = new RosterNames(pool, {
    maxSchools: config.attendance.namesCacheSchools,
    maxAgeMs: config.peopleRefreshMs,
  });
  people.onChange((schoolId) => rosterNames.changed(schoolId));
  const metrics = createIngestMetrics(
    () => cache.ageMs,
    () => events.clientCount + dayAnnouncements.clientCount,
  );
  registerResultsCacheMetrics(metrics.registry, results);
  registerKnownPeopleMetrics(metrics.registry, people);
  const guard = new VoterGuard(
    redis,
    config.redisKeyPrefix,
    config.voterBucketBits,
    config.voterRetentionMs,
  );
  const streamProgress = votesStreamProgress(await jetstreamManager(nc), config.streamName);
  // Before the API takes votes: a Redis that came back empty gets its claims back first.
  const claims = new VoterClaimsRebuild(
    pool,
    redis,
    guard,
    {
      checkIntervalMs: config.voterClaimsCheckMs,
      batchRows: config.voterRebuildBatchRows,
      lockMs: config.voterRebuildLockMs,
      writerWaitMs: config.voterRebuildWriterWaitMs,
    },
    log,
    streamProgress,
  );
  await claims.start();
  lifecycle.add("voter-claims", claims, (c) => c.stop());
  const attendanceConfig = config.attendanceState;
  const attendanceState = new AttendanceState(
    redis,
    {
      keyPrefix: config.redisKeyPrefix,
      bucketBits: attendanceConfig.bucketBits,
      expiryMarginMs: attendanceConfig.expiryMarginMs,
    },
    log,
  );
  // Likewise the "already checked in" state, from attendance_days.
  const attendanceStateRebuild = new AttendanceStateRebuild(
    pool,
    redis,
    attendanceState,
    {
      checkIntervalMs: attendanceConfig.checkMs,
      batchRows: attendanceConfig.rebuildBatchRows,
      lockMs: attendanceConfig.rebuildLockMs,
      writerWaitMs: attendanceConfig.rebuildWriterWaitMs,
    },
    log,
    streamProgress,
  );
  await attendanceStateRebuild.start();
  lifecycle.add("attendance-state", attendanceStateRebuild, (r) => r.stop());
  const votes = new VoteService(
    cache,
    people,
    publisher,
    guard,
    metrics,
    {
      castAtMaxSkewMs: config.castAtMaxSkewMs,
      castAtMaxAgeMs: config.castAtMaxAgeMs,
      lateVoteGraceMs: config.lateVoteGraceMs,
      maxMessageBytes: resolveMaxMessageBytes(config.maxMessageBytes, nc.info?.max_payload),
    },
    attendanceState,
  );
  // Closed before Redis (the lifecycle runs backwards): its last write still goes out.
  const health = lifecycle.add(
    "kiosk-health",
    new KioskHealth(redis, config.redisKeyPrefix, config.kiosks, metrics.registry, log),
    (h) => h.stop(),
  );
  health.start();
  const registry = new RegistryService({
    pool,
    cache,
    guard,
    claims,
    health,
    pairingCodeTtlMs: config.kiosks.pairingCodeTtlMs,
    attentionSnapshotMs: config.kiosks.attentionSnapshotMs,
    logger: log,
    // Only a school's first register (or one whose people are in no group) reads it again.
    registerCreated: async (schoolId) => {
      if (!people.holdsGroupsOf(schoolId)) await people.reloadSchool(schoolId);
    },
  });
  const schools = new SchoolService({ pool, cache, registry, logger: log });
  const roster = new PeopleService({ pool, limits: config.people, logger: log });
  const rateLimits = new RateLimits(
    redis,
    config.redisKeyPrefix,
    config.rateLimits,
    metrics.registry,
    log,
  );
  const resultsReads = { cache, results, resultsIntervalMs: config.resultsIntervalMs };
  const streamAdmission = new StreamAdmission(
    config,
    // Retry-After of a 503: the page polls the JSON each interval meanwhile.
    Math.max(1, Math.round(config.resultsIntervalMs / 1000)),
    metrics.registry,
  );
  const app = createApp({
    http: {
      exposure: config,
      corsOrigins: config.corsOrigins,
      corsMaxAgeMs: config.corsMaxAgeMs,
      rateLimits,
      metrics,
      logger: log,
    },
    votes: {
      votes,
      cache,
      limits: config,
      throttles: { votes: rateLimits.kiosk("votes"), batches: rateLimits.kiosk("batches") },
      track: health.track,
    },
    kiosks: {
      registry,
      cache,
      health,
      metrics,
      kiosks: config.kiosks,
      bodyLimits: config.bodyLimits,
      pairThrottle: rateLimits.pairing(),
      pairFailures: rateLimits.pairingFailures,
      kioskThrottle: rateLimits.kiosk("batches"),
    },
    kioskApp: { cache },
    kioskAttendance: {
      cache,
      people,
      state: attendanceState,
      throttle: rateLimits.kiosk("votes"),
      track: health.track,
    },
    registry: {
      registry,
      cache,
      adminToken: config.adminToken,
      kiosks: config.kiosks,
      bodyLimits: config.bodyLimits,
      pages: config.listPages,
    },
    schools: {
      schools,
      cache,
      adminToken: config.adminToken,
      bodyLimits: config.bodyLimits,
      pages: config.listPages,
    },
    people: {
      people: roster,
      cache,
      adminToken: config.adminToken,
      limits: config.people,
      bodyLimits: config.bodyLimits,
    },
    attendanceSettings: {
      settings: new AttendanceSettingsService({ pool, cache, logger: log }),
      cache,
      adminToken: config.adminToken,
      bodyLimits: config.bodyLimits,
    },
    holidays: {
      holidays: new HolidaysService({ pool }),
      cache,
      adminToken: config.adminToken,
      limits: config.attendanceReads,
      bodyLimits: config.bodyLimits,
    },
    attendanceReads: {
      pool,
      cache,
      now: Date.now,
      adminToken: config.adminToken,
      limits: config.attendanceReads,
    },
    exports: {
      pool,
      cache,
      now: Date.now,
      adminToken: config.adminToken,
      limits: config.attendanceReads,
      maxMs: config.exports.maxMs,
    },
    results: resultsReads,
    resultsPng: { ...resultsReads, redis, keyPrefix: config.redisKeyPrefix },
    eventStream: {
      ...resultsReads,
      events,
      streams: {
        admission: streamAdmission,
        heartbeatMs: config.sseHeartbeatMs,
        maxBufferedBytes: config.sseMaxBufferedBytes,
      },
    },
    publicPolls: { cache, resultsIntervalMs: config.resultsIntervalMs },
    attendance: {
      cache,
      documents: attendance,
      announcements: dayAnnouncements,
      names: rosterNames,
      adminToken: config.adminToken,
      daysKept: config.attendanceDaysKept,
      resultsIntervalMs: config.resultsIntervalMs,
      streams: {
        admission: streamAdmission,
        heartbeatMs: config.sseHeartbeatMs,
        maxBufferedBytes: config.sseMaxBufferedBytes,
      },
      tracker: events,
    },
    health: {
      pool,
      publisher,
      redis,
      registryAgeMs: () => cache.ageMs,
      readyzCacheMs: config.readyzCacheMs,
      logger: log,
    },
    web: { cache },
    registers: {
      adminToken: config.adminToken,
      cache,
      pool,
      redis,
      redisKeyPrefix: config.redisKeyPrefix,
      completions: new CompletionService(cache, publisher, config),
      teachers: new TeacherService(pool, cache, log),
      config: config.registers,
      bodyLimits: config.bodyLimits,
      resultsIntervalMs: config.resultsIntervalMs,
      logger: log,
      completionThrottle: rateLimits.completions(completerKey),
    },
    registerPage: {
      adminToken: config.adminToken,
      dayMaxRegisters: config.registers.teacherDayMaxRegisters,
      cache,
      pool,
      signIn: new TeacherSignIn(
        { pool, cache, logger: log },
        { adminToken: config.adminToken, ttlMs: config.registers.signInLinkTtlMs },
      ),
      publicUrl: config.kiosks.publicUrl,
      bodyLimits: config.bodyLimits,
      signInThrottle: rateLimits.pairing(),
      signInFailures: rateLimits.pairingFailures,
    },
    deadLetters: {
      pool,
      cache,
      adminToken: config.adminToken,
      publisher,
      subjectPrefix: config.subjectPrefix,
      config: config.deadLetters,
    },
    console: buildConsoleParts({
      pool,
      cache,
      redis,
      config,
      registry: metrics.registry,
      logger: log,
    }),
  });
  // Never on the API port: public clients neither see nor pay for a scrape.
  const metricsPort = await addMetricsServer(lifecycle, metrics.registry, config, {
    pool,
    connected: () => redis.isReady && publisher.connected,
  });
  return {
    app,
    cache,
    people,
    registry,
    publisher,
    events,
    results,
    attendance,
    voterClaims: claims,
    attendanceState,
    attendanceStateRebuild,
    streamAdmission,
    metricsRegistry: metrics.registry,
    metricsPort,
    pool,
  };
}

/** Builds the API and listens; stopping closes the server first, letting in-flight requests finish. */
export async function startIngestApi(
  config: IngestConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ url: string; server: Server; metricsPort: number | undefined }> {
  const { app, events, metricsPort } = await buildIngestApi(config, logger, lifecycle);
  checkDescriptorBudget(config, logger);
  const server = createHttpServer(app, config);
  await listen(server, config.port, config.host);
  const inFlight = countRequests(server);
  lifecycle.add("http", server, (s) => closeServer(s, inFlight, events));
  const { port } = server.address() as AddressInfo;
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${host}:${port}`;
  if (config.adminTokenIsDefault)
    logger.warn(
      { adminToken: config.adminToken },
      "using the development admin token (set ADMIN_TOKEN)",
    );
  logger.info({ url, metricsPort }, "ingest API listening");
  return { url, server, metricsPort };
}

/** The requests whose responses have not closed yet, and a wait for there to be none. */
interface InFlight {
  none(): Promise<void>;
}

function countRequests(server: Server): InFlight {
  let active = 0;
  let waiting: (() => void)[] = [];
  server.on("request", (_req, res: ServerResponse) => {
    active++;
    res.once("close", () => {
      if (--active > 0) return;
      for (const resolve of waiting) resolve();
      waiting = [];
    });
  });
  return {
    none: () =>
      active === 0 ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve)),
  };
}

/**
 * Stops accepting, ends the SSE streams (they never finish by themselves), lets the other
 * in-flight requests finish, then closes every connection left: keep-alive connections
 * idle by then would otherwise hold server.close() until the lifecycle deadline, leaving
 * the closers after this one (the NATS drain) almost no time.
 */
async function closeServer(server: Server, inFlight: InFlight, events: ResultsEvents) {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  events.endStreams();
  server.closeIdleConnections();
  await inFlight.none();
  server.closeAllConnections();
  await closed;
}
