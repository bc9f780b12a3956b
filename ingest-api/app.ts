import express, { type Express } from "express";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { resultsKeys } from "../common/results-contract.ts";
import { healthRoutes } from "./health-routes.ts";
import type { HttpExposureConfig } from "./http-config.ts";
import { errorMiddleware, notFoundHandler } from "./http-errors.ts";
import type { IngestMetrics } from "./ingest-metrics.ts";
import { publicPollRoutes } from "./public-poll-routes.ts";
import type { RegistryCache } from "./registry-cache.ts";
import { registryRoutes } from "./registry-routes.ts";
import type { ResultsCache } from "./results-cache.ts";
import type { ResultsEvents } from "./results-events.ts";
import { resultsCacheControl, resultsFastPath } from "./results-fast-path.ts";
import { type EventStreamOptions, resultsRoutes } from "./results-routes.ts";
import { apiSecurityHeaders } from "./security-headers.ts";
import type { VotePublisher } from "./vote-publisher.ts";
import { type VoteRouteLimits, voteRoutes } from "./vote-routes.ts";
import type { VoteService } from "./vote-service.ts";
import type { VoterGuard } from "./voter-guard.ts";
import { webRoutes } from "./web-routes.ts";

export interface AppDeps {
  pool: Pool;
  redis: RedisClient;
  cache: RegistryCache;
  publisher: VotePublisher;
  guard: VoterGuard;
  votes: VoteService;
  metrics: IngestMetrics;
  logger: Logger;
  adminToken: string;
  limits: VoteRouteLimits;
  events: ResultsEvents;
  results: ResultsCache;
  keyPrefix: string;
  resultsIntervalMs: number;
  /** Which proxies' X-Forwarded-For to believe, and HSTS. */
  exposure: Pick<HttpExposureConfig, "trustProxy" | "hstsMaxAgeSeconds">;
  streams: EventStreamOptions;
}

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // req.ip: the socket's address, or X-Forwarded-For's entry left of the trusted proxies.
  app.set("trust proxy", deps.exposure.trustProxy);
  app.use(apiSecurityHeaders(deps.exposure.hstsMaxAgeSeconds));
  app.use(
    resultsFastPath(
      deps.cache,
      deps.results,
      deps.metrics,
      resultsCacheControl(deps.resultsIntervalMs),
    ),
  );
  const { httpRequests, httpDuration } = deps.metrics;
  app.use((req, res, next) => {
    const started = performance.now();
    res.on("finish", () => {
      const route = req.route ? `${req.baseUrl}${req.route.path}` : "unmatched";
      httpRequests.inc({ method: req.method, route, status: res.statusCode });
      httpDuration.observe({ route }, (performance.now() - started) / 1000);
    });
    next();
  });
  app.use(voteRoutes(deps.votes, deps.cache, deps.limits));
  app.use(
    resultsRoutes(deps.cache, deps.results, deps.events, deps.resultsIntervalMs, deps.streams),
  );
  app.use(
    registryRoutes(
      deps.pool,
      deps.cache,
      deps.guard,
      deps.adminToken,
      deps.logger,
      async (pollId) => {
        const keys = resultsKeys(deps.keyPrefix, pollId);
        await deps.redis.del([keys.json, keys.png, keys.version]);
        deps.results.forget(pollId);
      },
    ),
  );
  app.use(
    healthRoutes(
      deps.pool,
      deps.publisher,
      deps.redis,
      deps.metrics.registry,
      () => deps.cache.ageMs,
    ),
  );
  app.use(publicPollRoutes(deps.cache, deps.resultsIntervalMs));
  app.use(webRoutes(deps.cache)); // the pages, with their own security headers (helmet)
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.logger));
  return app;
}
