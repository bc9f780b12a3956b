import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";
import { v7 as uuidv7 } from "uuid";
import type { SeededKiosk, SeededPoll } from "../simulator/kiosk-file.ts";

// The chaos suite's steady load: a few kiosks, each at one poll, sending single votes and
// small batches at a bounded rate. A kiosk never drops a vote: on a 5xx or no answer it
// resends the same request (same eventIds, so the same batch message id) with back-off,
// as a real kiosk's outbox does, and now and then it resends after a 2xx as if the answer
// had been lost. It records every eventId that got a 202 (or "accepted"/"duplicate" in a
// batch), every vote sent without ever seeing one, and when each 503 came back.

export interface LoadOptions {
  apiUrl: string;
  kiosks: SeededKiosk[];
  polls: SeededPoll[];
  /** Votes cast per second over all kiosks. */
  ratePerS: number;
  /** Share of votes that go through the batch endpoint. */
  batchShare: number;
  batchSize: number;
  /** Share of answered requests resent anyway (a lost response). */
  resendShare: number;
  /** Requests in flight at most; votes due beyond this are counted as behind, not sent. */
  maxInFlight: number;
  /**
   * On one-vote-per-voter polls, share of votes by a voter whose vote there already got a
   * 202: the API must refuse them (409 already_voted), also after Redis lost its claims.
   */
  secondVoteShare: number;
}

interface Vote {
  eventId: string;
  pollId: string;
  optionId: string;
  castAt: string;
  voterId?: string;
}

interface LoadKiosk {
  headers: Record<string, string>;
  poll: SeededPoll;
  buffer: Vote[];
  bufferedAt: number;
}

const BATCH_LINGER_MS = 300;
/** Voters remembered per run for second votes (a ring of the latest). */
const VOTED_RING = 1_000;
const MAX_BACKOFF_MS = 2_000;

export class MixedLoad {
  readonly #o: LoadOptions;
  readonly #pool: Pool;
  readonly #kiosks: LoadKiosk[];
  /** eventIds that got a 202: each must be stored exactly once. */
  readonly accepted = new Set<string>();
  /** eventIds sent without a 202 seen (yet): JetStream may have them, so they are not "extra". */
  readonly uncertain = new Set<string>();
  /** Date.now() of each 503 answer or request that got no answer (connection refused, reset). */
  readonly unavailableAt: number[] = [];
  /** Date.now() of each answer that accepted votes. */
  readonly okAt: number[] = [];
  readonly refused = new Map<string, number>();
  requests = 0;
  resends = 0;
  behind = 0;
  startedAt = new Date(0);
  endedAt = new Date(0);
  #inFlight = 0;
  #stopped = false;
  /** After stop(), resends give up at this time (what is unanswered stays uncertain). */
  #giveUpAt = Number.POSITIVE_INFINITY;
  #loop: Promise<void> | undefined;
  #sends = new Set<Promise<void>>();
  /** Voters whose vote on a one-vote-per-voter poll got a 202, by poll. */
  readonly #voted = new Map<string, string[]>();

