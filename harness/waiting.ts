import { setTimeout as sleep } from "node:timers/promises";

/**
 * Calls `probe` until it returns something other than undefined or false, or fails after
 * `timeoutMs` naming `what` and the last error. For conditions that become true
 * eventually, never for measuring speed: the default timeout is generous, as the machine
 * may be loaded.
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
      lastError = err;
    }
    if (Date.now() >= deadline)
      throw new Error(`not within ${timeoutMs} ms: ${what}`, { cause: lastError });
    await sleep(intervalMs);
  }
}
