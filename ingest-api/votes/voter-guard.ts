import { hash } from "node:crypto";
import { UnavailableError } from "../../common/errors.ts";
import type { RedisClient } from "../../common/redis.ts";

// One vote per voter at ingest, kept in Redis in a memory-lean layout: each poll's voters
// are spread over 2^bits hashes (`<prefix>voters:<pollId>:<incarnation>:<bucket>`); a voter is one
// listpack entry, field = 8 bytes of sha256(voterId), value = 4 bytes of the eventId that
// claimed the vote. Small hashes stay listpack-encoded (hash-max-listpack-entries, 128 by
// default), ~20 bytes a voter instead of ~100 for a key each. Storing the eventId tag lets
// a kiosk's retry of the same vote pass while a second, different vote is refused. The
// database has the final word (the writer's voter_ballots table); this is the fast answer.
//
// Redis without persistence comes back empty, and an empty bucket would answer "claimed"
// to a voter who already voted. So a claim is only taken while Redis says its claims are
// complete: the instance marker (`<prefix>voter-claims:restored`, written when the claims
// were rebuilt from voter_ballots) exists, or the poll is listed as rebuilt in
// `<prefix>voter-claims:rebuilt` while a rebuild goes on. Both vanish with the data, in
// the same script as the claim: no round trip more, and no window between check and claim.
//
// The poll's incarnation (polls.incarnation, which the writer also judges votes by) is in
// the key: a poll deleted and created again under the same id starts with no claims, even
// where the old ones could not be deleted (Redis unavailable at the delete).

