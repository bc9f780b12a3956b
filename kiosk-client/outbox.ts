import { batchBody, sentCastAt } from "./batch-body.ts";
import { type CompletionInput, sendCompletion, toCompletionEntry } from "./completion-entry.ts";
import { OutboxError } from "./errors.ts";
import {
  batchUrl,
  checkedToken,
  type Limits,
  type OutboxOptions,
  readLimits,
} from "./outbox-options.ts";
import { RegistryLag } from "./registry-lag.ts";
import { SendState } from "./send-state.ts";
import { type BatchOutcome, type BatchRequest, refusedAsTooLarge, sendBatch } from "./sender.ts";
import { ServerClock } from "./server-clock.ts";
import { statusHeader, statusReport } from "./status-report.ts";
import type { OutboxEntry, OutboxStatus, OutboxStore, RefusedEntry, VoteInput } from "./types.ts";
import { toEntry } from "./vote-entry.ts";
import { WakeableSleep } from "./wakeable-sleep.ts";

// The outbox: votes are written to a durable store before enqueue resolves, and a sender
// (one flush at a time) drains the store through POST /v1/votes/batch, removing an entry
// only once the server answered for it. The same file runs in Node and, types stripped,
// in the browser (served by the API at /kiosk-client/outbox.ts).

export type { OutboxOptions } from "./outbox-options.ts";

export interface FlushResult {
  /** Entries the server answered accepted or duplicate (removed). */
  acked: number;
  /** Entries the server rejected (moved to refused). */
  refused: number;
  /** Pending after this flush. */
  pending: number;
  /** The failure that ended the flush early, if any. */
  error: OutboxError | undefined;
  /** When to try again (back-off or Retry-After), if the flush failed. */
  retryInMs: number | undefined;
}

export interface OutboxEventDetail {
  change: Record<string, never>;
  /** acked: answered accepted or duplicate; duplicates: the ones answered duplicate. */
  sent: { acked: string[]; duplicates: string[]; refused: number };
  refused: { refused: RefusedEntry[] };
  error: { error: OutboxError; retryInMs: number | undefined };
}

export type OutboxEventType = keyof OutboxEventDetail;

/** What one flush settled so far. */
interface Tally {
  acked: number;
  refused: number;
}

export class Outbox extends EventTarget {
  readonly #store: OutboxStore;
  readonly #limits: Limits;
  readonly #request: Omit<BatchRequest, "statusHeader">;
  readonly #appVersion: string | undefined;
  readonly #sendStatus: boolean;
  readonly #send = new SendState();
  readonly #idle = new WakeableSleep();
  readonly #clock: ServerClock;
  readonly #registryLag: RegistryLag;
  readonly #heartbeatUrl: string;
  #batchLimit: number;
  #flushing: Promise<FlushResult> | undefined;
  #loop: Promise<void> | undefined;
  #running = false;
  #closed = false;
  #abort = new AbortController();

