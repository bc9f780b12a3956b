import { setTimeout as sleep } from "node:timers/promises";
import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { TallyflowError } from "../common/errors.ts";
import { isMissingResource, type JetStreamHealer } from "../common/jetstream-heal.ts";
import type { Logger } from "../common/logger.ts";
import type { NatsConnection } from "../common/nats.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import { type DecodedVote, decodeVoteMessage, type Poison } from "./decode.ts";
import { classifyFailure, describeFailure, type FailureKind } from "./pg-errors.ts";
import { type PoisonRow, storeBatch } from "./store-batch.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

interface Item {
  msg: JsMsg;
  votes: DecodedVote[];
  poison: Poison[];
}

export interface WriterDeps {
  pool: Pool;
  nc: NatsConnection;
  js: JetStreamClient;
  config: WriterConfig;
  logger: Logger;
  metrics: WriterMetrics;
  /** Re-provisions the stream and consumer when a fetch says they are missing. */
  healer: JetStreamHealer;
}

// How long an idle pull waits for a first message (the nats.js minimum).
const FETCH_EXPIRES_MS = 1_000;
// How long `select 1` may take to prove Postgres answers before a failure is held against
// the batch rather than against the database.
const PROBE_TIMEOUT_MS = 5_000;

/** Thrown out of a retry loop when shutdown interrupts it; the batch is handed back. */
class RetryAborted extends TallyflowError {
  override readonly name = "RetryAborted";
  constructor(message: string) {
    super("retry_aborted", message);
  }
}

/**
 * The writer loop: fetch a batch (bounded by count, bytes and linger), store it in one
 * transaction, then ack. Transient failures keep the batch in hand and retry with
 * jittered back-off, telling JetStream `working()` so the messages are not redelivered
 * meanwhile; data Postgres refuses is isolated by halving the batch and dead-lettered;
 * other errors are retried `permanentFailureAttempts` times, then isolated the same way
 * (pg-errors.ts has the classes).
 */
export class BatchWriter {
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  #outageSince: number | undefined;
  #outageAttempts = 0;
  #avgMessageBytes = 256;
  #nextAsk = 1;
  #consumer: Consumer | undefined;
  readonly #inHand = new Map<JsMsg, number>();

  readonly deps: WriterDeps;

  constructor(deps: WriterDeps) {
    this.deps = deps;
  }

