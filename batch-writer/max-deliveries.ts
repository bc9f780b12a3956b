import { setTimeout as sleep } from "node:timers/promises";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from "@nats-io/jetstream";
import { isMissingResource, type JetStreamHealer } from "../common/jetstream-heal.ts";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import { deadLetterStreamName } from "./consumer.ts";
import { deadLetterMessageId } from "./dead-letter-id.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

/** How long an advisory whose move failed waits before it is delivered again. */
const RETRY_DELAY_MS = 2_000;

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

export interface MoverDeps {
  pool: Pool;
  js: JetStreamClient;
  jsm: JetStreamManager;
  config: WriterConfig;
  logger: Logger;
  metrics: WriterMetrics;
  /** Re-provisions the capture stream and its consumer when they are missing. */
  healer: JetStreamHealer;
}

/**
 * Moves votes that exhausted MaxDeliver into dead_letters. JetStream stops delivering such
 * a message but keeps it in the work-queue stream; the advisory (captured durably by a
 * stream) names its sequence. Copy it to Postgres, then delete it from the stream, then
 * ack the advisory: a crash in between repeats the step harmlessly (upsert, idempotent delete).
 * Any failure on the way naks the advisory, so the step is retried; acking it after a
 * failed read or delete would strand the vote in the stream, undelivered and never moved.
 */
export class MaxDeliveriesMover {
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;
  readonly #deps: MoverDeps;

  constructor(deps: MoverDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#running;
  }

  async #loop(): Promise<void> {
    const { js, config, logger } = this.#deps;
    const signal = this.#abort.signal;
    let failing = false;
    while (!signal.aborted) {
      try {
        const consumer = await js.consumers.get(deadLetterStreamName(config), config.consumerName);
        const iter = await consumer.fetch({ max_messages: 100, expires: 2_000 });
        for await (const advisory of iter) await this.#handle(advisory);
        failing = false;
      } catch (err) {
        if (isMissingResource(err)) await this.#deps.healer.heal(err);
        if (!failing) logger.warn({ err }, "moving max-delivery messages failed; retrying");
        failing = true;
        await sleep(2_000, undefined, { signal }).catch(() => {});
      }
    }
  }

  /** Acks the advisory once its vote is in dead_letters and out of the stream, else naks it. */
  async #handle(advisory: JsMsg): Promise<void> {
    try {
      await this.#move(advisory.json<MaxDeliveriesAdvisory>());
    } catch (err) {
      // Whatever failed (NATS, Postgres) likely fails for the advisories behind it too:
      // give up on this fetch and let the loop back off. Those are redelivered after AckWait.
      try {
        advisory.nak(RETRY_DELAY_MS);
      } catch {
        // The connection is closed: AckWait redelivers the advisory instead.
      }
      throw err;
    }
    advisory.ack();
  }

  async #move(event: MaxDeliveriesAdvisory): Promise<void> {
    const { pool, jsm, config, logger, metrics } = this.#deps;
    const stored = await this.#read(event.stream_seq);
    // Already gone: an earlier attempt moved and deleted it but died before the ack.
    if (stored === null) return;
    // Keyed by the message's identity, as store-batch.ts keys the writer's own dead letters.
    // (record_dead_letters, migration 044: one dead letter per message, whatever its month).
    await pool.query(
      `select record_dead_letters($1, array[$2::bigint], array[$3::text], array[-1],
                                  array[$4::text], array[$5::bytea], array[$6::text],
                                  array[$7::int], array['max_deliveries'])`,
      [
        config.streamName,
        event.stream_seq,
        deadLetterMessageId(stored.header?.get("Nats-Msg-Id"), stored.data),
        stored.subject,
        Buffer.from(stored.data),
        `exceeded MaxDeliver (${event.deliveries} deliveries) without being stored`,
        event.deliveries,
      ],
    );
    try {
      await jsm.streams.deleteMessage(config.streamName, event.stream_seq, false);
    } catch (err) {
      // The server answers a delete of a missing message with a generic "delete failed"
      // code (JSStreamMsgDeleteFailedF), so ask again whether it is still there rather than guess from the code.
      if ((await this.#read(event.stream_seq)) !== null) throw err;
    }
    metrics.deadLetters.inc({ reason: "max_deliveries" });
    logger.error(
      { streamSeq: event.stream_seq, deliveries: event.deliveries },
      "a vote message exhausted its deliveries and was moved to dead_letters: inspect with `npm run dlq -- list`",
    );
  }

  /** The stored message, or null when the stream no longer holds it; other errors throw. */
  async #read(seq: number): Promise<StoredMsg | null> {
    const { jsm, config } = this.#deps;
    try {
      // nats.js answers "no message found" with null already; the catch keeps that true
      // should a client version (or direct get) reject with the API error instead.
      return await jsm.streams.getMessage(config.streamName, { seq });
    } catch (err) {
      if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound)
        return null;
      throw err;
    }
  }
}
