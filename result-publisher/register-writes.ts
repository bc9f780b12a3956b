import type { RedisClient } from "../common/redis.ts";
import { registerChannel, registerEpochKey, registerKeys } from "../common/register-contract.ts";

// A register document's write to Redis, fenced by the leader's epoch. The results and
// attendance publishers repair a document a deposed leader wrote late (each run compares
// every version in Redis with the one it remembers); the register publisher reads no
// version back (one GET a run, the sentinel, so that an idle run costs nothing whatever the
// kept window), so a late write would stay over the newer document until the register
// changed again. Instead each leader takes an epoch (INCR) as it starts leading, before its
// first snapshot, and a document is written only while the key still holds that epoch,
// checked and written in one script: once a successor has taken its epoch, no write of the
// one before lands.

const WRITE_IF_EPOCH = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('SET', KEYS[3], ARGV[3], 'PX', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1`;

/** A new epoch for a leader that starts leading. */
export async function takeRegisterEpoch(redis: RedisClient, prefix: string): Promise<string> {
  return String(await redis.incr(registerEpochKey(prefix)));
}

export interface RegisterDocumentWrite {
  pollId: string;
  json: string;
  version: string;
  ttlMs: number;
}

/**
 * Writes the document (JSON and version, with their TTL) and announces it, all only while
 * `epoch` is the current one (undefined: unfenced, a publisher no other competes with);
 * false when a newer leader's epoch refused it.
 */
export async function writeRegisterDocument(
  redis: RedisClient,
  prefix: string,
  epoch: string | undefined,
  w: RegisterDocumentWrite,
): Promise<boolean> {
  const keys = registerKeys(prefix, w.pollId);
  const announcement = JSON.stringify({ pollId: w.pollId, version: w.version });
  if (epoch === undefined) {
    const expiration = { expiration: { type: "PX", value: w.ttlMs } } as const;
    await redis
      .multi()
      .set(keys.json, w.json, expiration)
      .set(keys.version, w.version, expiration)
      .publish(registerChannel(prefix), announcement)
      .exec();
    return true;
  }
  const written = await redis.eval(WRITE_IF_EPOCH, {
    keys: [registerEpochKey(prefix), keys.json, keys.version],
    arguments: [epoch, w.json, w.version, String(w.ttlMs), registerChannel(prefix), announcement],
  });
  return written === 1;
}
