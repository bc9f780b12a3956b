import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { resultsKeys } from "../common/results-contract.ts";

// The published results of a deleted poll are the publisher's to remove. A run removes
// those of the polls it saw go, since it remembers what it published; a poll deleted while
// no publisher was the leader (stopped, restarting, failing over) is in no leader's memory,
// so a new leader looks for such keys in Redis once, after its first run.

/** Keys per DEL: a few thousand gone polls do not make one long command. */
const DEL_CHUNK = 1_000;

/** Redis glob metacharacters in the prefix must match literally. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");

/** The poll id of a results key (json, png or version) under `prefix`, if it is one. */
function pollIdOf(prefix: string, key: string): string | undefined {
  const match = /^results:([^:]+):(json|png|version)$/.exec(key.slice(prefix.length));
  if (!key.startsWith(prefix) || !match) return undefined;
  const id = match[1]!;
  return resultsKeys(prefix, id)[match[2] as "json" | "png" | "version"] === key ? id : undefined;
}

/**
 * Removes the results keys of every poll that is not in `polls` any more; returns their
 * ids. Run it after a run of this leader: a poll deleted after that run's snapshot but
 * before the query below is removed here, and one deleted after the query is in the run's
 * memory, so the next run removes it. SCAN, so Redis is never held for long.
 */
export async function removeResultsOfGonePolls(
  pool: Pool,
  redis: RedisClient,
  keyPrefix: string,
): Promise<string[]> {
  const found = new Set<string>();
  for await (const keys of redis.scanIterator({
    MATCH: `${globEscape(keyPrefix)}results:*`,
    COUNT: 1000,
  })) {
    for (const key of keys) {
      const id = pollIdOf(keyPrefix, key);
      if (id !== undefined) found.add(id);
    }
  }
  if (found.size === 0) return [];
  const { rows } = await pool.query<{ id: string }>(
    "select id from polls where id = any($1::text[])",
    [[...found]],
  );
  const live = new Set(rows.map((r) => r.id));
  const gone = [...found].filter((id) => !live.has(id)).sort();
  const keys = gone.flatMap((id) => Object.values(resultsKeys(keyPrefix, id)));
  for (let i = 0; i < keys.length; i += DEL_CHUNK) await redis.del(keys.slice(i, i + DEL_CHUNK));
  return gone;
}