  start(): void {
    this.#running ??= this.#loop().catch((err: unknown) => {
      this.deps.logger.error({ err }, "writer loop crashed");
    });
  }

  /** Stops fetching, finishes (or hands back) the batch in hand, acks what committed. */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    const heartbeat = setInterval(() => this.#keepAlive(), this.#heartbeatMs);
    let prefetched: Promise<Item[] | Error> | undefined;
    let fetchFailing = false;
    try {
      while (!signal.aborted || prefetched) {
        const fetched = await (prefetched ?? this.#tryFetch());
        prefetched = undefined;
        if (fetched instanceof Error) {
          if (!fetchFailing)
            this.deps.logger.warn({ err: fetched }, "fetch from JetStream failed; retrying");
          fetchFailing = true;
          await sleep(1_000, undefined, { signal }).catch(() => {});
          continue;
        }
        if (fetchFailing) this.deps.logger.info("fetching from JetStream recovered");
        fetchFailing = false;
        if (fetched.length === 0) continue;
        // Fetch and decode the next batch while this one is written: decoding and acks
        // run on this core while Postgres works on the other.
        if (!signal.aborted) prefetched = this.#tryFetch();
        try {
          await this.#handle(fetched);
        } catch (err) {
          if (!(err instanceof RetryAborted)) {
            // Committed but the acks may not have reached NATS: redelivery is deduplicated.
            this.deps.logger.warn(
              { err },
              "acking a committed batch failed; it will be redelivered",
            );
            continue;
          }
          const rest = prefetched ? await prefetched : [];
          if (Array.isArray(rest)) this.#release(rest.map((i) => i.msg));
          await this.deps.nc.flush().catch(() => {});
          return;
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  get #heartbeatMs(): number {
    // With a back-off, JetStream times a delivery by its back-off step, not by AckWait
    // (the server even sets ack_wait to the first step): keep alive within the shortest.
    const { ackWaitMs, redeliveryBackoffMs } = this.deps.config;
    return Math.max(Math.floor(Math.min(ackWaitMs, ...redeliveryBackoffMs) / 3), 200);
  }

  /**
   * Messages held longer than a third of AckWait (a slow batch, a Postgres outage, the
   * prefetched batch waiting its turn) get `working()`, so JetStream does not redeliver
   * them meanwhile and their delivery count stays honest.
   */
  #keepAlive(): void {
    const now = Date.now();
    for (const [msg, since] of this.#inHand) {
      if (now - since < this.#heartbeatMs) continue;
      msg.working();
      this.#inHand.set(msg, now);
    }
  }

  async #tryFetch(): Promise<Item[] | Error> {
    try {
      this.#consumer ??= await this.deps.js.consumers.get(
        this.deps.config.streamName,
        this.deps.config.consumerName,
      );
      const started = performance.now();
      const msgs = await this.#fetch(this.#consumer);
      const fetched = performance.now();
      const items = msgs.map((msg) => ({ msg, ...decodeVoteMessage(msg.data, msg.seq) }));
      if (msgs.length > 0)
        this.deps.logger.debug(
          {
            messages: msgs.length,
            fetchMs: fetched - started,
            decodeMs: performance.now() - fetched,
          },
          "batch fetched",
        );
      return items;
    } catch (err) {
      this.#consumer = undefined;
      // A NATS server back without its store, or the consumer deleted: provision it again
      // instead of failing every fetch until the process is restarted.
      if (isMissingResource(err)) await this.deps.healer.heal(err);
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  /** Hands messages back for redelivery (shutdown while they could not be stored). */
  #release(msgs: JsMsg[]): void {
    for (const m of msgs) {
      m.nak();
      this.#inHand.delete(m);
    }
  }

  /**
   * A pull request completes when it got all the messages it asked for or when it
   * expires (nats.js allows no less than one second). So the size asked for is the lever:
   * - under a backlog it asks for what the last delivery said is pending, up to the limits;
   * - under light traffic it is sized to what arrives in `batchLingerMs`, so a vote waits
   *   about that long, not a whole second, before it is written.
   * nats.js also takes a message count or a byte budget, not both: the byte bound is kept
   * by counting how many messages of the average size seen so far fit in it (a single
   * vote is ~250 bytes, a kiosk's batch ~250 KB).
   */
  async #fetch(consumer: Consumer): Promise<JsMsg[]> {
    const { config } = this.deps;
    const fitting = Math.floor(config.batchMaxBytes / Math.max(this.#avgMessageBytes, 1));
    const asked = Math.max(1, Math.min(config.batchMaxMessages, fitting, this.#nextAsk));
    const started = performance.now();
    const iter = await consumer.fetch({ max_messages: asked, expires: FETCH_EXPIRES_MS });
    const msgs: JsMsg[] = [];
    let bytes = 0;
    try {
      for await (const m of iter) {
        msgs.push(m);
        this.#inHand.set(m, Date.now());
        bytes += m.data.byteLength;
      }
    } catch (err) {
      // A pull can fail after it delivered some messages (nats.js ends it with "heartbeats
      // missed" when this event loop was busy storing the previous batch). Those messages
      // are ours until AckWait: store and ack them like any others. Dropping them while
      // keeping them in hand would send working() for them forever, so they would be
      // neither stored nor redelivered while this writer lives.
      if (msgs.length === 0) throw err;
      this.deps.logger.debug(
        { err, messages: msgs.length },
        "pull ended early; storing what it delivered",
      );
      this.deps.metrics.fetchesEndedEarly.inc();
    }
    if (msgs.length > 0)
      this.#avgMessageBytes = 0.7 * this.#avgMessageBytes + 0.3 * (bytes / msgs.length);
    // Each delivery says how many messages wait behind it: ask for exactly the backlog
    // (up to the limits), so a fetch neither stops short nor waits out its expiry.
    const backlog = msgs.at(-1)?.info.pending ?? 0;
    if (backlog > 0) {
      this.#nextAsk = Math.min(backlog, config.batchMaxMessages);
    } else if (msgs.length >= asked) {
      this.#nextAsk = Math.min(asked * 2, config.batchMaxMessages);
    } else {
      const perMs = msgs.length / Math.max(performance.now() - started, 1);
      this.#nextAsk = Math.max(1, Math.ceil(perMs * config.batchLingerMs));
    }
    return msgs;
  }

  async #handle(items: Item[]): Promise<void> {
    try {
      await this.#store(items);
    } catch (err) {
      if (err instanceof RetryAborted) {
        // Shutdown during an outage: hand the messages back for another writer (or us, later).
        this.#release(items.map((i) => i.msg));
        this.deps.metrics.batches.inc({ outcome: "released" });
      }
      throw err;
    }
    for (const item of items) {
      // Plain +TERM: servers before 2.10 ignore "+TERM <reason>" and redeliver the message.
      if (item.votes.length === 0 && item.poison.some((p) => p.itemIndex === -1)) item.msg.term();
      else item.msg.ack();
      this.#inHand.delete(item.msg);
    }
    // Acks are fire-and-forget publishes: flush so they reached the server before we go on.
    await this.deps.nc.flush();
  }

  /**
   * Stores items in one transaction; on transient failure, retries without end; on poison,
   * in halves at once; on a permanent failure, in halves after the bounded attempts (at
   * once when `isolating`: the attempts were spent on the batch this half came from).
   * A message that fails alone is dead-lettered with the error.
   */
  async #store(items: Item[], isolating = false): Promise<void> {
    const { pool, config, logger, metrics } = this.deps;
    let permanentFailures = 0;
    let deadLettered = false;
    let heldLogged = false;
    for (let attempt = 0; ; attempt++) {
      const votes = items.flatMap((i) => i.votes);
      const poison = items.flatMap((i) => i.poison.map((p) => poisonRow(i.msg, p)));
      const started = performance.now();
      try {
        const result = await storeBatch(pool, config.streamName, votes, poison);
        const seconds = (performance.now() - started) / 1000;
        metrics.batchDuration.observe(seconds);
        logger.debug(
          { messages: items.length, votes: votes.length, ms: seconds * 1000 },
          "batch committed",
        );
        metrics.batchVotes.observe(votes.length);
        metrics.batches.inc({ outcome: "committed" });
        metrics.rows.inc({ outcome: "inserted" }, result.inserted);
        metrics.rows.inc({ outcome: "duplicate" }, result.duplicates);
        metrics.rows.inc({ outcome: "rejected" }, result.rejected);
        metrics.rows.inc({ outcome: "conflict" }, result.conflicts);
        metrics.rows.inc({ outcome: "poll_deleted" }, result.pollDeleted);
        if (result.pollDeleted > 0)
          logger.info(
            { votes: result.pollDeleted },
            "votes for a deleted poll kept in rejected_votes (poll_deleted), not counted",
          );
        const invalid = poison.filter((p) => (p.reason ?? "invalid") === "invalid").length;
        if (invalid > 0) {
          metrics.deadLetters.inc({ reason: "invalid" }, invalid);
          logger.warn({ deadLettered: invalid }, "invalid votes moved to dead_letters");
        }
        const failed = poison.length - invalid;
        if (failed > 0) metrics.deadLetters.inc({ reason: "store_failed" }, failed);
        this.#recovered();
        return;
      } catch (err) {
        const kind = await this.#judge(err);
        if (kind === "permanent") {
          permanentFailures++;
          metrics.permanentFailures.inc();
          if (permanentFailures === 1 && !isolating)
            logger.warn(
              { err, messages: items.length, attempts: config.permanentFailureAttempts },
              "storing a batch failed with an error that is not transient; retrying, then isolating the messages that fail",
            );
        }
        // Not even its dead letter can be written (dead_letters itself fails): nothing
        // left to split, and acking would lose it. Keep it and retry with back-off.
        if (deadLettered && kind !== "transient" && !heldLogged) {
          heldLogged = true;
          logger.error(
            { err, streamSeq: items[0]!.msg.seq },
            "writing a dead letter failed; holding the message and retrying",
          );
        }
        const isolate =
          !deadLettered &&
          (kind === "poison" ||
            (kind === "permanent" &&
              (isolating || permanentFailures >= config.permanentFailureAttempts)));
        if (isolate) {
          if (items.length > 1) {
            const half = Math.ceil(items.length / 2);
            const spent = kind === "permanent" || isolating;
            await this.#store(items.slice(0, half), spent);
            await this.#store(items.slice(half), spent);
            return;
          }
          const item = items[0]!;
          logger.warn(
            { err, streamSeq: item.msg.seq, subject: item.msg.subject },
            kind === "poison"
              ? "Postgres refused a message; dead-lettering it"
              : "a message kept failing with an error that is not transient; dead-lettering it",
          );
          deadLettered = true;
          item.votes = [];
          item.poison = [
            {
              itemIndex: -1,
              raw: item.msg.data,
              error: describeFailure(err),
              reason: kind === "poison" ? "invalid" : "store_failed",
            },
          ];
          continue;
        }
        if (kind === "transient") {
          metrics.retries.inc();
          this.#failing(err);
        }
        if (this.#abort.signal.aborted) throw new RetryAborted("shutdown during retry");
        await sleep(this.#backoffMs(attempt), undefined, { signal: this.#abort.signal }).catch(
          () => {},
        );
      }
    }
  }

  /**
   * A failure that looks permanent while Postgres does not even answer `select 1` is an
   * outage in a form pg-errors.ts does not know (a new driver message, a proxy's reset):
   * it is treated as transient, so an unavailable database never dead-letters a vote.
   */
  async #judge(err: unknown): Promise<FailureKind> {
    const kind = classifyFailure(err);
    if (kind !== "permanent") return kind;
    return (await this.#databaseAnswers()) ? "permanent" : "transient";
  }

  async #databaseAnswers(): Promise<boolean> {
    const done = new AbortController();
    const signal = AbortSignal.any([done.signal, this.#abort.signal]);
    const probe = this.deps.pool.query("select 1").then(
      () => true,
      () => false,
    );
    const timedOut = sleep(PROBE_TIMEOUT_MS, false, { signal }).catch(() => false);
    try {
      return await Promise.race([probe, timedOut]);
    } finally {
      done.abort();
    }
  }

  /** Exponential back-off with full jitter: writers do not retry in lock step. */
  #backoffMs(attempt: number): number {
    const { retryMinMs, retryMaxMs } = this.deps.config;
    const cap = Math.min(retryMaxMs, retryMinMs * 2 ** Math.min(attempt, 20));
    return retryMinMs / 2 + Math.random() * (cap - retryMinMs / 2);
  }

  #failing(err: unknown): void {
    this.#outageAttempts++;
    if (this.#outageSince === undefined) {
      this.#outageSince = Date.now();
      this.deps.logger.warn(
        { err },
        "storing a batch failed; holding it and retrying with back-off",
      );
    }
  }

  #recovered(): void {
    if (this.#outageSince === undefined) return;
    this.deps.logger.info(
      { failedAttempts: this.#outageAttempts, outageMs: Date.now() - this.#outageSince },
      "storing batches recovered",
    );
    this.#outageSince = undefined;
    this.#outageAttempts = 0;
  }
}

function poisonRow(msg: JsMsg, p: Poison): PoisonRow {
  return { ...p, streamSeq: msg.seq, subject: msg.subject, deliveries: msg.info.deliveryCount };
}
