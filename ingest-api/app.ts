import express, { type Express } from "express";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import type { KioskConfig } from "./config.ts";
import { healthRoutes } from "./health/health-routes.ts";
import { CORS_PATHS, corsHandler } from "./http/cors.ts";
import type { HttpExposureConfig } from "./http/http-config.ts";
import { errorMiddleware, notFoundHandler } from "./http/http-errors.ts";
import type { IngestMetrics } from "./http/ingest-metrics.ts";
import type { AddressLimit, RateLimits } from "./http/rate-limits.ts";
import { apiSecurityHeaders } from "./http/security-headers.ts";
import { kioskAppRoutes } from "./kiosks/kiosk-app-routes.ts";
import { kioskClientRoutes } from "./kiosks/kiosk-client-routes.ts";
import type { KioskHealth } from "./kiosks/kiosk-health.ts";
import { kioskRoutes } from "./kiosks/kiosk-routes.ts";
import type { RegistryCache } from "./registry/registry-cache.ts";
import { registryRoutes } from "./registry/registry-routes.ts";
import type { RegistryService } from "./registry/registry-service.ts";
import { publicPollRoutes } from "./results/public-poll-routes.ts";
import type { ResultsCache } from "./results/results-cache.ts";
import type { ResultsEvents } from "./results/results-events.ts";
import { RESULTS_ROUTE, resultsFastPath } from "./results/results-fast-path.ts";
import { type EventStreamOptions, resultsRoutes } from "./results/results-routes.ts";
import type { VotePublisher } from "./votes/vote-publisher.ts";
import { type VoteRouteLimits, voteRoutes } from "./votes/vote-routes.ts";
import type { VoteService } from "./votes/vote-service.ts";
import { webRoutes } from "./web/web-routes.ts";

export interface AppDeps {
  pool: Pool;
  redis: RedisClient;
  cache: RegistryCache;
  publisher: VotePublisher;
  registry: RegistryService;
  votes: VoteService;
  metrics: IngestMetrics;
  logger: Logger;
  adminToken: string;
  limits: VoteRouteLimits;
  events: ResultsEvents;
  /** The in-process copy of the current publications (the read path's source). */
  results: ResultsCache;
  keyPrefix: string;
  resultsIntervalMs: number;
  /** Which proxies' X-Forwarded-For to believe, and HSTS. */
  exposure: Pick<HttpExposureConfig, "trustProxy" | "hstsMaxAgeSeconds">;
  streams: EventStreamOptions;
  rateLimits: RateLimits;
  readyzCacheMs: number;
  corsOrigins: readonly string[];
  corsMaxAgeMs: number;
  health: KioskHealth;
  kiosks: Pick<KioskConfig, "publicUrl" | "statusMaxBytes">;
}

/** The unauthenticated routes, each throttled per client address under one named limit. */
const ADDRESS_LIMITS: Record<AddressLimit, string[]> = {
  results: [
    "/v1/polls/:pollId/results",
    "/v1/polls/:pollId/results.png",
    "/v1/public/polls",
    "/v1/public/polls/:pollId",
  ],
  sse_connects: ["/v1/polls/:pollId/events"],
  readyz: ["/readyz"],
  pages: [
    "/",
    "/dashboard/:pollId",
    "/kiosk/:pollId",
    "/assets/{*file}",
    "/vendor/{*file}",
    "/common/browser/:file",
    "/pair",
    "/vote",
    "/vote/:pollId",
    "/kiosk-app/{*file}",
    "/kiosk-sw.js",
  ],
};

export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // req.ip: the socket's address, or X-Forwarded-For's entry left of the trusted proxies.
  app.set("trust proxy", deps.exposure.trustProxy);
  app.use(apiSecurityHeaders(deps.exposure.hstsMaxAgeSeconds));
  const cors = corsHandler(deps.corsOrigins, deps.corsMaxAgeMs);
  // The results JSON's hot path. Without a per-address results limit, a hit needs none of
  // the layers below (metrics middleware, throttles, routers): it is answered here, with
  // its CORS headers, and counts itself in the request metrics. With one, it comes after
  // the throttle (each read then costs the limit's Redis call anyway).
  const hitsAhead = !deps.rateLimits.limitsByAddress("results");
  if (hitsAhead)
    app.get(RESULTS_ROUTE, ...(cors ? [cors] : []), resultsFastPath(deps, deps.metrics));
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
  // CORS first, so that a browser can read the 429s and 503s of these routes too.
  if (cors) app.use(CORS_PATHS, cors);
  app.use(deps.rateLimits.authFailures);
  // One layer per path (not an array), so a 429's metrics route label is that path.
  for (const [limit, paths] of Object.entries(ADDRESS_LIMITS) as [AddressLimit, string[]][]) {
    const throttle = deps.rateLimits.byAddress(limit);
    for (const path of paths) app.get(path, throttle);
  }
  app.use(
    voteRoutes({
      ...deps,
      throttles: {
        votes: deps.rateLimits.kiosk("votes"),
        batches: deps.rateLimits.kiosk("batches"),
      },
      track: deps.health.track,
    }),
  );
  app.use(
    kioskRoutes({
      ...deps,
      pairThrottle: deps.rateLimits.pairing(),
      kioskThrottle: deps.rateLimits.kiosk("batches"),
    }),
  );
  if (!hitsAhead) app.get(RESULTS_ROUTE, resultsFastPath(deps));
  app.use(resultsRoutes(deps));
  app.use(registryRoutes(deps));
  app.use(
    healthRoutes({
      ...deps,
      metricsRegistry: deps.metrics.registry,
      registryAgeMs: () => deps.cache.ageMs,
    }),
  );
  app.use(publicPollRoutes(deps));
  app.use(webRoutes(deps)); // the pages, with their own security headers (helmet)
  app.use(kioskClientRoutes()); // the outbox library as browser modules
  app.use(kioskAppRoutes(deps)); // the kiosk app's pages and service worker
  app.use(notFoundHandler);
  app.use(errorMiddleware(deps.logger));
  return app;
}
