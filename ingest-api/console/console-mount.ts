import type { Express } from "express";
import type { Registry } from "prom-client";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { IngestConfig } from "../config.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { auditRecorder } from "./audit-recorder.ts";
import { auditRoutes } from "./audit-routes.ts";
import { consolePageRoutes } from "./console-page-routes.ts";
import { consoleRoutes } from "./console-routes.ts";
import { ConsoleService } from "./console-service.ts";
import { consoleSessionLayer } from "./session-layer.ts";
import { SignInLimit } from "./sign-in-limit.ts";

/** The console's parts, built once per process (service.ts) and mounted by app.ts. */
export interface ConsoleParts {
  pool: Pool;
  cache: RegistryCache;
  service: ConsoleService;
  signIn: SignInLimit;
  config: IngestConfig;
  registry: Registry;
  logger: Logger;
}

export function buildConsoleParts(deps: {
  pool: Pool;
  cache: RegistryCache;
  redis: RedisClient;
  config: IngestConfig;
  registry: Registry;
  logger: Logger;
}): ConsoleParts {
  const { pool, cache, config } = deps;
  return {
    ...deps,
    service: new ConsoleService({ pool, cache, config: config.console }),
    signIn: new SignInLimit({
      redis: deps.redis,
      keyPrefix: config.redisKeyPrefix,
      perMin: config.console.signInFailuresPerMin,
      registry: deps.registry,
      logger: deps.logger,
    }),
  };
}

/** The URL paths the console's page and modules answer (throttled as pages). */
export const CONSOLE_PAGE_PATHS = ["/console", "/console/", "/console/assets/{*file}"];

/** The kiosks' own routes (votes, pairing, heartbeat, attendance state): never an admin's. */
const KIOSK_PATHS = /^\/v1\/(votes|pair$|kiosk(\/|$)|attendance)/;

function adminPath(path: string): boolean {
  return path.startsWith("/v1/") && !KIOSK_PATHS.test(path);
}

/**
 * Ahead of every admin router: the session layer (a cookie becomes the actor requireAdmin
 * takes; CSRF on state-changing requests) and the audit recorder (every admin change that
 * succeeded). Both look at /v1/ only: the pages and assets cost no query.
 */
export function mountConsoleLayers(app: Express, parts: ConsoleParts): void {
  const session = consoleSessionLayer(parts.service);
  const audit = auditRecorder(parts);
  app.use((req, res, next) => (req.path.startsWith("/v1/") ? session(req, res, next) : next()));
  app.use((req, res, next) => (adminPath(req.path) ? audit(req, res, next) : next()));
}

/** The console's API (invites, sessions, the audit log) and its page. */
export function mountConsoleRoutes(app: Express, parts: ConsoleParts): void {
  const { config } = parts;
  app.use(
    consoleRoutes({
      console: parts.service,
      cache: parts.cache,
      adminToken: config.adminToken,
      config: config.console,
      signIn: parts.signIn,
      publicUrl: config.kiosks.publicUrl,
      kioskOfflineMs: config.kiosks.seenRecentlyMs,
      bodyLimits: config.bodyLimits,
    }),
  );
  app.use(
    auditRoutes({
      pool: parts.pool,
      cache: parts.cache,
      adminToken: config.adminToken,
      config: config.console,
    }),
  );
  app.use(consolePageRoutes());
}
