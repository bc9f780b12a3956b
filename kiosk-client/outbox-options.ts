import { OutboxError } from "./errors.ts";
import type { FetchLike } from "./sender.ts";
import type { OutboxStore } from "./types.ts";

// The outbox's options and their checks: a bad value throws at createOutbox, naming it,
// rather than showing up as a sender that never sends. Browser-safe.

export interface OutboxOptions {
  store: OutboxStore;
  /** The API's origin, e.g. "https://votes.example.org" (in a page: location.origin). */
  apiUrl: string;
  /** The kiosk's bearer token. */
  token: string;
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Most votes per request (the API's MAX_BATCH_ITEMS). @defaultValue 1000 */
  maxBatch?: number;
  /** Largest request body; under the API's 1 MiB MAX_BATCH_BODY_BYTES. @defaultValue 900000 */
  maxBatchBytes?: number;
  /** Back-off after a network error or 5xx: full jitter between these. @defaultValue 1000 */
  minBackoffMs?: number;
  /** @defaultValue 300000 (5 min) */
  maxBackoffMs?: number;
  /** A server's Retry-After is honoured up to this. @defaultValue 600000 (10 min) */
  maxRetryAfterMs?: number;
  /** @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** The background sender's idle check when nothing woke it. @defaultValue 30000 */
  pollIntervalMs?: number;
  /**
   * How long an item answered 404 poll_not_found or 422 unknown_option is kept and sent
   * again before it is refused: an API process can be a moment behind on a registry
   * change (a poll or option just created through another). 0: refused at once.
   * @defaultValue 300000 (5 min)
   */
  registryLagRetryMs?: number;
  /** The device's clock (epoch ms). @defaultValue Date.now */
  now?: () => number;
  /** Reported in the X-Kiosk-Status heartbeat. */
  appVersion?: string;
  /** Send X-Kiosk-Status with each batch. @defaultValue true */
  sendStatus?: boolean;
}

const DEFAULTS = {
  maxBatch: 1000,
  maxBatchBytes: 900_000,
  minBackoffMs: 1000,
  maxBackoffMs: 300_000,
  maxRetryAfterMs: 600_000,
  requestTimeoutMs: 30_000,
  pollIntervalMs: 30_000,
  registryLagRetryMs: 300_000,
};

export type Limits = typeof DEFAULTS;

/** Every numeric option, its default filled in. */
export function readLimits(options: OutboxOptions): Limits {
  const limits = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    const min = key === "registryLagRetryMs" ? 0 : 1;
    if (!Number.isInteger(value) || value < min)
      throw new OutboxError(
        "invalid_options",
        `${key} must be an integer of at least ${min}, got ${value}`,
      );
    limits[key] = value;
  }
  if (limits.minBackoffMs > limits.maxBackoffMs)
    throw new OutboxError("invalid_options", "minBackoffMs must not exceed maxBackoffMs");
  return limits;
}

/** The batch endpoint of the API at `apiUrl` (or another of its paths). */
export function batchUrl(apiUrl: string, path = "/v1/votes/batch"): string {
  try {
    return new URL(path, apiUrl).href;
  } catch (cause) {
    throw new OutboxError("invalid_options", `apiUrl must be an absolute URL, got ${apiUrl}`, {
      cause,
    });
  }
}

/** The token, once checked (at creation and at setToken alike). */
export function checkedToken(token: unknown): string {
  if (typeof token !== "string" || token.length === 0)
    throw new OutboxError("invalid_options", "token must be a non-empty string");
  return token;
}
