import { AssertionError } from "node:assert";
import { setTimeout as sleep } from "node:timers/promises";

/**
 * Calls `probe` until it returns something other than undefined or false, or fails after
 * `timeoutMs` naming `what` and the last error. For conditions that become true
 * eventually, never for measuring speed: the default timeout is generous, as the machine
 * may be loaded.
 *
 * A probe says "not yet" by returning undefined or false. An assertion that fails inside it
 * fails the test at once: were it retried, a "never X" checked in the probe would pass
 * whenever a later answer was fine, so one bad answer could not fail the test. Other
 * errors (a connection refused while a service restarts) are retried.
 */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  { timeoutMs = 20_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline)
      throw new Error(`not within ${timeoutMs} ms: ${what}`, { cause: lastError });
    await sleep(intervalMs);
  }
}
