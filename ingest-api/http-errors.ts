import type { NextFunction, Request, Response } from "express";
import { AppError, RateLimitedError, UnavailableError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";

// body-parser reports its failures with a `type`; these are the client's mistakes.
const BODY_ERRORS: Record<string, { status: number; code: string; message: string }> = {
  "entity.parse.failed": { status: 400, code: "malformed_json", message: "body is not valid JSON" },
  "entity.too.large": { status: 413, code: "body_too_large", message: "body is too large" },
  "encoding.unsupported": {
    status: 415,
    code: "unsupported_encoding",
    message: "unsupported content encoding",
  },
  "charset.unsupported": { status: 415, code: "unsupported_charset", message: "use UTF-8" },
  "request.aborted": { status: 400, code: "request_aborted", message: "request aborted" },
  "request.size.invalid": { status: 400, code: "bad_length", message: "content-length mismatch" },
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
      appError = new AppError(
        known.status,
        known.code,
        known.message,
        limit ? { details: limit } : {},
      );
    } else if (isClientHttpError(err)) {
      // Other request failures body-parser blames on the client, e.g. a corrupt gzip body.
      appError = new AppError(err.status, "unreadable_body", "body could not be read");
    } else {
      logger.error({ err, method: req.method, url: req.originalUrl }, "unhandled error");
      appError = new AppError(500, "internal_error", "internal error");
    }
    if (appError instanceof UnavailableError || appError instanceof RateLimitedError)
      res.setHeader("Retry-After", String(appError.retryAfterSeconds));
    if (res.headersSent) return res.end();
    res.status(appError.status).json(appError.toJSON());
  };
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
