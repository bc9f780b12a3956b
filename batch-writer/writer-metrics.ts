import { type Counter, Gauge, type Histogram, type Registry } from "prom-client";
import { counter, createMetricsRegistry, histogram, secondsBuckets } from "../common/metrics.ts";

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
  personDays: Counter;
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
    batches: counter(
      registry,
      "tallyflow_writer_batches_total",
      "Batches committed (outcome=committed) or abandoned at shutdown (outcome=released)",
      ["outcome"],
    ),
    rows: counter(
      registry,
      "tallyflow_writer_votes_total",
      "Votes by outcome: inserted, duplicate (already stored), rejected (second vote), conflict (eventId stored for another vote), poll_deleted (its poll was deleted since)",
      ["outcome"],
    ),
    deadLetters: counter(
      registry,
      "tallyflow_writer_dead_letters_total",
      "Messages or votes moved to dead_letters, by reason (invalid, store_failed, max_deliveries)",
      ["reason"],
    ),
    batchDuration: histogram(
      registry,
      "tallyflow_writer_batch_duration_seconds",
      "Time to store and commit one batch",
      secondsBuckets(0.01, 10),
    ),
    batchVotes: histogram(
      registry,
      "tallyflow_writer_batch_votes",
      "Votes per committed batch",
      [1, 10, 100, 1_000, 5_000, 20_000, 100_000],
    ),
    retries: counter(
      registry,
      "tallyflow_writer_retries_total",
      "Batch attempts that failed for a transient reason and were retried",
    ),
    permanentFailures: counter(
      registry,
      "tallyflow_writer_permanent_failures_total",
      "Batch attempts that failed for a reason neither transient nor about the data (retried a bounded number of times, then isolated)",
    ),
    fetchesEndedEarly: counter(
      registry,
      "tallyflow_writer_fetches_ended_early_total",
      "Pulls that failed after delivering messages (stored all the same)",
    ),
    personDays: counter(
      registry,
      "tallyflow_writer_attendance_recomputes_total",
      "Person-days of attendance_days recomputed from their events (touched by a batch, or dirty after a register was deleted)",
    ),
  };
}
