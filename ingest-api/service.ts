import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Express } from "express";
import { votesStreamOptions } from "../common/config.ts";
import type { Lifecycle } from "../common/lifecycle.ts";
import type { Logger } from "../common/logger.ts";
import { closeNats, connectNats } from "../common/nats.ts";
import { createPool } from "../common/postgres.ts";
import { closeRedis, connectRedis } from "../common/redis.ts";
import { ensureVotesStream } from "../common/votes-stream.ts";
import { createApp } from "./app.ts";
import type { IngestConfig } from "./config.ts";
import { createIngestMetrics } from "./ingest-metrics.ts";
import { RegistryCache } from "./registry-cache.ts";
import { ResultsEvents } from "./results-events.ts";
import { VotePublisher } from "./vote-publisher.ts";
import { VoteService } from "./vote-service.ts";
import { VoterGuard } from "./voter-guard.ts";

export interface IngestApi {
  app: Express;
  cache: RegistryCache;
  publisher: VotePublisher;
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
  const log = logger.child({ component: "ingest-api" });
  const pool = lifecycle.add(
    "postgres",
    createPool(config.databaseUrl, log, { max: config.pgPoolSize, applicationName: "ingest-api" }),
    (p) => p.end(),
  );
  const redis = lifecycle.add(
    "redis",
    await connectRedis(config.redisUrl, log, "ingest-api"),
    closeRedis,
  );
  let publisher: VotePublisher | undefined;
  const nc = lifecycle.add(
    "nats",
    await connectNats(config.natsUrl, "ingest-api", log, (up) => publisher?.setConnected(up)),
    closeNats,
  );
  await ensureVotesStream(nc, votesStreamOptions(config));
  publisher = new VotePublisher(nc, config.subjectPrefix, config.publishTimeoutMs, log);
  const cache = new RegistryCache(pool, config.databaseUrl, config.registryRefreshMs, log);
  await cache.start();
  lifecycle.add("registry-cache", cache, (c) => c.stop());

  // Pub/sub needs a connection of its own: one per process, shared by every SSE client.
  const subscriber = lifecycle.add(
    "redis-subscriber",
    await connectRedis(config.redisUrl, log, "ingest-api-results"),
    closeRedis,
  );
  const events = new ResultsEvents(subscriber, config.redisKeyPrefix, log);
  await events.start();
  const metrics = createIngestMetrics(
    () => cache.ageMs,
    () => events.clientCount,
  );
  const guard = new VoterGuard(
    redis,
    config.redisKeyPrefix,
    config.voterBucketBits,
    config.voterRetentionMs,
  );
  const votes = new VoteService(cache, publisher, guard, metrics, {
    castAtMaxSkewMs: config.castAtMaxSkewMs,
    castAtMaxAgeMs: config.castAtMaxAgeMs,
    lateVoteGraceMs: config.lateVoteGraceMs,
  });
  const app = createApp({
    pool,
    redis,
    cache,
    publisher,
    guard,
    votes,
    metrics,
    logger: log,
    adminToken: config.adminToken,
    limits: config,
    events,
    keyPrefix: config.redisKeyPrefix,
    resultsIntervalMs: config.resultsIntervalMs,
  });
  return { app, cache, publisher };
}

/** Builds the API and listens; stopping closes the server first, letting in-flight requests finish. */
export async function startIngestApi(
  config: IngestConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<{ url: string; server: Server }> {
  const { app } = await buildIngestApi(config, logger, lifecycle);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, config.host, (err?: Error) =>
      err ? reject(err) : resolve(s),
    );
  });
  server.keepAliveTimeout = 65_000; // longer than typical load balancer idle timeouts
  lifecycle.add("http", server, (s) => closeServer(s));
  const { port } = server.address() as AddressInfo;
  const host = config.host === "0.0.0.0" ? "127.0.0.1" : config.host;
  const url = `http://${host}:${port}`;
  if (config.adminTokenIsDefault)
    logger.warn(
      { adminToken: config.adminToken },
      "using the development admin token (set ADMIN_TOKEN)",
    );
  logger.info({ url }, "ingest API listening");
  return { url, server };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
