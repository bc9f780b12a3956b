import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createMetricsRegistry } from "../common/metrics.ts";

export interface WriterMetrics {
  registry: Registry;
  batches: Counter<"outcome">;
  rows: Counter<"outcome">;
  deadLetters: Counter<"reason">;
  batchDuration: Histogram;
  batchVotes: Histogram;
  retries: Counter;
  permanentFailures: Counter;
  fetchesEndedEarly: Counter;
}

export function createWriterMetrics(pendingMessages: () => Promise<number>): WriterMetrics {
  const registry = createMetricsRegistry("batch-writer");
  new Gauge({
    name: "tallyflow_writer_consumer_pending_messages",
    help: "Consumer lag: messages in the stream not yet delivered plus delivered but unacked",
    registers: [registry],
    async collect() {
      this.set(await pendingMessages().catch(() => Number.NaN));
    },
  });
  return {
    registry,
    batches: new Counter({
      name: "tallyflow_writer_batches_total",
      help: "Batches committed (outcome=committed) or abandoned at shutdown (outcome=released)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    rows: new Counter({
      name: "tallyflow_writer_votes_total",
      help: "Votes by outcome: inserted, duplicate (already stored), rejected (second vote), conflict (eventId stored for another vote), poll_deleted (its poll was deleted since)",
      labelNames: ["outcome"],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: "tallyflow_writer_dead_letters_total",
      help: "Messages or votes moved to dead_letters, by reason (invalid, store_failed, max_deliveries)",
      labelNames: ["reason"],
      registers: [registry],
    }),
    batchDuration: new Histogram({
      name: "tallyflow_writer_batch_duration_seconds",
      help: "Time to store and commit one batch",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    batchVotes: new Histogram({
      name: "tallyflow_writer_batch_votes",
      help: "Votes per committed batch",
      buckets: [1, 10, 100, 1_000, 5_000, 20_000, 100_000],
      registers: [registry],
    }),
    retries: new Counter({
      name: "tallyflow_writer_retries_total",
      help: "Batch attempts that failed for a transient reason and were retried",
      registers: [registry],
    }),
    permanentFailures: new Counter({
      name: "tallyflow_writer_permanent_failures_total",
      help: "Batch attempts that failed for a reason neither transient nor about the data (retried a bounded number of times, then isolated)",
      registers: [registry],
    }),
    fetchesEndedEarly: new Counter({
      name: "tallyflow_writer_fetches_ended_early_total",
      help: "Pulls that failed after delivering messages (stored all the same)",
      registers: [registry],
    }),
  };
}
