import { createHash } from "node:crypto";
import { UnavailableError } from "../common/errors.ts";
import type { RedisClient } from "../common/redis.ts";

// One vote per voter at ingest, kept in Redis in a memory-lean layout: each poll's voters
// are spread over 2^bits hashes (`<prefix>voters:<pollId>:<bucket>`); a voter is one
// listpack entry, field = 8 bytes of sha256(voterId), value = 4 bytes of the eventId that
// claimed the vote. Small hashes stay listpack-encoded (hash-max-listpack-entries, 128 by
// default), ~20 bytes a voter instead of ~100 for a key each. Storing the eventId tag lets
// a kiosk's retry of the same vote pass while a second, different vote is refused. The
// database has the final word (the writer's voter_ballots table); this is the fast answer.

const CLAIM = `
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if v == ARGV[2] then return 2 end
return 0`;

const RELEASE = `
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0`;

export type ClaimResult = "claimed" | "same_event" | "taken";

export interface VoterClaim {
  key: string;
  field: Buffer;
  tag: Buffer;
}

export class VoterGuard {
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #bits: number;
  readonly #retentionMs: number;
  readonly #sha = new Map<string, string>();

  constructor(redis: RedisClient, keyPrefix: string, bucketBits: number, retentionMs: number) {
    this.#redis = redis;
    this.#prefix = keyPrefix;
    this.#bits = bucketBits;
    this.#retentionMs = retentionMs;
  }

  claimFor(pollId: string, voterId: string, eventId: string): VoterClaim {
    const digest = createHash("sha256").update(voterId).digest();
    const bucket = this.#bits === 0 ? 0 : digest.readUInt32BE(0) >>> (32 - this.#bits);
    return {
      key: `${this.#prefix}voters:${pollId}:${bucket.toString(16)}`,
      field: digest.subarray(4, 12),
      tag: Buffer.from(eventId.slice(-8), "hex"),
    };
  }

  async claim(c: VoterClaim): Promise<ClaimResult> {
    const result = await this.#run(CLAIM, c, String(this.#retentionMs));
    return result === 1 ? "claimed" : result === 2 ? "same_event" : "taken";
  }

  /** Gives a claim back when the vote could not be published (so the voter can retry). */
  async release(c: VoterClaim): Promise<void> {
    await this.#run(RELEASE, c);
  }

  /** Removes every voter entry of a poll (on archive or delete), not one by one. */
  async forgetPoll(pollId: string): Promise<number> {
    let removed = 0;
    for await (const keys of this.#redis.scanIterator({
      MATCH: `${this.#prefix}voters:${pollId}:*`,
      COUNT: 1000,
    })) {
      if (keys.length > 0) removed += await this.#redis.unlink(keys);
    }
    return removed;
  }

  async #run(script: string, c: VoterClaim, ...extra: string[]): Promise<number> {
    try {
      let sha = this.#sha.get(script);
      if (sha === undefined) {
        sha = await this.#redis.scriptLoad(script);
        this.#sha.set(script, sha);
      }
      try {
        return Number(
          await this.#redis.sendCommand(["EVALSHA", sha, "1", c.key, c.field, c.tag, ...extra]),
        );
      } catch (err) {
        // NOSCRIPT: Redis restarted and lost its script cache; load again once.
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        this.#sha.delete(script);
        return this.#run(script, c, ...extra);
      }
    } catch (err) {
      throw new UnavailableError(
        "redis_unavailable",
        "one-vote-per-voter check is unavailable; retry shortly",
        2,
        err,
      );
    }
  }
}
