import { queueChartJob } from "./chart-job-queue.ts";
import type { RedisClient } from "./redis.ts";
import { chartDemandKey } from "./results-contract.ts";

// The read API tells the result publishers which charts are being read: the publishers draw
// PNGs for those polls only (drawing every changed poll every interval does not scale).

/** At most one demand write per poll per process per this: thousands of screens, one ZADD. */
export const CHART_DEMAND_THROTTLE_MS = 1_000;
/** Entries kept by the throttle before it starts over (a bound on its memory). */
const THROTTLE_MAX_ENTRIES = 100_000;

const lastWrite = new Map<string, number>();

/**
 * Records a read of a poll's chart: `ZADD <p>chart-demand <now> <pollId>`, and when the
 * current version has no PNG yet also queues a render job (NX: one job per poll), so that
 * the first reader gets a chart within a second or two rather than after the next change.
 * Fire and forget: a read never fails or waits because of it.
 */
export function recordChartDemand(
  redis: RedisClient,
  prefix: string,
  pollId: string,
  pngMissing: boolean,
  nowMs = Date.now(),
): void {
  const key = `${prefix}\u0000${pollId}`;
  const last = lastWrite.get(key);
  if (last !== undefined && nowMs - last < CHART_DEMAND_THROTTLE_MS) return;
  if (lastWrite.size >= THROTTLE_MAX_ENTRIES) lastWrite.clear();
  lastWrite.set(key, nowMs);
  const tx = redis.multi().zAdd(chartDemandKey(prefix), { value: pollId, score: nowMs });
  if (pngMissing) queueChartJob(tx, prefix, pollId, nowMs);
  tx.exec().catch(() => {
    // Redis is down: the read itself answers 503; the next read records the demand.
    lastWrite.delete(key);
  });
}
