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
  const codes = codesOf(status);
  if (codes.length === 0) throw new Error(`no error code has status ${status}`);
  return z
    .strictObject({
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
    })
    .meta({ id: `Error${status}`, description: `an error of status ${status}` });
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
