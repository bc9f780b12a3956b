import express, { type Express } from "express";
import type { Logger } from "../common/logger.ts";
import {
  type AttendanceReadRouteDeps,
  attendanceReadRoutes,
} from "./attendance/attendance-reads-routes.ts";
import {
  type AttendanceSettingsRouteDeps,
  attendanceSettingsRoutes,
} from "./attendance/attendance-settings-routes.ts";
import {
  ATTENDANCE_DAY_ROUTE,
  type DayRouteDeps,
  dayRoutes,
  PUBLIC_ATTENDANCE_ROUTE,
} from "./attendance/day-routes.ts";
import { type HolidaysRouteDeps, holidaysRoutes } from "./attendance/holidays-routes.ts";
import {
  type KioskAttendanceRouteDeps,
  kioskAttendanceRoutes,
} from "./attendance/kiosk-attendance-routes.ts";
import {
  CONSOLE_PAGE_PATHS,
  type ConsoleParts,
  mountConsoleLayers,
  mountConsoleRoutes,
} from "./console/console-mount.ts";
import { type DeadLetterRouteDeps, deadLetterRoutes } from "./dead-letters/dead-letter-routes.ts";
import { type ExportRouteDeps, exportRoutes } from "./exports/export-routes.ts";
import { type HealthRouteDeps, healthRoutes } from "./health/health-routes.ts";
import { CORS_PATHS, corsHandler } from "./http/cors.ts";
import type { HttpExposureConfig } from "./http/http-config.ts";
import { errorMiddleware, notFoundHandler } from "./http/http-errors.ts";
import type { IngestMetrics } from "./http/ingest-metrics.ts";
import type { AddressLimit, RateLimits } from "./http/rate-limits.ts";
import { apiSecurityHeaders } from "./http/security-headers.ts";
import { type KioskAppRouteDeps, kioskAppRoutes } from "./kiosks/kiosk-app-routes.ts";
import { kioskClientRoutes } from "./kiosks/kiosk-client-routes.ts";
import { type KioskRouteDeps, kioskRoutes } from "./kiosks/kiosk-routes.ts";
import { OPENAPI_PATH, REFERENCE_PAGE_PATH } from "./openapi/openapi-document.ts";
import { openApiRoutes } from "./openapi/openapi-routes.ts";
import { type PeopleRouteDeps, peopleRoutes } from "./people/people-routes.ts";
import {
  type RegisterPageRouteDeps,
  registerPageRoutes,
} from "./registers/register-page-routes.ts";
import { type RegisterRouteDeps, registerRoutes } from "./registers/register-routes.ts";
import { type RegistryRouteDeps, registryRoutes } from "./registry/registry-routes.ts";
import { type EventStreamRouteDeps, eventStreamRoute } from "./results/event-stream-route.ts";
import { type PublicPollRouteDeps, publicPollRoutes } from "./results/public-poll-routes.ts";
import { RESULTS_ROUTE } from "./results/results-http.ts";
import { type ResultsJsonRouteDeps, resultsJsonRoute } from "./results/results-json-route.ts";
import { type ResultsPngRouteDeps, resultsPngRoute } from "./results/results-png-route.ts";
import { type SchoolRouteDeps, schoolRoutes } from "./schools/school-routes.ts";
import { type VoteRouteDeps, voteRoutes } from "./votes/vote-routes.ts";
import { type WebRouteDeps, webRoutes } from "./web/web-routes.ts";

/** The layers every request passes through (http/): headers, CORS, limits, metrics, errors. */
export interface HttpLayers {
  /** Which proxies' X-Forwarded-For to believe, and HSTS. */
  exposure: Pick<HttpExposureConfig, "trustProxy" | "hstsMaxAgeSeconds">;
  corsOrigins: readonly string[];
  corsMaxAgeMs: number;
  rateLimits: RateLimits;
  metrics: IngestMetrics;
  logger: Logger;
}

/** What the app is made of: the HTTP layers and each feature's own dependencies. */
export interface AppParts {
  http: HttpLayers;
  votes: VoteRouteDeps;
  kiosks: KioskRouteDeps;
  kioskApp: KioskAppRouteDeps;
  kioskAttendance: KioskAttendanceRouteDeps;
  registry: RegistryRouteDeps;
  schools: SchoolRouteDeps;
  people: PeopleRouteDeps;
  attendanceSettings: AttendanceSettingsRouteDeps;
  holidays: HolidaysRouteDeps;
  attendanceReads: AttendanceReadRouteDeps;
  /** The CSV exports: a poll's results and votes, a school's person-days. */
  exports: ExportRouteDeps;
  results: Pick<ResultsJsonRouteDeps, "cache" | "results" | "resultsIntervalMs">;
  resultsPng: ResultsPngRouteDeps;
  eventStream: EventStreamRouteDeps;
  publicPolls: PublicPollRouteDeps;
  attendance: DayRouteDeps;
  health: HealthRouteDeps;
  web: WebRouteDeps;
  registers: RegisterRouteDeps;
  /** The register page's routes: teachers' sign-in links, the teacher's day, a roster. */
  registerPage: RegisterPageRouteDeps;
  /** The operator console: sessions, the audit log, its page. */
  console: ConsoleParts;
  /** The writer's dead letters, listed and replayed (deployment admin). */
  deadLetters: DeadLetterRouteDeps;
}