  constructor(o: LoadOptions) {
    if (o.kiosks.length === 0 || o.polls.length === 0)
      throw new Error("load needs kiosks and polls");
    this.#o = o;
    this.#pool = new Pool(o.apiUrl, {
      connections: 32,
      keepAliveTimeout: 10_000,
      headersTimeout: 15_000,
      bodyTimeout: 15_000,
    });
    this.#kiosks = o.kiosks.map((k, i) => ({
      headers: { authorization: `Bearer ${k.token}`, "content-type": "application/json" },
      poll: o.polls[i % o.polls.length]!,
      buffer: [],
      bufferedAt: 0,
    }));
  }

  start(): void {
    this.startedAt = new Date();
    this.#loop = this.#run();
  }

  /** Stops casting, flushes the kiosks' buffers and waits (at most `drainMs`) for every answer. */
  async stop(drainMs = 30_000): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    for (const k of this.#kiosks) this.#flush(k);
    this.#giveUpAt = Date.now() + drainMs;
    while (this.#sends.size > 0) await Promise.allSettled([...this.#sends]);
    this.endedAt = new Date();
    await this.#pool.close();
  }

  async #run(): Promise<void> {
    const t0 = performance.now();
    let cast = 0;
    let n = 0;
    while (!this.#stopped) {
      const due = Math.floor(((performance.now() - t0) / 1000) * this.#o.ratePerS);
      while (cast < due) {
        cast++;
        if (this.#inFlight >= this.#o.maxInFlight) {
          this.behind++;
          continue;
        }
        const kiosk = this.#kiosks[n++ % this.#kiosks.length]!;
        const vote = this.#makeVote(kiosk.poll);
        if (Math.random() < this.#o.batchShare) {
          if (kiosk.buffer.length === 0) kiosk.bufferedAt = Date.now();
          kiosk.buffer.push(vote);
          if (kiosk.buffer.length >= this.#o.batchSize) this.#flush(kiosk);
        } else this.#track(this.#send(kiosk, [vote], false));
      }
      const now = Date.now();
      for (const k of this.#kiosks)
        if (k.buffer.length > 0 && now - k.bufferedAt >= BATCH_LINGER_MS) this.#flush(k);
      await sleep(20);
    }
  }

  #flush(kiosk: LoadKiosk): void {
    if (kiosk.buffer.length === 0) return;
    const votes = kiosk.buffer;
    kiosk.buffer = [];
    this.#track(this.#send(kiosk, votes, true));
  }

  #track(send: Promise<void>): void {
    this.#sends.add(send);
    void send.finally(() => this.#sends.delete(send));
  }

  async #send(kiosk: LoadKiosk, votes: Vote[], batch: boolean): Promise<void> {
    for (const v of votes) this.uncertain.add(v.eventId);
    const path = batch ? "/v1/votes/batch" : "/v1/votes";
    const body = JSON.stringify(batch ? { votes } : votes[0]);
    let resent = false;
    for (let attempt = 0; ; attempt++) {
      if (Date.now() >= this.#giveUpAt) return;
      const answer = await this.#post(kiosk, path, body);
      if (answer === undefined || answer.status >= 500) {
        this.unavailableAt.push(Date.now());
        const backoff = Math.min(MAX_BACKOFF_MS, 100 * 2 ** attempt);
        await sleep(backoff * (0.5 + Math.random()));
        continue;
      }
      this.#record(votes, batch, answer.status, answer.text);
      if (resent || answer.status >= 300 || Math.random() >= this.#o.resendShare) return;
      // The answer "was lost": the kiosk sends exactly the same request again.
      resent = true;
      this.resends++;
    }
  }

  async #post(
    kiosk: LoadKiosk,
    path: string,
    body: string,
  ): Promise<{ status: number; text: string } | undefined> {
    this.#inFlight++;
    this.requests++;
    try {
      const res = await this.#pool.request({ method: "POST", path, headers: kiosk.headers, body });
      return { status: res.statusCode, text: await res.body.text() };
    } catch {
      return undefined;
    } finally {
      this.#inFlight--;
    }
  }

  #record(votes: Vote[], batch: boolean, status: number, text: string): void {
    if (!batch && status === 202) {
      this.#ok(votes[0]!);
      this.okAt.push(Date.now());
      return;
    }
    if (batch && status === 200) {
      const results = (JSON.parse(text) as { results: BatchItem[] }).results;
      let ok = false;
      for (const [i, r] of results.entries()) {
        if (r.status === "accepted" || r.status === "duplicate") {
          this.#ok(votes[i]!);
          ok = true;
        } else this.#refuse(r.eventId, r.error?.code ?? "rejected");
      }
      if (ok) this.okAt.push(Date.now());
      return;
    }
    // A 4xx refuses the whole request: nothing of it was published.
    const code = errorCode(text) ?? `http_${status}`;
    for (const v of votes) this.#refuse(v.eventId, code);
  }

  #ok(vote: Vote): void {
    this.accepted.add(vote.eventId);
    this.uncertain.delete(vote.eventId);
    if (vote.voterId === undefined) return;
    const voted = this.#voted.get(vote.pollId) ?? [];
    if (voted.length >= VOTED_RING) voted[Math.floor(Math.random() * VOTED_RING)] = vote.voterId;
    else voted.push(vote.voterId);
    this.#voted.set(vote.pollId, voted);
  }

  #makeVote(poll: SeededPoll): Vote {
    const option = poll.options[Math.floor(Math.random() * poll.options.length)]!;
    const vote: Vote = {
      eventId: uuidv7(),
      pollId: poll.id,
      optionId: option.id,
      castAt: new Date().toISOString(),
    };
    // One-vote-per-voter polls: mostly a fresh voter (every such vote goes through the
    // Redis claim, so it answers 503 while Redis is down), now and then one who already
    // voted there and must be refused.
    if (poll.oneVotePerVoter) {
      const voted = this.#voted.get(poll.id);
      vote.voterId =
        voted && voted.length > 0 && Math.random() < this.#o.secondVoteShare
          ? voted[Math.floor(Math.random() * voted.length)]!
          : `chaos-${vote.eventId}`;
    }
    return vote;
  }

  #refuse(eventId: string, code: string): void {
    this.uncertain.delete(eventId);
    this.refused.set(code, (this.refused.get(code) ?? 0) + 1);
  }
}

interface BatchItem {
  eventId: string;
  status: "accepted" | "duplicate" | "rejected";
  error?: { code?: string };
}

function errorCode(text: string): string | undefined {
  try {
    const code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code;
    return typeof code === "string" ? code : undefined;
  } catch {
    return undefined;
  }
}
