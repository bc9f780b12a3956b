import { backoffDelayMs } from "./backoff.ts";
import { OutboxError } from "./errors.ts";
import { isUuid, newEventId } from "./event-id.ts";
import {
  type BatchRequest,
  type FetchLike,
  fitBytes,
  sendBatch,
  serializeEntries,
} from "./sender.ts";
import type {
  OutboxEntry,
  OutboxState,
  OutboxStatus,
  OutboxStore,
  RefusedEntry,
  VoteInput,
} from "./types.ts";

// The outbox: votes are written to a durable store before enqueue resolves, and a sender
// (one flush at a time) drains the store through POST /v1/votes/batch, removing an entry
// only once the server answered for it. The same file runs in Node and, types stripped,
// in the browser (served by the API at /kiosk-client/outbox.ts).

export interface OutboxOptions {
  store: OutboxStore;
  /** The API's origin, e.g. "https://votes.example.org" (in a page: location.origin). */
  apiUrl: string;
  /** The kiosk's bearer token. */
  token: string;
  /** Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Most votes per request (the API's MAX_BATCH_ITEMS). @defaultValue 1000 */
  maxBatch?: number;
  /** Largest request body; under the API's 1 MiB MAX_BATCH_BODY_BYTES. @defaultValue 900000 */
  maxBatchBytes?: number;
  /** Back-off after a network error or 5xx: full jitter between these. @defaultValue 1000 */
  minBackoffMs?: number;
  /** @defaultValue 300000 (5 min) */
  maxBackoffMs?: number;
  /** A server's Retry-After is honoured up to this. @defaultValue 600000 (10 min) */
  maxRetryAfterMs?: number;
  /** @defaultValue 30000 */
  requestTimeoutMs?: number;
  /** The background sender's idle check when nothing woke it. @defaultValue 30000 */
  pollIntervalMs?: number;
  /** Reported in the X-Kiosk-Status heartbeat. */
  appVersion?: string;
  /** Send X-Kiosk-Status with each batch. @defaultValue true */
  sendStatus?: boolean;
}

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

const DEFAULTS = {
  maxBatch: 1000,
  maxBatchBytes: 900_000,
  minBackoffMs: 1000,
  maxBackoffMs: 300_000,
  maxRetryAfterMs: 600_000,
  requestTimeoutMs: 30_000,
  pollIntervalMs: 30_000,
};

type Limits = typeof DEFAULTS;

function readLimits(options: OutboxOptions): Limits {
  const limits = { ...DEFAULTS };
  for (const key of Object.keys(DEFAULTS) as (keyof Limits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1)
      throw new OutboxError("invalid_options", `${key} must be a positive integer, got ${value}`);
    limits[key] = value;
  }
  if (limits.minBackoffMs > limits.maxBackoffMs)
    throw new OutboxError("invalid_options", "minBackoffMs must not exceed maxBackoffMs");
  return limits;
}

function invalid(field: string, message: string): OutboxError {
  return new OutboxError("invalid_vote", `${field} ${message}`);
}

function toEntry(vote: VoteInput, now: number): OutboxEntry {
  for (const field of ["pollId", "optionId"] as const)
    if (typeof vote[field] !== "string" || vote[field].length === 0)
      throw invalid(field, "must be a non-empty string");
  if (vote.voterId !== undefined && typeof vote.voterId !== "string")
    throw invalid("voterId", "must be a string");
  if (vote.eventId !== undefined && !(typeof vote.eventId === "string" && isUuid(vote.eventId)))
    throw invalid("eventId", "must be a UUID");
  let castAt = new Date(now).toISOString();
  if (vote.castAt !== undefined) {
    const at = typeof vote.castAt === "string" ? Date.parse(vote.castAt) : Number.NaN;
    if (Number.isNaN(at)) throw invalid("castAt", "must be an ISO 8601 time");
    castAt = new Date(at).toISOString();
  }
  const entry: OutboxEntry = {
    eventId: vote.eventId ?? newEventId(),
    pollId: vote.pollId,
    optionId: vote.optionId,
    castAt,
    enqueuedAt: now,
  };
  if (vote.voterId !== undefined) entry.voterId = vote.voterId;
  return entry;
}