  constructor(options: OutboxOptions) {
    super();
    this.#limits = readLimits(options);
    const url = batchUrl(options.apiUrl);
    const token = checkedToken(options.token);
    this.#store = options.store;
    this.#clock = new ServerClock(options.now ?? Date.now);
    this.#registryLag = new RegistryLag(this.#limits.registryLagRetryMs);
    this.#heartbeatUrl = batchUrl(options.apiUrl, "/v1/kiosk/heartbeat");
    this.#request = {
      url,
      token,
      fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      requestTimeoutMs: this.#limits.requestTimeoutMs,
      clock: this.#clock,
    };
    this.#appVersion = options.appVersion;
    this.#sendStatus = options.sendStatus ?? true;
    this.#batchLimit = this.#limits.maxBatch;
  }

  /** Listens to an outbox event; returns the function that stops listening. */
  on<T extends OutboxEventType>(type: T, listener: (detail: OutboxEventDetail[T]) => void) {
    const handler = (event: Event) => listener((event as CustomEvent<OutboxEventDetail[T]>).detail);
    this.addEventListener(type, handler);
    return () => this.removeEventListener(type, handler);
  }

  #emit<T extends OutboxEventType>(type: T, detail: OutboxEventDetail[T]): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /** Writes the vote durably; resolves (with its eventId and castAt) only once it is stored. */
  async enqueue(vote: VoteInput): Promise<{ eventId: string; castAt: string }> {
    if (this.#closed) throw new OutboxError("outbox_closed", "the outbox is closed");
    const entry = toEntry(vote, this.#clock.deviceNow(), this.#clock.offsetMs);
    await this.#store.add([entry]);
    this.#emit("change", {});
    if (this.#send.state === "idle") this.#idle.wake(); // never cut a back-off or Retry-After short
    return { eventId: entry.eventId, castAt: entry.castAt };
  }

  /**
   * Queues a lesson register's completion durably, after everything enqueued before it
   * (the register's absences): the sender sends it alone, in queue order, through
   * POST /v1/registers/:pollId/complete. Resolves with its completionId and completedAt.
   */
  async enqueueCompletion(
    input: CompletionInput,
  ): Promise<{ completionId: string; completedAt: string }> {
    if (this.#closed) throw new OutboxError("outbox_closed", "the outbox is closed");
    const entry = toCompletionEntry(input, this.#clock.deviceNow(), this.#clock.offsetMs);
    await this.#store.add([entry]);
    this.#emit("change", {});
    if (this.#send.state === "idle") this.#idle.wake();
    return { completionId: entry.eventId, completedAt: entry.castAt };
  }

  /** Up to `limit` entries still to send, oldest first (a page shows what it queued). */
  pending(limit = 1_000): Promise<OutboxEntry[]> {
    return this.#store.pending(limit);
  }

  async status(): Promise<OutboxStatus> {
    const counts = await this.#store.counts();
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      state: this.#send.state,
      pending: counts.pending,
      oldestPendingAt: iso(counts.oldestPendingAt),
      lastSentAt: iso(counts.lastSentAt),
      lastError: this.#send.lastError,
      refused: counts.refused,
      persisted: await this.#store.persisted(),
      appVersion: this.#appVersion,
      retryAt: iso(this.#send.retryAt),
    };
  }

  /** The entries the server refused, with its error for each. */
  refused(): Promise<RefusedEntry[]> {
    return this.#store.refused();
  }

  /**
   * Sends what is pending, batch after batch, until empty or a failure. One at a time: a
   * call during a flush gets that flush. During a back-off or a server's Retry-After it
   * sends nothing (the result says how long is left) unless `force` is set.
   */
  flush(options: { force?: boolean } = {}): Promise<FlushResult> {
    const waitMs = this.#send.waitMs();
    const { lastFailure } = this.#send;
    if (!this.#flushing && waitMs > 0 && !options.force && lastFailure)
      return this.#result({ acked: 0, refused: 0 }, lastFailure, waitMs);
    this.#flushing ??= this.#flushAll().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** A new token (after re-pairing a revoked kiosk): the sender resumes. */
  setToken(token: string): void {
    this.#request.token = checkedToken(token);
    if (this.#send.state === "revoked") {
      this.#send.state = this.#running ? "idle" : "stopped";
      this.#idle.wake();
    }
  }

  /** Starts the background sender: it flushes on enqueue, after back-offs, and every pollIntervalMs. */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    if (this.#send.state === "stopped") this.#send.state = "idle";
    this.#loop = this.#run();
  }

  /**
   * Stops the background sender. The batch in flight gets `timeoutMs` to be answered; past
   * that its request is aborted, and its entries stay pending (sent again later, answered
   * duplicate if the server had them). Safe to call twice.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#running = false;
    this.#idle.wake();
    const flushing = this.#flushing;
    if (flushing) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, options.timeoutMs ?? 5_000);
      });
      await Promise.race([
        flushing.then(
          () => {},
          () => {},
        ),
        deadline,
      ]);
      clearTimeout(timer);
      this.#abort.abort();
    }
    await this.#loop;
    await this.#flushing?.catch(() => {});
    this.#abort = new AbortController();
    this.#loop = undefined;
    this.#send.rest(false);
  }

  /** Stops the sender and closes the store. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.stop();
    this.#closed = true;
    await this.#store.close();
  }

  async #run(): Promise<void> {
    while (this.#running) {
      let retryInMs: number | undefined;
      try {
        if (this.#send.state !== "revoked") retryInMs = (await this.flush()).retryInMs;
      } catch (cause) {
        // The store failed (disk full, IndexedDB aborted): nothing was removed; back off.
        retryInMs = this.#send.nextRetryMs(this.#limits);
        const message = cause instanceof Error ? cause.message : String(cause);
        this.#failed(
          new OutboxError("store_failed", `the store failed: ${message}`, { cause }),
          retryInMs,
        );
      }
      if (!this.#running) break;
      await this.#idle.sleep(retryInMs ?? this.#limits.pollIntervalMs);
    }
  }

  #result(tally: Tally, error?: OutboxError, retryInMs?: number): Promise<FlushResult> {
    return this.#store
      .counts()
      .then((c): FlushResult => ({ ...tally, pending: c.pending, error, retryInMs }));
  }

  #failed(error: OutboxError, retryInMs: number | undefined): void {
    this.#send.failed(error, retryInMs);
    this.#emit("error", { error, retryInMs });
  }

  async #flushAll(): Promise<FlushResult> {
    const tally: Tally = { acked: 0, refused: 0 };
    if (this.#send.state === "revoked")
      return this.#result(tally, new OutboxError("kiosk_revoked", "the kiosk is revoked"));
    let probed = false; // once a flush: a server whose answers carry no Date is not asked again
    try {
      while (!this.#closed) {
        const pending = await this.#store.pending(this.#batchLimit);
        if (pending.length === 0) break;
        this.#send.state = "sending";
        if (!probed && this.#clock.offsetMs === undefined && pending.some(awaitsOffset)) {
          probed = true;
          await this.#learnClock();
        }
        // A completion goes alone, once the votes queued before it are answered.
        const first = pending[0]!;
        if (first.kind === "completion") {
          const outcome = await sendCompletion(
            { ...this.#request, signal: this.#abort.signal },
            first,
            sentCastAt(first, this.#clock.offsetMs),
          );
          const ended = await this.#apply(outcome, [first], tally);
          if (ended) return ended;
          continue;
        }
        const votes = pending.findIndex((e) => e.kind === "completion");
        const { batch, body } = batchBody(
          votes === -1 ? pending : pending.slice(0, votes),
          this.#limits.maxBatchBytes,
          this.#clock.offsetMs,
        );
        const header = this.#sendStatus ? statusHeader(await this.status()) : undefined;
        const outcome = await sendBatch(
          { ...this.#request, statusHeader: header, signal: this.#abort.signal },
          batch,
          body,
        );
        if (outcome.kind === "too_large" && batch.length > 1) {
          this.#batchLimit = Math.max(1, Math.floor(batch.length / 2)); // this server takes fewer
          continue;
        }
        const ended = await this.#apply(outcome, batch, tally);
        if (ended) return ended;
      }
      this.#send.rest(this.#running);
      return this.#result(tally);
    } catch (err) {
      this.#send.rest(this.#running);
      throw err;
    }
  }

  /** Acts on one batch's outcome; a result when it ends the flush, undefined to go on. */
  async #apply(
    outcome: BatchOutcome,
    batch: OutboxEntry[],
    tally: Tally,
  ): Promise<FlushResult | undefined> {
    if (outcome.kind === "revoked") {
      this.#send.state = "revoked";
      this.#failed(outcome.error, undefined);
      return this.#result(tally, outcome.error);
    }
    if (outcome.kind === "retry") return this.#backOff(tally, outcome.error, outcome.retryAfterMs);
    const settlement =
      outcome.kind === "answered" ? outcome.settlement : refusedAsTooLarge(batch, outcome.error);
    const lagging = this.#registryLag.defer(settlement, Date.now());
    await this.#store.settle(settlement);
    tally.acked += settlement.acked.length;
    tally.refused += settlement.refused.length;
    this.#send.answered();
    this.#emit("sent", {
      acked: settlement.acked,
      duplicates: outcome.kind === "answered" ? outcome.duplicates : [],
      refused: settlement.refused.length,
    });
    if (settlement.refused.length > 0) this.#emit("refused", { refused: settlement.refused });
    this.#emit("change", {});
    if (lagging > 0) {
      // Kept: this API process may not know the poll or option yet. Not in a tight loop.
      const error = new OutboxError(
        "registry_lag",
        `${lagging} items were answered poll_not_found or unknown_option; sent again for up to ${this.#limits.registryLagRetryMs} ms before they are refused`,
      );
      return this.#backOff(tally, error);
    }
    if (outcome.kind === "answered" && outcome.unanswered > 0) {
      // Some items got no answer: keep them, and do not spin on a server that skips them.
      const error = new OutboxError(
        "bad_response",
        `${outcome.unanswered} items were not answered`,
      );
      return this.#backOff(tally, error);
    }
    return undefined;
  }

  /**
   * Learns the server's clock before sending votes stamped while it was unknown (offline
   * since boot), so that their castAt goes out corrected rather than clamped by the
   * server. Any answer's Date will do: the kiosk heartbeat, which reports the queue too.
   * A failure here is not the batch's: the batch request that follows reports it.
   */
  async #learnClock(): Promise<void> {
    const startedAt = this.#clock.deviceNow();
    try {
      const res = await this.#request.fetch(this.#heartbeatUrl, {
        method: "POST",
        headers: {
          authorization: `Bearer ${this.#request.token}`,
          "content-type": "application/json",
        },
        body: JSON.stringify(statusReport(await this.status())),
        signal: AbortSignal.any([
          this.#abort.signal,
          AbortSignal.timeout(this.#limits.requestTimeoutMs),
        ]),
      });
      this.#clock.learn(res.headers.get("date"), startedAt);
      await res.body?.cancel();
    } catch {}
  }

  #backOff(tally: Tally, error: OutboxError, retryAfterMs?: number): Promise<FlushResult> {
    const retryInMs = this.#send.nextRetryMs(this.#limits, retryAfterMs);
    this.#send.state = "backoff";
    this.#failed(error, retryInMs);
    return this.#result(tally, error, retryInMs);
  }
}

/** An entry stamped before the server's clock was known: its castAt awaits the offset. */
function awaitsOffset(e: OutboxEntry): boolean {
  return e.deviceCastAt !== undefined && e.clockOffsetMs === undefined;
}

/** Creates an outbox over a store. Call start() for the background sender, or flush() yourself. */
export function createOutbox(options: OutboxOptions): Outbox {
  return new Outbox(options);
}
