import type { WriterConfig } from "./config.ts";

/**
 * The wait before retrying a batch: exponential back-off from `retryMinMs` up to
 * `retryMaxMs`, with full jitter so that writers do not retry in lock step.
 */
export function retryDelayMs(
  attempt: number,
  config: Pick<WriterConfig, "retryMinMs" | "retryMaxMs">,
): number {
  const { retryMinMs, retryMaxMs } = config;
  const cap = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(attempt, 20));
  return retryMinMs / 2 + Math.random() * (cap - retryMinMs / 2);
}
