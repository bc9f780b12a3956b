import type { RedisClient } from "./redis.ts";
import { chartJobsKey } from "./results-contract.ts";

// Both the publisher's leader (after a publication) and the read API (on a read that found
// no PNG) queue chart jobs, each inside a MULTI of its own; any publisher process takes
// them (result-publisher/chart-renderer.ts). One rule for both writers of the queue.

/** A Redis transaction being built (`client.multi()`). */
export type RedisMulti = ReturnType<RedisClient["multi"]>;

/**
 * Adds the queueing of `pollId`'s chart to `tx`. NX: a poll already queued keeps its place,
 * so jobs coalesce into one per poll whatever its number of new versions (the renderer
 * draws the version current when it takes the job).
 */
export function queueChartJob(tx: RedisMulti, prefix: string, pollId: string, nowMs: number): void {
  tx.zAdd(chartJobsKey(prefix), { value: pollId, score: nowMs }, { condition: "NX" });
}
