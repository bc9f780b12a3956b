import { type CodeWithStatus, type ErrorCode, type StatusOf, statusOf } from "./error-codes.ts";

// One error base for the whole system: a stable `code` to match on (never the message),
// a `name`, and `cause`. AppError adds what the one HTTP error middleware needs: a status
// that the code table (error-codes.ts) fixes for each code, and details.

export type ErrorDetails = Record<string, unknown> | readonly unknown[];

export class TallyflowError extends Error {
  override readonly name: string = "TallyflowError";
  readonly code: string;
  constructor(code: string, message: string, options: { cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.code = code;
  }
}

export class AppError<C extends ErrorCode = ErrorCode> extends TallyflowError {
  override readonly name: string = "AppError";
  override readonly code: C;
  readonly status: number;
  readonly details: ErrorDetails | undefined;

  /** `status` must be the code's status in the table: a mismatch does not typecheck. */
  constructor(
    status: StatusOf<C>,
    code: C,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown } = {},
  ) {
    super(code, message, { cause: options.cause });
    this.code = code;
    this.status = status;
    this.details = options.details;
  }

  /** For a code known only at run time: the status comes from the table. */
  static of(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetails; cause?: unknown } = {},
  ): AppError {
    return new AppError(statusOf(code) as StatusOf<ErrorCode>, code, message, options);
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

export class ValidationError extends AppError<"invalid_request"> {
  override readonly name = "ValidationError";
  constructor(issues: FieldIssue[], message?: string) {
    super(400, "invalid_request", message ?? summarizeIssues(issues), { details: { issues } });
  }
}

export class UnauthorizedError extends AppError<"unauthorized"> {
  override readonly name = "UnauthorizedError";
  constructor(message = "a valid bearer token is required") {
    super(401, "unauthorized", message);
  }
}

export class ForbiddenError extends AppError<CodeWithStatus<403>> {
  override readonly name = "ForbiddenError";
  constructor(code: CodeWithStatus<403>, message: string) {
    super(403, code, message);
  }
}

export class NotFoundError extends AppError<CodeWithStatus<404>> {
  override readonly name = "NotFoundError";
  constructor(code: CodeWithStatus<404>, message: string) {
    super(404, code, message);
  }
}

export class ConflictError extends AppError<CodeWithStatus<409>> {
  override readonly name = "ConflictError";
  constructor(code: CodeWithStatus<409>, message: string, details?: ErrorDetails) {
    super(409, code, message, details === undefined ? {} : { details });
  }
}

export class UnprocessableError extends AppError<CodeWithStatus<422>> {
  override readonly name = "UnprocessableError";
  constructor(code: CodeWithStatus<422>, message: string, details?: ErrorDetails) {
    super(422, code, message, details === undefined ? {} : { details });
  }
}

/** A dependency is down; the client should retry after `retryAfterSeconds`. */
export class UnavailableError extends AppError<CodeWithStatus<503>> {
  override readonly name = "UnavailableError";
  readonly retryAfterSeconds: number;
  constructor(
    code: CodeWithStatus<503>,
    message: string,
    retryAfterSeconds: number,
    cause?: unknown,
  ) {
    super(503, code, message, { cause });
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/**
 * A rate limit was reached: 429 with `Retry-After` (whole seconds, rounded up). `limit` names
 * which limit (the same name as the throttled-requests metric's label).
 */
export class RateLimitedError extends AppError<"rate_limited"> {
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

/** Configuration is wrong; raised at start (exit code 2), names the variable. No HTTP status: no request causes it. */
export class ConfigError extends TallyflowError {
  override readonly name = "ConfigError";
  override readonly code = "invalid_config";
  readonly variable: string;
  constructor(variable: string, message: string) {
    super("invalid_config", `${variable}: ${message}`);
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
