import { z } from "zod";
import type { ZodOpenApiResponseObject } from "zod-openapi";
import { ERROR_CODES, type ErrorCode } from "../../common/error-codes.ts";

// The error envelope every error answer has, one schema per status whose `code` lists only
// the codes of that status (common/error-codes.ts, the one table): a 404 that answered
// `poll_closed` would fail the document as surely as one with the wrong shape.

export type ErrorStatus =
  | 400
  | 401
  | 403
  | 404
  | 408
  | 409
  | 413
  | 415
  | 422
  | 429
  | 431
  | 500
  | 503;

const codesOf = (status: number) =>
  (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => ERROR_CODES[c].status === status);

const issueSchema = z.strictObject({ field: z.string(), message: z.string() });

function envelope(status: ErrorStatus) {
  return envelopeOf(status, codesOf(status)).meta({
    id: `Error${status}`,
    description: `an error of status ${status}`,
  });
}

/** The envelope whose code is one of these (all of one status). */
function envelopeOf(status: ErrorStatus, codes: ErrorCode[]) {
  if (codes.length === 0) throw new Error(`no error code has status ${status}`);
  return z.strictObject({
    error: z.strictObject({
      code: z.enum(codes as [ErrorCode, ...ErrorCode[]]),
      message: z.string().min(1),
      // invalid_request: {issues: [{field, message}]}; other codes their own details.
      details: z
        .union([
          z.strictObject({ issues: z.array(issueSchema) }),
          z.record(z.string(), z.unknown()),
        ])
        .optional(),
    }),
  });
}

const envelopes = new Map<ErrorStatus, ReturnType<typeof envelope>>();

/** The envelope of one status, made once so that the document names it once. */
export function errorEnvelope(status: ErrorStatus) {
  let schema = envelopes.get(status);
  if (schema === undefined) {
    schema = envelope(status);
    envelopes.set(status, schema);
  }
  return schema;
}

const retryAfter = z
  .string()
  .regex(/^\d+$/)
  .meta({ description: "whole seconds to wait before trying again" });

/** Error answers by status: `errors(400, 404)` for a route's own refusals. */
export function errors(...statuses: ErrorStatus[]): Record<string, ZodOpenApiResponseObject> {
  const out: Record<string, ZodOpenApiResponseObject> = {};
  for (const status of statuses)
    out[String(status)] = {
      description: codesOf(status)
        .map((c) => `\`${c}\``)
        .join(", "),
      ...(status === 429 || status === 503
        ? { headers: z.object({ "Retry-After": retryAfter }) }
        : {}),
      content: { "application/json": { schema: errorEnvelope(status) } },
    };
  return out;
}

/**
 * Error answers of a route named by code where the route's refusals are known exactly (a
 * status alone stands for every code of it): grouped by status, each status's envelope
 * listing only the codes named, so an answer with another code fails the document.
 */
export function refusals(
  ...items: (ErrorCode | ErrorStatus)[]
): Record<string, ZodOpenApiResponseObject> {
  const byStatus = new Map<ErrorStatus, Set<ErrorCode>>();
  for (const item of items) {
    const codes = typeof item === "number" ? codesOf(item) : [item];
    for (const code of codes) {
      const status = ERROR_CODES[code].status as ErrorStatus;
      const set = byStatus.get(status) ?? new Set<ErrorCode>();
      set.add(code);
      byStatus.set(status, set);
    }
  }
  const out: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) {
    const codes = [...set];
    if (codes.length === codesOf(status).length) {
      Object.assign(out, errors(status));
      continue;
    }
    out[String(status)] = {
      description: codes.map((c) => `\`${c}\``).join(", "),
      ...(status === 429 || status === 503
        ? { headers: z.object({ "Retry-After": retryAfter }) }
        : {}),
      content: { "application/json": { schema: envelopeOf(status, codes) } },
    };
  }
  return out;
}
