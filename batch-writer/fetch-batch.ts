import type { Consumer, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { isMissingResource, type JetStreamHealer } from "../common/jetstream-heal.ts";
import type { Logger } from "../common/logger.ts";
import { type BatchItem, decodeItem } from "./batch-item.ts";
import type { WriterConfig } from "./config.ts";
import { FetchSizing } from "./fetch-sizing.ts";
import type { Heartbeat } from "./heartbeat.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

// How long an idle pull waits for a first message (the nats.js minimum).
const FETCH_EXPIRES_MS = 1_000;

export interface BatchFetcherDeps {
  js: JetStreamClient;
  config: WriterConfig;
  logger: Logger;
  metrics: WriterMetrics;
  healer: JetStreamHealer;
  /** Every message pulled is held by it from delivery on. */
  heartbeat: Heartbeat;
}

/** Pulls the next batch from the shared durable consumer, sized by FetchSizing, and decodes it. */
export class BatchFetcher {
  readonly #deps: BatchFetcherDeps;
  readonly #sizing: FetchSizing;
  #consumer: Consumer | undefined;

  constructor(deps: BatchFetcherDeps) {
    this.#deps = deps;
    this.#sizing = new FetchSizing(deps.config);
  }

  /** The next batch, decoded (maybe empty); the error when the pull failed. Never throws. */
  async next(): Promise<BatchItem[] | Error> {
    const { js, config, logger, healer } = this.#deps;
    try {
      this.#consumer ??= await js.consumers.get(config.streamName, config.consumerName);
      const started = performance.now();
      const msgs = await this.#pull(this.#consumer);
      const fetched = performance.now();
      const items = msgs.map(decodeItem);
      if (msgs.length > 0)
        logger.debug(
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
      if (isMissingResource(err)) await healer.heal(err);
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  async #pull(consumer: Consumer): Promise<JsMsg[]> {
    const { logger, metrics, heartbeat } = this.#deps;
    const asked = this.#sizing.ask();
    const started = performance.now();
    const iter = await consumer.fetch({ max_messages: asked, expires: FETCH_EXPIRES_MS });
    const msgs: JsMsg[] = [];
    let bytes = 0;
    try {
      for await (const m of iter) {
        msgs.push(m);
        heartbeat.hold(m);
        bytes += m.data.byteLength;
      }
    } catch (err) {
      // A pull can fail after it delivered some messages (nats.js ends it with "heartbeats
      // missed" when this event loop was busy storing the previous batch). Those messages
      // are ours until AckWait: store and ack them like any others. Dropping them while
      // keeping them in hand would send working() for them forever, so they would be
      // neither stored nor redelivered while this writer lives.
      if (msgs.length === 0) throw err;
      logger.debug({ err, messages: msgs.length }, "pull ended early; storing what it delivered");
      metrics.fetchesEndedEarly.inc();
    }
    this.#sizing.learn({
      asked,
      received: msgs.length,
      bytes,
      // Each delivery says how many messages wait behind it.
      backlog: msgs.at(-1)?.info.pending ?? 0,
      elapsedMs: performance.now() - started,
    });
    return msgs;
  }
}
