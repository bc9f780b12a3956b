import { z } from "zod";
import type { ErrorCode } from "../../common/error-codes.ts";
import { idSchema } from "../../common/vote.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ANY_ROUTE,
  adminSecurity,
  anyRoute,
  consoleSessionSecurity,
  empty,
  fileAnswer,
  htmlPage,
  JSON_BODY,
  json,
  type Operation,
  type RouteDescriptions,
  staticFile,
} from "../openapi/route-parts.ts";
import {
  AUDIT_CSV_COLUMNS,
  auditPageAnswerSchema,
  auditQuerySchema,
  consoleSessionAnswerSchema,
  createInviteSchema,
  inviteAnswerSchema,
  ownSessionAnswerSchema,
  sessionListAnswerSchema,
  signInSchema,
} from "./console-schemas.ts";
import { SESSION_COOKIE } from "./session-layer.ts";

/** What requireAdmin refuses a read with (the 429: an address over its failed authentications). */
const ADMIN_READ: ErrorCode[] = ["unauthorized", "teacher_not_allowed", ...ANY_ROUTE];
/** And a change: by the session cookie, without the session's CSRF token. */
const ADMIN_CHANGE: ErrorCode[] = [...ADMIN_READ, "csrf_failed"];
/** A listing's `?schoolId=`: invalid (400), or another school than a school admin's (404). */
const LIST_SCOPE: ErrorCode[] = ["invalid_request", "school_not_found"];

const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});

const schoolFilter = z.object({
  schoolId: idSchema
    .optional()
    .meta({ description: "the deployment admin's filter; a school admin reads its own school" }),
});

const setCookie = (what: string) =>
  z.object({
    "Set-Cookie": z.string().meta({
      description: `${what} \`${SESSION_COOKIE}\` (HttpOnly, SameSite=Strict, Path=/, Secure over TLS)`,
    }),
  });

/** A successful sign-in: the session and its CSRF token, and the cookie that carries it. */
const signedIn = {
  ...json(ownSessionAnswerSchema, "the session (no-store)"),
  headers: setCookie("the session's cookie"),
};

/** The sign-in's refusals; its 429 says which budget it spent. */
const signInRefusals = (() => {
  const out = refusals(...JSON_BODY, ...ANY_ROUTE, "invite_invalid");
  const limited = out["429"];
  if (limited === undefined) throw new Error("the sign-in's refusals lost their 429");
  out["429"] = {
    ...limited,
    description:
      "`rate_limited`: this address's failed sign-ins spent RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES_PER_MIN",
  };
  return out;
})();

const admin = { tags: ["console"], security: adminSecurity };
const audit = { tags: ["audit"], security: adminSecurity };

/** `/console` answers a redirect to the page (`/console/`). */
const consoleRedirect: Operation = {
  tags: ["pages"],
  summary: "The console: redirects to `/console/`",
  responses: {
    "301": {
      description: "to `/console/`",
      headers: z.object({ Location: z.literal("/console/") }),
      content: { "text/plain": { schema: z.string() }, "text/html": { schema: z.string() } },
    },
    ...anyRoute,
  },
};

/** The UI library's modules: read at start, sent without an ETag. */
const vendorModule: Operation = {
  tags: ["pages"],
  summary: "Preact and htm as ES modules (`preact/preact.js`, `preact/hooks.js`, `htm/htm.js`)",
  responses: {
    "200": fileAnswer("text/javascript", "the module"),
    ...refusals("route_not_found"),
    ...anyRoute,
  },
};

/** Console sign-in, sessions and invites, the audit log, and the console's page and modules (docs/console.md). */
export const consoleRouteDescriptions: RouteDescriptions = {
  "/v1/console/invites": {
    post: {
      ...admin,
      summary:
        "Invite an admin: a single-use sign-in link (no-store; a school admin: its own school)",
      requestBody: body(createInviteSchema.meta({ id: "CreateConsoleInvite" })),
      responses: {
        "201": json(inviteAnswerSchema, "the invite"),
        ...refusals(...ADMIN_CHANGE, ...JSON_BODY, "school_not_found"),
      },
    },
  },
  "/v1/console/sessions": {
    post: {
      tags: ["console"],
      summary:
        "Sign in: exchange an invite's code for a console session (its cookie; failures limited per address)",
      requestBody: body(signInSchema.meta({ id: "ConsoleSignIn" })),
      responses: { "201": signedIn, ...signInRefusals },
    },
    get: {
      ...admin,
      summary: "The live console sessions (a school admin: its school's)",
      requestParams: { query: schoolFilter },
      responses: {
        "200": json(sessionListAnswerSchema, "the sessions, newest first"),
        ...refusals(...ADMIN_READ, ...LIST_SCOPE),
      },
    },
  },
  "/v1/console/sessions/{id}": {
    delete: {
      ...admin,
      summary: "Revoke a console session (at once, on every API process)",
      requestParams: { path: z.object({ id: idSchema }) },
      responses: {
        "200": json(consoleSessionAnswerSchema, "the session revoked"),
        ...refusals(...ADMIN_CHANGE, "invalid_request", "session_not_found"),
      },
    },
  },
  "/v1/console/session": {
    get: {
      tags: ["console"],
      summary: "This browser's session and its CSRF token (the cookie only; no-store)",
      security: consoleSessionSecurity,
      responses: {
        "200": json(ownSessionAnswerSchema, "the session"),
        ...refusals("unauthorized", ...ANY_ROUTE),
      },
    },
    delete: {
      tags: ["console"],
      summary: "Sign out: revoke this browser's session and clear its cookie",
      security: consoleSessionSecurity,
      responses: {
        "204": { ...empty("signed out"), headers: setCookie("clears") },
        ...refusals(...ADMIN_CHANGE),
      },
    },
  },
  "/v1/audit": {
    get: {
      ...audit,
      summary: "A page of the audit log, newest first (no-store)",
      requestParams: { query: auditQuerySchema.extend(schoolFilter.shape) },
      responses: {
        "200": json(auditPageAnswerSchema, "the page"),
        ...refusals(...ADMIN_READ, ...LIST_SCOPE),
      },
    },
  },
  "/v1/audit.csv": {
    get: {
      ...audit,
      summary: "Every entry the filters keep as CSV (streamed; `limit` ignored)",
      requestParams: { query: auditQuerySchema.extend(schoolFilter.shape) },
      responses: {
        "200": fileAnswer("text/csv", `header row ${AUDIT_CSV_COLUMNS.join(",")}, CRLF`),
        ...refusals(...ADMIN_READ, ...LIST_SCOPE),
      },
    },
  },
  "/console": { get: consoleRedirect },
  "/console/": { get: htmlPage("The operator console (one page; its views are the fragment)") },
  "/console/assets/{file}": { get: staticFile("The console's modules and styles") },
  "/vendor/{package}/{file}": { get: vendorModule },
};
