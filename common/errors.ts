// One error base for the whole system: a stable `code` that clients and tests match on,
// an HTTP status for the one middleware that turns errors into responses, and `cause`.

export type ErrorDetails = Record<string, unknown> | readonly unknown[];

export class AppError extends Error {
  override readonly name: string = "AppError";
  readonly code: string;
  readonly status: number;
  readonly details: ErrorDetails | undefined;

  constructor(
    status: number,
    code: string,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
    this.status = status;
    this.code = code;
    this.details = options.details;
  }

  toJSON(): { error: { code: string; message: string; details?: ErrorDetails } } {
    const body: { code: string; message: string; details?: ErrorDetails } = {
      code: this.code,
      message: this.message,
    };
    if (this.details !== undefined) body.details = this.details;
    return { error: body };
  }
}

/** A field-level problem, as listed in a validation error's details. */
export interface FieldIssue {
  field: string;
  message: string;
}

export class ValidationError extends AppError {
  override readonly name = "ValidationError";
  constructor(issues: FieldIssue[], message?: string) {
    super(400, "invalid_request", message ?? summarizeIssues(issues), { details: { issues } });
  }
}

export class UnauthorizedError extends AppError {
  override readonly name = "UnauthorizedError";
  constructor(message = "a valid bearer token is required") {
    super(401, "unauthorized", message);
  }
}

export class ForbiddenError extends AppError {
  override readonly name = "ForbiddenError";
  constructor(code: string, message: string) {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError {
  override readonly name = "NotFoundError";
  constructor(code: string, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends AppError {
  override readonly name = "ConflictError";
  constructor(code: string, message: string, details?: ErrorDetails) {
    super(409, code, message, details === undefined ? {} : { details });
  }
}

export class UnprocessableError extends AppError {
  override readonly name = "UnprocessableError";
  constructor(code: string, message: string, details?: ErrorDetails) {
    super(422, code, message, details === undefined ? {} : { details });
  }
}

/** A dependency is down; the client should retry after `retryAfterSeconds`. */
export class UnavailableError extends AppError {
  override readonly name = "UnavailableError";
  readonly retryAfterSeconds: number;
  constructor(code: string, message: string, retryAfterSeconds: number, cause?: unknown) {
    super(503, code, message, { cause });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A rate limit was reached: 429 with `Retry-After` (whole seconds, rounded up). `limit` names
 * which limit (the same name as the throttled-requests metric's label).
 */
export class RateLimitedError extends AppError {
  override readonly name = "RateLimitedError";
  readonly retryAfterSeconds: number;
  readonly limit: string;
  constructor(limit: string, message: string, retryAfterMs: number) {
    const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(429, "rate_limited", `${message}; retry in ${retryAfterSeconds} s`, {
      details: { limit, retryAfterSeconds },
    });
    this.limit = limit;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Configuration is wrong; raised at start, names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code = "invalid_config";
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`);
    this.variable = variable;
  }
}

export function isAppError(err: unknown): err is AppError {
  return err instanceof AppError;
}

function summarizeIssues(issues: FieldIssue[]): string {
  if (issues.length === 0) return "invalid request";
  const first = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  return `${first.field}: ${first.message}${more}`;
}
