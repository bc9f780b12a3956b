import type { RedisClient } from "../common/redis.ts";
import { chartDemandKey, chartJobsKey, resultsKeys } from "../common/results-contract.ts";

// The chart work shared by every publisher process, in Redis: which polls are being read
// (demand, written by the API) and which charts are to be drawn (jobs, written by the
// leader after a publication and by the API on a read that found no PNG).

/**
 * Writes the PNG only if the poll's version is still the one it was drawn for: a render
 * of version V that finishes after the leader published V+1 (whose MULTI deleted the PNG
 * of V) is dropped, so a PNG is never beside a JSON of another version. Atomic in Redis.
 */
const SET_PNG_IF_VERSION = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0`;

/** Stores `png` as the chart of `version`; false when the poll has moved on (or is gone). */
export async function storePngIfCurrent(
  redis: RedisClient,
  prefix: string,
  pollId: string,
  version: string,
  png: Buffer,
): Promise<boolean> {
  const keys = resultsKeys(prefix, pollId);
  const stored = await redis.eval(SET_PNG_IF_VERSION, {
    keys: [keys.version, keys.png],
    arguments: [version, png],
  });
  return stored === 1;
}

/** Polls whose chart was read within `ttlMs`; older entries are dropped on the way. */
export async function demandedPolls(
  redis: RedisClient,
  prefix: string,
  nowMs: number,
  ttlMs: number,
): Promise<Set<string>> {
  const key = chartDemandKey(prefix);
  const [, polls] = await redis
    .multi()
    .zRemRangeByScore(key, "-inf", `(${nowMs - ttlMs}`)
    .zRangeByScore(key, nowMs - ttlMs, "+inf")
    .execTyped();
  return new Set(polls.map(String));
}

/**
 * Takes the oldest job, waiting up to `timeoutS` for one (BZPOPMIN: this blocks the
 * connection, so it runs on a client of its own). One job goes to one renderer.
 */
export async function takeChartJob(
  blocking: RedisClient,
  prefix: string,
  timeoutS: number,
): Promise<string | undefined> {
  const popped = await blocking.bzPopMin(chartJobsKey(prefix), timeoutS);
  return popped === null ? undefined : String(popped.value);
}
