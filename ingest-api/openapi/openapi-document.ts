import { createDocument } from "zod-openapi";
import { attendanceRouteDescriptions } from "../attendance/attendance-openapi.ts";
import type { AttendanceReadsConfig, PeopleConfig, RegistersConfig } from "../config.ts";
import { consoleRouteDescriptions } from "../console/console-openapi.ts";
import { CSRF_HEADER, SESSION_COOKIE } from "../console/session-layer.ts";
import type { DeadLetterConfig } from "../dead-letters/dead-letter-config.ts";
import { deadLetterRouteDescriptions } from "../dead-letters/dead-letter-openapi.ts";
import { exportRouteDescriptions } from "../exports/exports-openapi.ts";
import { healthRouteDescriptions } from "../health/health-openapi.ts";
import type { ListPageConfig } from "../http/page-cursor.ts";
import { kioskRouteDescriptions } from "../kiosks/kiosk-openapi.ts";
import { peopleRouteDescriptions } from "../people/people-openapi.ts";
import { registerRouteDescriptions } from "../registers/register-openapi.ts";
import { registerPageRouteDescriptions } from "../registers/register-page-openapi.ts";
import { registryRouteDescriptions } from "../registry/registry-openapi.ts";
import { resultsRouteDescriptions } from "../results/results-openapi.ts";
import { schoolRouteDescriptions } from "../schools/school-openapi.ts";
import { voteRouteDescriptions } from "../votes/vote-openapi.ts";
import { webRouteDescriptions } from "../web/web-openapi.ts";
import {
  anyRoute,
  fileAnswer,
  notModified,
  type RouteDescriptions,
  withCsrfHeader,
} from "./route-parts.ts";

/** The document's own routes: the document and its reference page. */
export const OPENAPI_PATH = "/openapi.json";
export const REFERENCE_PAGE_PATH = "/api";

/** The configured limits the query schemas are made with (their messages name them). */
export interface DocumentLimits {
  people: PeopleConfig;
  listPages: ListPageConfig;
  attendanceReads: AttendanceReadsConfig;
  registers: RegistersConfig;
  deadLetters: DeadLetterConfig;
}

export type OpenApiDocument = ReturnType<typeof createDocument>;

const ownRoutes: RouteDescriptions = {
  [OPENAPI_PATH]: {
    get: {
      tags: ["reference"],
      summary: "This document (OpenAPI 3.1)",
      responses: {
        "200": fileAnswer("application/json", "the document"),
        ...notModified,
        ...anyRoute,
      },
    },
  },
  [REFERENCE_PAGE_PATH]: {
    get: {
      tags: ["reference"],
      summary: "This document as a reference page",
      responses: { "200": fileAnswer("text/html", "the page"), ...notModified, ...anyRoute },
    },
  },
};

/**
 * The HTTP API described from the zod schemas its routes validate with and answer by (each
 * feature's `*-openapi.ts`, beside its `*-schemas.ts`): one source for the validation, this
 * document, the tests that hold every answer to it, and the kiosk client's types.
 */
export function apiDocument(limits: DocumentLimits): OpenApiDocument {
  return createDocument(
    {
      openapi: "3.1.0",
      info: {
        title: "tallyflow ingest API",
        version: "1",
        description:
          "Votes and attendance from kiosks, lesson registers, their results and the registry, and the operator console's sessions and audit log. Every error answer is `{error: {code, message, details?}}`; the codes and their meaning: docs/api.md. Limits are named settings: docs/configuration.md.",
      },
      tags: [
        { name: "votes" },
        { name: "kiosks" },
        { name: "results" },
        { name: "registry" },
        { name: "schools" },
        { name: "people" },
        { name: "attendance" },
        { name: "registers", description: "lesson registers: docs/registers.md" },
        { name: "console", description: "console sign-in by invite, and its sessions" },
        { name: "audit", description: "every admin change that succeeded" },
        {
          name: "exports",
          description: "CSV files of a poll's results and votes, a school's attendance",
        },
        { name: "dead letters", description: "the writer's dead letters, and their replay" },
        { name: "health" },
        { name: "reference" },
        { name: "pages", description: "web pages and their files (no JSON)" },
      ],
      components: {
        securitySchemes: {
          adminToken: {
            type: "http",
            scheme: "bearer",
            description: "the deployment admin's ADMIN_TOKEN or a school admin's token",
          },
          consoleSession: {
            type: "apiKey",
            in: "cookie",
            name: SESSION_COOKIE,
            description: `a console session (\`POST /v1/console/sessions\`) acting as the admin it was invited as; a state-changing request also carries the session's CSRF token in \`${CSRF_HEADER}\` (else 403 \`csrf_failed\`). Ignored when an \`Authorization\` header is sent`,
          },
          kioskToken: { type: "http", scheme: "bearer", description: "a kiosk's token" },
          teacherToken: {
            type: "http",
            scheme: "bearer",
            description: "a teacher's token (`tft_…`): its school's lesson registers only",
          },
        },
      },
      // The CSRF header on every change a console session may make, whichever feature's.
      paths: withCsrfHeader({
        ...voteRouteDescriptions,
        ...kioskRouteDescriptions,
        ...resultsRouteDescriptions,
        ...registryRouteDescriptions(limits.listPages),
        ...schoolRouteDescriptions(limits.listPages),
        ...peopleRouteDescriptions(limits.people),
        ...attendanceRouteDescriptions(limits.attendanceReads),
        ...registerRouteDescriptions(limits.registers),
        ...exportRouteDescriptions(limits.attendanceReads),
        ...registerPageRouteDescriptions,
        ...healthRouteDescriptions,
        ...webRouteDescriptions,
        ...consoleRouteDescriptions,
        ...deadLetterRouteDescriptions(limits.deadLetters),
        ...ownRoutes,
      }),
    },
    { outputIdSuffix: "Answer" },
  );
}
