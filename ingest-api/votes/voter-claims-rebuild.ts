import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { UnavailableError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { COMPLETE, EXPIRE_ALL, EXTEND, POLL_DONE, UNLOCK, WRITE } from "./voter-claims-scripts.ts";
import {
  type PollIncarnation,
  type VoterGuard,
  voterClaim,
  voterClaimsKeys,
} from "./voter-guard.ts";
import { type StreamProgress, waitForWriter } from "./votes-stream-progress.ts";

// Gives Redis back the one-vote-per-voter claims it lost (a Redis without persistence
// restarts empty) from the writer's voter_ballots, the database's record of who voted.
//
// The ingest API owns this, not the writer or the publisher: the voter keys are the API's
// (it is their only reader and writer, and VoterGuard holds the hashing rule), it has a
// Postgres pool already, and it is the one that must refuse votes while the claims are
// incomplete; a rebuild run by another service would need a second copy of the layout
// and could not tell the API when it is done except through Redis anyway.
//
// Every API process checks the marker (on start, on Redis reconnect, when a claim finds
// it missing, and every VOTER_CLAIMS_CHECK_MS); one of them rebuilds, under a Redis lock
// (SET NX PX, renewed as it goes). Each lock-holding step is a script that checks the
// lock first: if Redis restarts again mid-rebuild the lock is gone with the data, and the
// rebuild stops instead of writing a marker over claims it no longer holds.
//
// Before reading voter_ballots it waits for the writer to store the votes already in the
// stream: a vote accepted just before Redis emptied is in no table yet.

const NUDGE_MIN_MS = 1_000;
/** How often the rebuild looks at the stream while it waits for the writer. */
const WRITER_POLL_MS = 100;

export interface RebuildSettings {
  /** How often each API process checks that the claims are complete. */
  checkIntervalMs: number;
  /** voter_ballots rows read and written to Redis per step. */
  batchRows: number;
  /** Lock lifetime; renewed after each step, so a dead rebuilder frees it this soon. */
  lockMs: number;
  /** Longest wait for the writer to store the votes already in the stream; 0 = no wait. */
  writerWaitMs: number;
}

interface Ballot {
  voter_id: string;
  event_id: string;
}

export interface RebuildSummary {
  polls: number;
  voters: number;
  durationMs: number;
}

/** The rebuild lost its lock (Redis restarted again, or the lock expired): it stops. */
export class RebuildInterruptedError extends Error {
  override readonly name = "RebuildInterruptedError";
  readonly code = "rebuild_interrupted";
}

export class VoterClaimsRebuild {
  readonly #pool: Pool;
  readonly #redis: RedisClient;
  readonly #guard: VoterGuard;
  readonly #settings: RebuildSettings;
  readonly #logger: Logger;
  readonly #keys: ReturnType<typeof voterClaimsKeys>;
  #inFlight: Promise<RebuildSummary | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** A loss was reported (one WARN) and not yet healed (one INFO). */
  #healing = false;
  #failing = false;
  #lastCheckMs = 0;
  readonly #onReady = () => void this.ensure();
  /** A refused claim asks for a check; at most one a second, however many votes arrive. */
  readonly #onClaimsMissing = () => {
    if (Date.now() - this.#lastCheckMs >= NUDGE_MIN_MS) void this.ensure();
  };

  readonly #streamProgress: () => Promise<StreamProgress>;

  constructor(
    pool: Pool,
    redis: RedisClient,
    guard: VoterGuard,
    settings: RebuildSettings,
    logger: Logger,
    streamProgress: () => Promise<StreamProgress>,
  ) {
    this.#streamProgress = streamProgress;
    this.#pool = pool;
    this.#redis = redis;
    this.#guard = guard;
    this.#settings = settings;
    this.#logger = logger.child({ component: "voter-claims" });
    this.#keys = voterClaimsKeys(guard.layout.keyPrefix);
  }

  /** Checks (and rebuilds) once before the API takes votes, then keeps watching. */
  async start(): Promise<void> {
    this.#guard.onClaimsMissing(this.#onClaimsMissing);
    this.#redis.on("ready", this.#onReady);
    await this.ensure();
    this.#timer = setInterval(() => void this.ensure(), this.#settings.checkIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#redis.off("ready", this.#onReady);
    this.#guard.onClaimsMissing(() => {});
    await this.#inFlight;
  }

  /**
   * Rebuilds when Redis has no complete set of claims and no other process is on it.
   * Single-flight in this process; never throws (a failure is retried at the next check).
   * Resolves with what it rebuilt, or undefined when there was nothing to do here.
   */
  ensure(): Promise<RebuildSummary | undefined> {
    if (this.#inFlight) return this.#inFlight;
    this.#lastCheckMs = Date.now();
    this.#inFlight = this.#check()
      .then((summary) => {
        if (this.#failing) this.#logger.info("voter claims check recovered");
        this.#failing = false;
        return summary;
      })
      .catch((err: unknown) => {
        if (!this.#failing && !this.#stopped)
          this.#logger.warn({ err }, "voter claims rebuild failed; retrying at the next check");
        this.#failing = true;
        return undefined;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  /**
   * Gives one poll its claims back from voter_ballots: an unarchived poll, whose claims the
   * archive forgot. Called before the poll takes votes again (the unarchive commits after
   * it), under the rebuild lock, waited for up to lockMs while another process holds it: a
   * full rebuild going on may have listed the polls before this one was unarchived.
   * Throws 503 when the lock cannot be had: the poll then stays archived.
   */
  async restorePoll(poll: PollIncarnation): Promise<number> {
    const token = randomUUID();
    const deadline = Date.now() + this.#settings.lockMs;
    while (
      (await this.#redis.set(this.#keys.lock, token, {
        condition: "NX",
        expiration: { type: "PX", value: this.#settings.lockMs },
      })) === null
    ) {
      if (Date.now() >= deadline)
        throw new UnavailableError(
          "voter_claims_rebuilding",
          `one-vote-per-voter claims are being rebuilt; unarchive poll "${poll.pollId}" again shortly`,
          2,
        );
      await sleep(WRITER_POLL_MS);
    }
    try {
      return await this.#rebuildPoll(poll, token);
    } finally {
      await this.#script(UNLOCK, [this.#keys.lock], [token]).catch(() => {});
    }
  }

  async #check(): Promise<RebuildSummary | undefined> {
    if (this.#stopped || (await this.#redis.exists(this.#keys.restored)) === 1) return undefined;
    const token = randomUUID();
    const locked = await this.#redis.set(this.#keys.lock, token, {
      condition: "NX",
      expiration: { type: "PX", value: this.#settings.lockMs },
    });
    if (locked === null) return undefined; // another API process is rebuilding
    try {
      return await this.#rebuild(token);
    } finally {
      await this.#script(UNLOCK, [this.#keys.lock], [token]).catch(() => {});
    }
  }

  async #rebuild(token: string): Promise<RebuildSummary> {
    const started = performance.now();
    const { rows: polls } = await this.#pool.query<{
      id: string;
      incarnation: number;
      voters: boolean;
    }>(
      `select p.id, p.incarnation,
              exists (select 1 from voter_ballots b where b.poll_id = p.id) as voters
       from polls p where p.one_vote_per_voter and p.archived_at is null order by p.id`,
    );
    // A first start (nothing to restore) is not news; claims lost by Redis are.
    const lost = polls.some((p) => p.voters);
    if (lost && !this.#healing)
      this.#logger.warn(
        { polls: polls.length },
        "one-vote-per-voter claims are missing from Redis (restarted empty?); rebuilding them from voter_ballots, their votes answer 503 meanwhile",
      );
    this.#healing ||= lost;
    // Nothing to restore (a first start): the stream's votes are the first ones, no wait.
    if (lost) await this.#writerCaughtUp(token);
    // Polls a rebuild cut short already gave back (this Redis still lists them) are skipped.
    const done = new Set(Object.keys(await this.#redis.hGetAll(this.#keys.rebuilt)));
    let voters = 0;
    for (const poll of polls) {
      if (done.has(poll.id)) continue;
      // Every poll, not only those with ballots when listed: the wait may have added some.
      voters += await this.#rebuildPoll({ pollId: poll.id, incarnation: poll.incarnation }, token);
      await this.#holding(POLL_DONE, [this.#keys.lock, this.#keys.rebuilt], [token, poll.id]);
    }
    const marker = JSON.stringify({ at: new Date().toISOString(), polls: polls.length, voters });
    const { lock, restored, rebuilt } = this.#keys;
    await this.#holding(COMPLETE, [lock, restored, rebuilt], [token, marker]);
    const summary = { polls: polls.length, voters, durationMs: performance.now() - started };
    if (this.#healing) this.#logger.info(summary, "one-vote-per-voter claims restored in Redis");
    this.#healing = false;
    return summary;
  }

  /**
   * Waits until the writer has stored every vote published before now. A vote the API took
   * just before Redis emptied may still be in the stream, not yet in voter_ballots: rebuilt
   * without it, its voter could vote again and get a 202 the writer then turns into a
   * rejected vote. Bounded by writerWaitMs (a writer that is down must not keep every
   * one-vote-per-voter poll refusing votes): past it, the rebuild goes on with one WARN.
   */
  async #writerCaughtUp(token: string): Promise<void> {
    const { writerWaitMs, lockMs } = this.#settings;
    const wait = await waitForWriter(this.#streamProgress, {
      waitMs: writerWaitMs,
      pollMs: WRITER_POLL_MS,
      between: async () => {
        if (this.#stopped) throw new RebuildInterruptedError("the API is shutting down");
        await this.#holding(EXTEND, [this.#keys.lock], [token, String(lockMs)]);
      },
    });
    if (wait.outcome === "unknown")
      this.#logger.warn(
        { err: wait.err },
        "cannot tell whether the writer stored the votes in the stream; rebuilding voter claims without waiting",
      );
    else if (wait.outcome === "timed_out")
      this.#logger.warn(
        { writerWaitMs, publishedSeq: wait.publishedSeq },
        "the writer has not stored the votes already in the stream; rebuilding voter claims without them (a second vote by their voters is refused by the writer instead)",
      );
  }

  /**
   * One poll's ballots in keyset-ordered steps of batchRows, each written by one script.
   * The next step is read and hashed while Redis runs the previous one (two in flight).
   */
  async #rebuildPoll(poll: PollIncarnation, token: string): Promise<number> {
    const { batchRows } = this.#settings;
    let after: string | null = null;
    let written = 0;
    let writing: Promise<void> = Promise.resolve();
    const touched = new Set<string>();
    for (;;) {
      if (this.#stopped) throw new RebuildInterruptedError("the API is shutting down");
      const rows = await this.#ballots(poll.pollId, after);
      if (rows.length === 0) break;
      const step = this.#write(poll, rows, token, touched);
      // Awaited below or at the next step; a failure meanwhile must not count as unhandled
      // (that would end the process). Awaiting it later still throws its error.
      step.catch(() => {});
      await writing;
      writing = step;
      written += rows.length;
      if (rows.length < batchRows) break;
      after = rows[rows.length - 1]!.voter_id;
    }
    await writing;
    await this.#expire(touched, token);
    return written;
  }

  /** The next batchRows ballots of a poll after voter `after`, in primary key order. */
  async #ballots(pollId: string, after: string | null): Promise<Ballot[]> {
    const limit = this.#settings.batchRows;
    const { rows } =
      after === null
        ? await this.#pool.query<Ballot>(
            `select voter_id, event_id::text as event_id from voter_ballots
             where poll_id = $1 order by voter_id limit $2`,
            [pollId, limit],
          )
        : await this.#pool.query<Ballot>(
            `select voter_id, event_id::text as event_id from voter_ballots
             where poll_id = $1 and voter_id > $2 order by voter_id limit $3`,
            [pollId, after, limit],
          );
    return rows;
  }

  /**
   * One script for the whole step, which also renews the lock: the database is the truth,
   * so an entry already there is overwritten with it. Records the bucket keys it wrote.
   */
  async #write(
    poll: PollIncarnation,
    rows: Ballot[],
    token: string,
    touched: Set<string>,
  ): Promise<void> {
    const keys = [this.#keys.lock];
    const args: (string | Buffer)[] = [token, String(this.#settings.lockMs)];
    for (const r of rows) {
      const c = voterClaim(this.#guard.layout, poll, r.voter_id, r.event_id);
      keys.push(c.key);
      args.push(c.field, c.tag);
      touched.add(c.key);
    }
    await this.#holding(WRITE, keys, args);
  }

  /** The bucket TTL a claim sets (VOTER_RETENTION_MS), on every bucket the poll's rebuild wrote. */
  async #expire(touched: Set<string>, token: string): Promise<void> {
    const ttl = String(this.#guard.retentionMs);
    const all = [...touched];
    for (let i = 0; i < all.length; i += this.#settings.batchRows)
      await this.#holding(
        EXPIRE_ALL,
        [this.#keys.lock, ...all.slice(i, i + this.#settings.batchRows)],
        [token, ttl],
      );
  }

  /** Runs a step that needs the lock; stops the rebuild when the lock is not ours any more. */
  async #holding(script: string, keys: string[], args: (string | Buffer)[]): Promise<void> {
    if ((await this.#script(script, keys, args)) === 0)
      throw new RebuildInterruptedError("the rebuild lock was lost (Redis restarted again?)");
  }

  async #script(script: string, keys: string[], args: (string | Buffer)[]): Promise<number> {
    return Number(await this.#redis.eval(script, { keys, arguments: args }));
  }
}
