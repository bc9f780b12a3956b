import { setTimeout as sleep } from "node:timers/promises";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { JetStreamHealer } from "../common/jetstream-heal.ts";
import type { Logger } from "../common/logger.ts";
import type { NatsConnection } from "../common/nats.ts";
import type { Pool } from "../common/postgres.ts";
import { type BatchItem, isDeadLetteredWhole } from "./batch-item.ts";
import type { WriterConfig } from "./config.ts";
import { BatchFetcher } from "./fetch-batch.ts";
import { Heartbeat } from "./heartbeat.ts";
import { PollPurge } from "./poll-purge.ts";
import { settlePastDays, sweepDirtyPersonDays } from "./presence-upkeep.ts";
import { RetryAborted, RetryingStore } from "./retrying-store.ts";
import { VotesPartitions } from "./votes-partitions.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

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

/** The pause after a failed pull: NATS is down or the consumer is being re-provisioned. */
const FETCH_RETRY_DELAY_MS = 1_000;

/**
 * The writer loop: fetch a batch (bounded by count, bytes and linger: fetch-sizing.ts),
 * store it in one transaction, then ack. Transient failures keep the batch in hand and
 * retry with jittered back-off (retrying-store.ts), the heartbeat telling JetStream
 * `working()` so the messages are not redelivered meanwhile; data Postgres refuses is
 * isolated by halving the batch and dead-lettered; other errors are retried
 * `permanentFailureAttempts` times, then isolated the same way (isolate-poison.ts;
 * pg-errors.ts has the classes).
 */
export class BatchWriter {
  readonly #abort = new AbortController();
  readonly #heartbeat: Heartbeat;
  readonly #fetcher: BatchFetcher;
  readonly #store: RetryingStore;
  readonly #purge: PollPurge;
  readonly #partitions: VotesPartitions;
  #running: Promise<void> | undefined;
  #sweepFailing = false;

  readonly deps: WriterDeps;

  constructor(deps: WriterDeps) {
    this.deps = deps;
    this.#heartbeat = new Heartbeat(deps.config);
    this.#fetcher = new BatchFetcher({ ...deps, heartbeat: this.#heartbeat });
    this.#store = new RetryingStore({ ...deps, signal: this.#abort.signal });
    this.#purge = new PollPurge(deps);
    this.#partitions = new VotesPartitions(deps);
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
    await this.#partitions.stop();
  }

  async #loop(): Promise<void> {
    const signal = this.#abort.signal;
    const stopHeartbeat = this.#heartbeat.start();
    let prefetched: Promise<BatchItem[] | Error> | undefined;
    let fetchFailing = false;
    try {
      while (!signal.aborted || prefetched) {
        const fetched = await (prefetched ?? this.#fetcher.next());
        prefetched = undefined;
        if (fetched instanceof Error) {
          if (!fetchFailing)
            this.deps.logger.warn({ err: fetched }, "fetch from JetStream failed; retrying");
          fetchFailing = true;
          await sleep(FETCH_RETRY_DELAY_MS, undefined, { signal }).catch(() => {});
          continue;
        }
        if (fetchFailing) this.deps.logger.info("fetching from JetStream recovered");
        fetchFailing = false;
        if (fetched.length === 0) {
          await this.#sweepDirty();
          await this.#purge.drain(this.deps.config.batchLingerMs, signal);
          await this.#partitions.maybeRun();
          continue;
        }
        // Fetch and decode the next batch while this one is written: decoding and acks
        // run on this core while Postgres works on the other.
        if (!signal.aborted) prefetched = this.#fetcher.next();
        try {
          await this.#handle(fetched);
          await this.#purge.maybeStep();
          await this.#partitions.maybeRun();
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
          if (Array.isArray(rest)) this.#heartbeat.handBack(rest.map((i) => i.msg));
          await this.deps.nc.flush().catch(() => {});
          return;
        }
      }
    } finally {
      stopHeartbeat();
    }
  }

  /**
   * Idle: recompute dirty person-days (presence-upkeep.ts), then settle past ones for the
   * period reads (migration 025), for at most the linger in all, the latency a vote already
   * accepts. Batches recompute some dirty ones too; this drains a large backlog (a register
   * of a year deleted) when there are none. A failure waits for the next idle turn.
   */
  async #sweepDirty(): Promise<void> {
    const { pool, config, logger, metrics } = this.deps;
    try {
      const started = performance.now();
      const days = await sweepDirtyPersonDays(
        pool,
        config.attendanceDirtyBatch,
        config.batchLingerMs,
        this.#abort.signal,
      );
      metrics.personDays.inc(days);
      if (days > 0) logger.debug({ personDays: days }, "dirty person-days recomputed");
      const left = config.batchLingerMs - (performance.now() - started);
      if (left > 0) {
        const settled = await settlePastDays(
          pool,
          config.attendanceDirtyBatch,
          left,
          this.#abort.signal,
        );
        if (settled > 0) logger.debug({ personDays: settled }, "past person-days settled");
      }
      if (this.#sweepFailing) logger.info("recomputing dirty person-days recovered");
      this.#sweepFailing = false;
    } catch (err) {
      if (!this.#sweepFailing)
        logger.warn({ err }, "recomputing dirty person-days failed; retrying when idle");
      this.#sweepFailing = true;
    }
  }

  async #handle(items: BatchItem[]): Promise<void> {
    try {
      await this.#store.store(items);
    } catch (err) {
      if (err instanceof RetryAborted) {
        // Shutdown during an outage: hand the messages back for another writer (or us, later).
        this.#heartbeat.handBack(items.map((i) => i.msg));
        this.deps.metrics.batches.inc({ outcome: "released" });
      }
      throw err;
    }
    for (const item of items) {
      // Plain +TERM: servers before 2.10 ignore "+TERM <reason>" and redeliver the message.
      if (isDeadLetteredWhole(item)) item.msg.term();
      else item.msg.ack();
      this.#heartbeat.forget(item.msg);
    }
    // Acks are fire-and-forget publishes: flush so they reached the server before we go on.
    await this.deps.nc.flush();
  }
}
