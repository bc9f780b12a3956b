import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import { deadLetterStreamName } from "./consumer.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

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
}

/**
 * Moves votes that exhausted MaxDeliver into dead_letters. JetStream stops delivering such
 * a message but keeps it in the work-queue stream; the advisory (captured durably by a
 * stream) names its sequence. Copy it to Postgres, then delete it from the stream, then
 * ack the advisory: a crash in between repeats the step harmlessly (upsert, idempotent delete).
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
        for await (const advisory of iter) await this.#move(advisory);
        failing = false;
      } catch (err) {
        if (!failing) logger.warn({ err }, "moving max-delivery messages failed; retrying");
        failing = true;
        await sleep(2_000, undefined, { signal }).catch(() => {});
      }
    }
  }

  async #move(advisory: JsMsg): Promise<void> {
    const { pool, jsm, config, logger, metrics } = this.#deps;
    const event = advisory.json<MaxDeliveriesAdvisory>();
    const stored = await jsm.streams
      .getMessage(config.streamName, { seq: event.stream_seq })
      .catch(() => null);
    if (stored !== null) {
      await pool.query(
        `insert into dead_letters (stream, stream_seq, item_index, subject, raw, error, deliveries)
         values ($1, $2, -1, $3, $4, $5, $6)
         on conflict (stream, stream_seq, item_index) do update set
           error = excluded.error, deliveries = excluded.deliveries, last_seen = now()`,
        [
          config.streamName,
          event.stream_seq,
          stored.subject,
          Buffer.from(stored.data),
          `exceeded MaxDeliver (${event.deliveries} deliveries) without being stored`,
          event.deliveries,
        ],
      );
      await jsm.streams
        .deleteMessage(config.streamName, event.stream_seq, false)
        .catch(() => false);
      metrics.deadLetters.inc({ reason: "max_deliveries" });
      logger.error(
        { streamSeq: event.stream_seq, deliveries: event.deliveries },
        "a vote message exhausted its deliveries and was moved to dead_letters: inspect with `npm run dlq -- list`",
      );
    }
    advisory.ack();
  }
}
