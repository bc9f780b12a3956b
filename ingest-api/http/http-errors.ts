import type { NextFunction, Request, Response } from "express";
import type { ErrorCode } from "../../common/error-codes.ts";
import {
  AppError,
  RateLimitedError,
  UnavailableError,
  ValidationError,
} from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";

// body-parser reports its failures with a `type`; these are the client's mistakes.
const BODY_ERRORS: Record<string, { code: ErrorCode; message: string }> = {
  "entity.parse.failed": { code: "malformed_json", message: "body is not valid JSON" },
  "entity.too.large": { code: "body_too_large", message: "body is too large" },
  "encoding.unsupported": { code: "unsupported_encoding", message: "unsupported content encoding" },
  "charset.unsupported": { code: "unsupported_charset", message: "use UTF-8" },
  "request.aborted": { code: "request_aborted", message: "request aborted" },
  "request.size.invalid": { code: "bad_length", message: "content-length mismatch" },
};

/** The one place where errors become HTTP responses. */
export function errorMiddleware(logger: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    let appError: AppError;
    if (err instanceof AppError) {
      appError = err;
    } else if (
      typeof err === "object" &&
      err !== null &&
      "type" in err &&
      typeof err.type === "string" &&
      BODY_ERRORS[err.type]
    ) {
      const known = BODY_ERRORS[err.type]!;
      const limit = "limit" in err ? { limitBytes: err.limit } : undefined;
      appError = AppError.of(known.code, known.message, limit ? { details: limit } : {});
    } else if (err instanceof URIError && isClientHttpError(err)) {
      // The router could not percent-decode a path parameter (`/v1/polls/%ZZ/results`).
      appError = new ValidationError([
        { field: "path", message: "is not valid percent-encoding (RFC 3986)" },
      ]);
    } else if (isClientHttpError(err)) {
      // Other request failures body-parser blames on the client, e.g. a corrupt gzip body.
      appError = new AppError(400, "unreadable_body", "body could not be read");
    } else {
      logger.error({ err, method: req.method, url: req.originalUrl }, "unhandled error");
      appError = new AppError(500, "internal_error", "internal error");
    }
    if (appError instanceof UnavailableError || appError instanceof RateLimitedError)
      res.setHeader("Retry-After", String(appError.retryAfterSeconds));
    if (res.headersSent) return res.end();
    // Refused before its body was read (401, 403, 413, 415…): close rather than read a
    // body nobody wants, which a client could trickle until the request timeout.
    if (bodyUnread(req)) res.setHeader("Connection", "close");
    res.status(appError.status).json(appError.toJSON());
  };
}

/** The request announced a body that has not been received in full. */
function bodyUnread(req: Request): boolean {
  if (req.complete) return false;
  const length = req.headers["content-length"];
  return req.headers["transfer-encoding"] !== undefined || (length !== undefined && length !== "0");
}

/** An http-errors error (as body-parser raises) with a 4xx status. */
function isClientHttpError(err: unknown): err is { status: number } {
  return (
    typeof err === "object" &&
    err !== null &&
    "status" in err &&
    typeof err.status === "number" &&
    err.status >= 400 &&
    err.status < 500
  );
}

export function notFoundHandler(req: Request, _res: Response, next: NextFunction) {
  next(new AppError(404, "route_not_found", `no route for ${req.method} ${req.path}`));
}
