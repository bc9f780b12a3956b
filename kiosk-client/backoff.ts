// Retry timing: exponential back-off with full jitter (AWS architecture blog, "Exponential
// Backoff and Jitter"), and the server's Retry-After. Browser-safe.

export interface BackoffOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
}

/**
 * Full jitter: a uniform delay in [minBackoffMs, min(max, min × 2^attempt)]. Thousands of
 * kiosks coming back after an outage then spread out instead of retrying in lockstep.
 */
export function backoffDelayMs(
  attempt: number,
  o: BackoffOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(o.maxBackoffMs, o.minBackoffMs * 2 ** Math.min(attempt, 30));
  return o.minBackoffMs + Math.floor(random() * Math.max(0, ceiling - o.minBackoffMs));
}

/** Retry-After (delta seconds or an HTTP date) in ms from now, or undefined when absent/bad. */
export function retryAfterMs(
  header: string | null,
  nowMs: number = Date.now(),
): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
