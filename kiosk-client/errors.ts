// The outbox's errors: classes with a stable `code` (and `cause`), so callers branch on
// the code, never on the message. Browser-safe.

export type OutboxErrorCode =
  | "invalid_options"
  | "invalid_vote"
  | "network_error"
  | "server_unavailable"
  | "rate_limited"
  | "server_error"
  | "request_refused"
  | "bad_response"
  | "registry_lag"
  | "kiosk_revoked"
  | "store_locked"
  | "store_failed"
  | "journal_corrupt"
  | "outbox_closed";

export class OutboxError extends Error {
  override name = "OutboxError";
  readonly code: OutboxErrorCode;
  /** The HTTP status of the answer that caused it, when there was one. */
  readonly status: number | undefined;

  constructor(
    code: OutboxErrorCode,
    message: string,
    options: { cause?: unknown; status?: number } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status;
  }
}

export function isOutboxError(err: unknown, code?: OutboxErrorCode): err is OutboxError {
  return err instanceof OutboxError && (code === undefined || err.code === code);
}
