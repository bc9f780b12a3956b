import { type BackoffOptions, backoffDelayMs } from "./backoff.ts";
import type { OutboxError } from "./errors.ts";
import type { OutboxState, OutboxStatus } from "./types.ts";

// Where the sender stands between flushes: its state, its run of failures and when it may
// try again. status() reports it; flush() consults it so that a back-off or a server's
// Retry-After is never cut short by a caller. Browser-safe.

export class SendState {
  state: OutboxState = "stopped";
  #lastError: OutboxStatus["lastError"] = null;
  #lastFailure: OutboxError | undefined;
  /** Failures in a row: the back-off's exponent. */
  #attempt = 0;
  #retryAt: number | null = null;

  /** The last send failure (cleared by the next answered batch), as status() reports it. */
  get lastError(): OutboxStatus["lastError"] {
    return this.#lastError;
  }

  /** The last failure itself: what a flush during the wait answers with. */
  get lastFailure(): OutboxError | undefined {
    return this.#lastFailure;
  }

  /** Epoch ms of the next try after a failure, or null. */
  get retryAt(): number | null {
    return this.#retryAt;
  }

  /**
   * Between flushes: idle while the background sender runs, stopped otherwise. A revoked
   * kiosk stays revoked: only a new token (setToken) lets it send again.
   */
  rest(running: boolean): void {
    if (this.state !== "revoked") this.state = running ? "idle" : "stopped";
  }

  /** Counts a failure; the wait before the next try: the server's Retry-After (capped), else the back-off. */
  nextRetryMs(limits: BackoffOptions & { maxRetryAfterMs: number }, retryAfterMs?: number): number {
    this.#attempt++;
    return retryAfterMs === undefined
      ? backoffDelayMs(this.#attempt, limits)
      : Math.min(retryAfterMs, limits.maxRetryAfterMs);
  }

  /** Remembers a failure, and when to try again (undefined: not before something changes). */
  failed(error: OutboxError, retryInMs: number | undefined): void {
    this.#lastFailure = error;
    this.#lastError = { code: error.code, message: error.message, at: new Date().toISOString() };
    this.#retryAt = retryInMs === undefined ? null : Date.now() + retryInMs;
  }

  /** The server answered a batch: the failures in a row are over. */
  answered(): void {
    this.#attempt = 0;
    this.#lastError = null;
    this.#retryAt = null;
  }

  /** How long until the sender may try again (0 or less: now). */
  waitMs(): number {
    return this.#retryAt === null ? 0 : this.#retryAt - Date.now();
  }
}