/**
 * The unauthenticated routes, each throttled per client address under one named limit (the
 * results JSON carries its own throttle: see resultsJsonRoute).
 */
const ADDRESS_LIMITS: Record<AddressLimit, string[]> = {
  results: [
    "/v1/polls/:pollId/results.png",
    "/v1/public/polls",
    "/v1/public/polls/:pollId",
    PUBLIC_ATTENDANCE_ROUTE,
  ],
  sse_connects: ["/v1/polls/:pollId/events", `${ATTENDANCE_DAY_ROUTE}/events`],
  readyz: ["/readyz"],
  pages: [
    "/",
    "/s/:schoolId",
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
    "/register",
    "/kiosk-client/:file",
    OPENAPI_PATH,
    REFERENCE_PAGE_PATH,
    ...CONSOLE_PAGE_PATHS,
  ],
};

/** The order of the layers and the features' routers: what runs before what. */
export function createApp(parts: AppParts): Express {
  const { exposure, rateLimits, metrics, logger } = parts.http;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  // req.ip: the socket's address, or X-Forwarded-For's entry left of the trusted proxies.
  app.set("trust proxy", exposure.trustProxy);
  app.use(apiSecurityHeaders(exposure.hstsMaxAgeSeconds));
  const cors = corsHandler(parts.http.corsOrigins, parts.http.corsMaxAgeMs);
  // The results JSON, the busiest route, ahead of every layer below: it counts itself.
  app.get(
    RESULTS_ROUTE,
    ...resultsJsonRoute({
      ...parts.results,
      metrics,
      ...(cors ? { cors } : {}),
      ...(rateLimits.limitsByAddress("results")
        ? { throttle: rateLimits.byAddress("results") }
        : {}),
    }),
  );
  const { httpRequests, httpDuration } = metrics;
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
  app.use(rateLimits.authFailures);
  // One layer per path (not an array), so a 429's metrics route label is that path.
  for (const [limit, paths] of Object.entries(ADDRESS_LIMITS) as [AddressLimit, string[]][]) {
    const throttle = rateLimits.byAddress(limit);
    for (const path of paths) app.get(path, throttle);
  }
  // A console session's cookie read, and admin changes recorded, ahead of every admin route.
  mountConsoleLayers(app, parts.console);
  app.use(voteRoutes(parts.votes));
  app.use(kioskRoutes(parts.kiosks));
  app.use(kioskAttendanceRoutes(parts.kioskAttendance));
  app.use(resultsPngRoute(parts.resultsPng));
  app.use(eventStreamRoute(parts.eventStream));
  app.use(registryRoutes(parts.registry));
  app.use(schoolRoutes(parts.schools));
  app.use(peopleRoutes(parts.people));
  app.use(attendanceSettingsRoutes(parts.attendanceSettings));
  app.use(holidaysRoutes(parts.holidays));
  // Before the day document's route: `GET …/attendance?period=` is answered here, the rest passed on.
  app.use(attendanceReadRoutes(parts.attendanceReads));
  app.use(dayRoutes(parts.attendance));
  app.use(registerRoutes(parts.registers));
  app.use(exportRoutes(parts.exports));
  app.use(deadLetterRoutes(parts.deadLetters));
  app.use(registerPageRoutes(parts.registerPage));
  mountConsoleRoutes(app, parts.console);
  app.use(healthRoutes(parts.health));
  app.use(publicPollRoutes(parts.publicPolls));
  app.use(webRoutes(parts.web)); // the pages, with their own security headers (helmet)
  app.use(kioskClientRoutes()); // the outbox library as browser modules
  app.use(kioskAppRoutes(parts.kioskApp)); // the kiosk app's pages and service worker
  // The API described (OpenAPI 3.1) and its reference page, from the routes' own schemas.
  app.use(
    openApiRoutes({
      people: parts.people.limits,
      listPages: parts.registry.pages,
      attendanceReads: parts.attendanceReads.limits,
      registers: parts.registers.config,
      deadLetters: parts.deadLetters.config,
    }),
  );
  app.use(notFoundHandler);
  app.use(errorMiddleware(logger));
  return app;
}