const CLAIM = `
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('HEXISTS', KEYS[3], ARGV[4]) == 0 then
  return -1
end
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
  pollId: string;
  key: string;
  field: Buffer;
  tag: Buffer;
}

/** One incarnation of a poll id (polls.incarnation): its claims are its own. */
export interface PollIncarnation {
  pollId: string;
  incarnation: number;
}

/** Bucket keys deleted per UNLINK when a poll's claims are forgotten. */
const UNLINK_CHUNK = 1_024;
/** UNLINKs sent together: the 65,536 buckets of 16 bits are 4 round trips. */
const UNLINK_PIPELINE = 16;

function bucketKey(layout: VoterLayout, poll: PollIncarnation, bucket: number): string {
  return `${layout.keyPrefix}voters:${poll.pollId}:${poll.incarnation}:${bucket.toString(16)}`;
}

/** Where a poll's voter entries live: the one home of the hashing rule. */
export interface VoterLayout {
  keyPrefix: string;
  bucketBits: number;
}

/**
 * The Redis entry of one voter's claim. The API (claims) and the rebuild from
 * voter_ballots both use this function, so that a rebuilt entry is the one a claim finds.
 */
export function voterClaim(
  layout: VoterLayout,
  poll: PollIncarnation,
  voterId: string,
  eventId: string,
): VoterClaim {
  // One-shot hash: a third of createHash's cost, which the rebuild pays a million times.
  const digest = hash("sha256", voterId, "buffer");
  const bits = layout.bucketBits;
  const bucket = bits === 0 ? 0 : digest.readUInt32BE(0) >>> (32 - bits);
  return {
    pollId: poll.pollId,
    key: bucketKey(layout, poll, bucket),
    field: digest.subarray(4, 12),
    tag: Buffer.from(eventId.slice(-8), "hex"),
  };
}

/** The keys that say whether Redis holds every claim (see the comment at the top). */
export function voterClaimsKeys(keyPrefix: string) {
  const base = `${keyPrefix}voter-claims`;
  return {
    /** Written once the claims were rebuilt; gone when Redis lost its data. */
    restored: `${base}:restored`,
    /** Hash: poll id → 1 for each poll rebuilt so far by the rebuild in progress. */
    rebuilt: `${base}:rebuilt`,
    /** SET NX PX lock: one rebuild at a time across every API process. */
    lock: `${base}:rebuild-lock`,
  };
}

/** Votes of a poll whose claims Redis lost and is being given back: 503, never a false 202. */
function claimsRebuilding(pollId: string): UnavailableError {
  return new UnavailableError(
    "voter_claims_rebuilding",
    `one-vote-per-voter claims of poll "${pollId}" are being restored after a Redis restart; retry shortly`,
    2,
  );
}

export class VoterGuard {
  readonly #redis: RedisClient;
  readonly #layout: VoterLayout;
  readonly #retentionMs: number;
  readonly #keys: ReturnType<typeof voterClaimsKeys>;
  readonly #sha = new Map<string, string>();
  #onClaimsMissing: () => void = () => {};

  constructor(redis: RedisClient, keyPrefix: string, bucketBits: number, retentionMs: number) {
    this.#redis = redis;
    this.#layout = { keyPrefix, bucketBits };
    this.#retentionMs = retentionMs;
    this.#keys = voterClaimsKeys(keyPrefix);
  }

  get layout(): VoterLayout {
    return this.#layout;
  }

  get retentionMs(): number {
    return this.#retentionMs;
  }

  /** Called (without waiting) when a claim finds that Redis lost the claims. */
  onClaimsMissing(listener: () => void): void {
    this.#onClaimsMissing = listener;
  }

  claimFor(poll: PollIncarnation, voterId: string, eventId: string): VoterClaim {
    return voterClaim(this.#layout, poll, voterId, eventId);
  }

  async claim(c: VoterClaim): Promise<ClaimResult> {
    const { restored, rebuilt } = this.#keys;
    const result = await this.#run(
      CLAIM,
      [c.key, restored, rebuilt],
      [c.field, c.tag, String(this.#retentionMs), c.pollId],
    );
    if (result === -1) {
      this.#onClaimsMissing();
      throw claimsRebuilding(c.pollId);
    }
    return result === 1 ? "claimed" : result === 2 ? "same_event" : "taken";
  }

  /** Gives a claim back when the vote could not be published (so the voter can retry). */
  async release(c: VoterClaim): Promise<void> {
    await this.#run(RELEASE, [c.key], [c.field, c.tag]);
  }

  /**
   * Removes every voter entry of a poll's incarnation (on archive or delete): its 2^bits
   * bucket keys are known, so they are unlinked by name, UNLINK_CHUNK a command, pipelined.
   * A SCAN of the keyspace would cost as much as every key of every service, however few
   * this poll has, and hold Redis as long.
   */
  async forgetPoll(poll: PollIncarnation): Promise<number> {
    const buckets = 2 ** this.#layout.bucketBits;
    const chunk = (start: number) => {
      const keys = [];
      for (let b = start; b < Math.min(buckets, start + UNLINK_CHUNK); b++)
        keys.push(bucketKey(this.#layout, poll, b));
      return this.#redis.unlink(keys);
    };
    let removed = 0;
    // UNLINK_PIPELINE commands in flight: the key names of 2^24 buckets are not all built at once.
    for (let start = 0; start < buckets; start += UNLINK_CHUNK * UNLINK_PIPELINE) {
      const unlinks: Promise<number>[] = [];
      for (let i = 0; i < UNLINK_PIPELINE && start + i * UNLINK_CHUNK < buckets; i++)
        unlinks.push(chunk(start + i * UNLINK_CHUNK));
      for (const n of await Promise.all(unlinks)) removed += n;
    }
    return removed;
  }

  async #run(script: string, keys: string[], args: (string | Buffer)[]): Promise<number> {
    try {
      let sha = this.#sha.get(script);
      if (sha === undefined) {
        sha = await this.#redis.scriptLoad(script);
        this.#sha.set(script, sha);
      }
      try {
        return Number(
          await this.#redis.sendCommand(["EVALSHA", sha, String(keys.length), ...keys, ...args]),
        );
      } catch (err) {
        // NOSCRIPT: Redis restarted and lost its script cache; load again once.
        if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
        this.#sha.delete(script);
        return this.#run(script, keys, args);
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
