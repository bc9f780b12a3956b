import { z } from "zod";
import type {
  ZodOpenApiOperationObject,
  ZodOpenApiPathsObject,
  ZodOpenApiResponseObject,
} from "zod-openapi";
import type { ErrorCode } from "../../common/error-codes.ts";
import { CSRF_HEADER } from "../console/session-layer.ts";
import { errors } from "./error-responses.ts";

// The pieces each feature's route descriptions are made of (its `*-openapi.ts` beside its
// schemas): what a JSON answer, a 304 and each kind of caller add to a route's statuses.

export type RouteDescriptions = ZodOpenApiPathsObject;
export type Operation = ZodOpenApiOperationObject;
export type Responses = Record<string, ZodOpenApiResponseObject>;
/** Alternatives, each a set of schemes that together authenticate. */
export type Security = Record<string, string[]>[];

/** A JSON answer of this schema. */
export function json(schema: z.ZodType, description: string): ZodOpenApiResponseObject {
  return { description, content: { "application/json": { schema } } };
}

/** An answer with no body (204, or a HEAD). */
export function empty(description: string): ZodOpenApiResponseObject {
  return { description };
}

/** `If-None-Match` matched the `ETag`: no body. */
export const notModified: Responses = {
  "304": { description: "`If-None-Match` holds the current `ETag`: no body" },
};

/**
 * What may befall any route: credentials from an address whose failed authentications are
 * over budget (429 `auth_failures`), and a defect (500, logged as an ERROR).
 */
export const anyRoute: Responses = errors(429, 500);

/** An admin's bearer token: missing or wrong (401, throttled per address: 429), or not allowed. */
export const adminCaller: Responses = errors(401, 403, 429);

/** A kiosk's bearer token: missing or unknown (401), revoked (403), its own rate limits (429). */
export const kioskCaller: Responses = errors(401, 403, 429);

/** A JSON body: unreadable or invalid (400), too large (413), not JSON (415). */
export const jsonBodyErrors: Responses = errors(400, 413, 415);

/**
 * The security requirement of an admin route: a bearer token, or a console session's cookie
 * (requireAdmin takes either; a state-changing request by cookie also needs its CSRF header).
 */
export const adminSecurity: Security = [{ adminToken: [] }, { consoleSession: [] }];
/** The console page's own session: its cookie, never a bearer token. */
export const consoleSessionSecurity: Security = [{ consoleSession: [] }];
/** The security requirement of a kiosk route. */
export const kioskSecurity = [{ kioskToken: [] }];
/** A teacher's token, beside another credential: lesson registers only (docs/registers.md). */
export const teacherSecurity = [{ teacherToken: [] }];

const STATE_CHANGING = ["post", "put", "patch", "delete"] as const;

const csrfHeader = z.object({
  [CSRF_HEADER]: z.string().optional().meta({
    description:
      "the console session's CSRF token (`GET /v1/console/session`): required when signed in by the session cookie, else 403 `csrf_failed`",
  }),
});

/**
 * The CSRF header on every state-changing operation a console session may call (its
 * security names `consoleSession`), added here once rather than by each feature.
 */
export function withCsrfHeader(paths: RouteDescriptions): RouteDescriptions {
  const out: RouteDescriptions = {};
  for (const [path, item] of Object.entries(paths)) {
    const changed = { ...item };
    for (const method of STATE_CHANGING) {
      const op = item[method];
      if (op?.security?.some((s) => "consoleSession" in s) !== true) continue;
      const header = op.requestParams?.header;
      if (header !== undefined && !(header instanceof z.ZodObject))
        throw new Error(`${method} ${path}: its header parameters are not a z.object`);
      changed[method] = {
        ...op,
        requestParams: {
          ...op.requestParams,
          header: header === undefined ? csrfHeader : header.extend(csrfHeader.shape),
        },
      };
    }
    out[path] = changed;
  }
  return out;
}

/** `:id` → `{id}`, `{*file}` → `{file}`: an Express path as OpenAPI writes it. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/\{\*(\w+)\}/g, "{$1}").replace(/:(\w+)/g, "{$1}");
}

/** Path parameters, each a string described by its own meaning. */
export function pathParams(params: Record<string, string>) {
  return z.object(
    Object.fromEntries(
      Object.entries(params).map(([name, description]) => [name, z.string().meta({ description })]),
    ),
  );
}

/** A file served as it is (a page's asset, a module): its bytes, no JSON. */
export function fileAnswer(type: string, description: string): ZodOpenApiResponseObject {
  // A JSON file (this document, a source map) is an object, whatever its shape.
  const schema = type === "application/json" ? z.record(z.string(), z.unknown()) : z.string();
  return { description, content: { [type]: { schema } } };
}

/** A web page: HTML, and for a page about a poll or school that does not exist, a 404 page. */
export function htmlPage(summary: string, hasNotFoundPage = false): Operation {
  return {
    tags: ["pages"],
    summary,
    responses: {
      "200": fileAnswer("text/html", "the page"),
      ...(hasNotFoundPage ? { "404": fileAnswer("text/html", "the not-found page") } : {}),
      ...anyRoute,
    },
  };
}

/** A static file: its bytes (ETag and If-None-Match where served so), or no such file. */
export function staticFile(summary: string, type = "*/*"): Operation {
  return {
    tags: ["pages"],
    summary,
    responses: {
      "200": fileAnswer(type, "the file"),
      ...notModified,
      ...errors(404),
      ...anyRoute,
    },
  };
}

// The same, by code, for `refusals()` where a route's refusals are known exactly.

/** A kiosk's bearer token missing or unknown, revoked, or over the kiosk's rate limit. */
export const KIOSK_CALLER: ErrorCode[] = ["unauthorized", "kiosk_revoked", "rate_limited"];

/**
 * An admin's bearer token missing or wrong (its failures throttled per address), or a
 * teacher's token, which an admin route refuses.
 */
export const ADMIN_CALLER: ErrorCode[] = ["unauthorized", "teacher_not_allowed", "rate_limited"];

/** A JSON body that cannot be read, is too large, or is not JSON, or a field refused. */
export const JSON_BODY: ErrorCode[] = [
  "invalid_request",
  "malformed_json",
  "unreadable_body",
  "request_aborted",
  "bad_length",
  "body_too_large",
  "unsupported_media_type",
  "unsupported_encoding",
  "unsupported_charset",
];

/** Credentials from an address over its failed-authentication budget; a defect. */
export const ANY_ROUTE: ErrorCode[] = ["rate_limited", "internal_error"];