/** JSON with every non-ASCII character escaped: a header value must be ASCII. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

export class Outbox extends EventTarget {
  readonly #store: OutboxStore;
  readonly #limits: Limits;
  readonly #request: Omit<BatchRequest, "statusHeader">;
  readonly #appVersion: string | undefined;
  readonly #sendStatus: boolean;
  #batchLimit: number;
  #state: OutboxState = "stopped";
  #attempt = 0;
  #lastError: OutboxStatus["lastError"] = null;
  #retryAt: number | null = null;
  #lastFailure: OutboxError | undefined;
  #flushing: Promise<FlushResult> | undefined;
  #loop: Promise<void> | undefined;
  #running = false;
  #closed = false;
  #wake: (() => void) | undefined;
  #abort = new AbortController();

  constructor(options: OutboxOptions) {
    super();
    this.#limits = readLimits(options);
    let url: URL;
    try {
      url = new URL("/v1/votes/batch", options.apiUrl);
    } catch (cause) {
      throw new OutboxError(
        "invalid_options",
        `apiUrl must be an absolute URL, got ${options.apiUrl}`,
        { cause },
      );
    }
    if (typeof options.token !== "string" || options.token.length === 0)
      throw new OutboxError("invalid_options", "token must be a non-empty string");
    const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.#store = options.store;
    this.#request = {
      url: url.href,
      token: options.token,
      fetch: fetchFn,
      requestTimeoutMs: this.#limits.requestTimeoutMs,
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
    const entry = toEntry(vote, Date.now());
    await this.#store.add([entry]);
    this.#emit("change", {});
    if (this.#state === "idle") this.#wake?.(); // never cut a back-off or Retry-After short
    return { eventId: entry.eventId, castAt: entry.castAt };
  }

  async status(): Promise<OutboxStatus> {
    const counts = await this.#store.counts();
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      state: this.#state,
      pending: counts.pending,
      oldestPendingAt: iso(counts.oldestPendingAt),
      lastSentAt: iso(counts.lastSentAt),
      lastError: this.#lastError,
      refused: counts.refused,
      persisted: await this.#store.persisted(),
      appVersion: this.#appVersion,
      retryAt: iso(this.#retryAt),
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
    const waitMs = this.#retryAt === null ? 0 : this.#retryAt - Date.now();
    if (!this.#flushing && waitMs > 0 && !options.force && this.#lastFailure)
      return this.#result(0, 0, this.#lastFailure, waitMs);
    this.#flushing ??= this.#flushAll().finally(() => {
      this.#flushing = undefined;
    });
    return this.#flushing;
  }

  /** A new token (after re-pairing a revoked kiosk): the sender resumes. */
  setToken(token: string): void {
    if (typeof token !== "string" || token.length === 0)
      throw new OutboxError("invalid_options", "token must be a non-empty string");
    this.#request.token = token;
    if (this.#state === "revoked") {
      this.#state = this.#running ? "idle" : "stopped";
      this.#wake?.();
    }
  }

  /** Starts the background sender: it flushes on enqueue, after back-offs, and every pollIntervalMs. */
  start(): void {
    if (this.#running || this.#closed) return;
    this.#running = true;
    if (this.#state === "stopped") this.#state = "idle";
    this.#loop = this.#run();
  }

  /**
   * Stops the background sender. The batch in flight gets `timeoutMs` to be answered; past
   * that its request is aborted, and its entries stay pending (sent again later, answered
   * duplicate if the server had them). Safe to call twice.
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#running = false;
    this.#wake?.();
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
    if (this.#state !== "revoked") this.#state = "stopped";
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
        if (this.#state !== "revoked") retryInMs = (await this.flush()).retryInMs;
      } catch (cause) {
        // The store failed (disk full, IndexedDB aborted): nothing was removed; back off.
        retryInMs = backoffDelayMs(++this.#attempt, this.#limits);
        const message = cause instanceof Error ? cause.message : String(cause);
        this.#failed(
          new OutboxError("store_failed", `the store failed: ${message}`, { cause }),
          retryInMs,
        );
      }
      if (!this.#running) break;
      await this.#sleep(retryInMs ?? this.#limits.pollIntervalMs);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = () => {
        this.#wake = undefined;
        done();
      };
    });
  }

  async #statusHeader(): Promise<string | undefined> {
    if (!this.#sendStatus) return undefined;
    const s = await this.status();
    return asciiJson({
      pending: s.pending,
      oldestPendingAt: s.oldestPendingAt,
      lastSentAt: s.lastSentAt,
      refused: s.refused,
      appVersion: s.appVersion ?? null,
      persisted: s.persisted ?? null,
      lastError: s.lastError?.code ?? null,
    });
  }

  #result(acked: number, refused: number, error?: OutboxError, retryInMs?: number) {
    return this.#store
      .counts()
      .then((c): FlushResult => ({ acked, refused, pending: c.pending, error, retryInMs }));
  }

  #failed(error: OutboxError, retryInMs: number | undefined): void {
    this.#lastFailure = error;
    this.#lastError = { code: error.code, message: error.message, at: new Date().toISOString() };
    this.#retryAt = retryInMs === undefined ? null : Date.now() + retryInMs;
    this.#emit("error", { error, retryInMs });
  }

  async #flushAll(): Promise<FlushResult> {
    let acked = 0;
    let refused = 0;
    const restState = () => (this.#running ? "idle" : "stopped");
    if (this.#state === "revoked")
      return this.#result(0, 0, new OutboxError("kiosk_revoked", "the kiosk is revoked"));
    try {
      while (!this.#closed) {
        const entries = await this.#store.pending(this.#batchLimit);
        if (entries.length === 0) break;
        const items = serializeEntries(entries);
        const n = fitBytes(items, this.#limits.maxBatchBytes);
        const batch = entries.slice(0, n);
        const body = `{"votes":[${items
          .slice(0, n)
          .map((i) => i.json)
          .join(",")}]}`;
        this.#state = "sending";
        const statusHeader = await this.#statusHeader();
        const outcome = await sendBatch(
          { ...this.#request, statusHeader, signal: this.#abort.signal },
          batch,
          body,
        );

        if (outcome.kind === "revoked") {
          this.#state = "revoked";
          this.#failed(outcome.error, undefined);
          return this.#result(acked, refused, outcome.error);
        }
        if (outcome.kind === "too_large" && n > 1) {
          this.#batchLimit = Math.max(1, Math.floor(n / 2)); // this server takes fewer
          continue;
        }
        if (outcome.kind === "retry") {
          this.#attempt++;
          const retryInMs =
            outcome.retryAfterMs === undefined
              ? backoffDelayMs(this.#attempt, this.#limits)
              : Math.min(outcome.retryAfterMs, this.#limits.maxRetryAfterMs);
          this.#state = "backoff";
          this.#failed(outcome.error, retryInMs);
          return this.#result(acked, refused, outcome.error, retryInMs);
        }
        // A single vote too large for the server can never be sent: refused, with the answer.
        const settlement =
          outcome.kind === "answered"
            ? outcome.settlement
            : {
                acked: [],
                refused: batch.map((entry) => ({
                  entry,
                  error: { status: 413, code: outcome.error.code, message: outcome.error.message },
                  refusedAt: Date.now(),
                })),
                sentAt: Date.now(),
              };
        await this.#store.settle(settlement);
        acked += settlement.acked.length;
        refused += settlement.refused.length;
        this.#attempt = 0;
        this.#lastError = null;
        this.#retryAt = null;
        this.#emit("sent", {
          acked: settlement.acked,
          duplicates: outcome.kind === "answered" ? outcome.duplicates : [],
          refused: settlement.refused.length,
        });
        if (settlement.refused.length > 0) this.#emit("refused", { refused: settlement.refused });
        this.#emit("change", {});
        if (outcome.kind === "answered" && outcome.unanswered > 0) {
          // Some items got no answer: keep them, and do not spin on a server that skips them.
          const error = new OutboxError(
            "bad_response",
            `${outcome.unanswered} items were not answered`,
          );
          const retryInMs = backoffDelayMs(++this.#attempt, this.#limits);
          this.#state = "backoff";
          this.#failed(error, retryInMs);
          return this.#result(acked, refused, error, retryInMs);
        }
      }
      this.#state = restState();
      return this.#result(acked, refused);
    } catch (err) {
      if (this.#state !== "revoked") this.#state = restState();
      throw err;
    }
  }
}

/** Creates an outbox over a store. Call start() for the background sender, or flush() yourself. */
export function createOutbox(options: OutboxOptions): Outbox {
  return new Outbox(options);
}
