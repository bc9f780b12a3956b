import type { JetStreamManager } from "@nats-io/jetstream";
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
  pollPurgeRows: Counter;
  registersExpired: Counter;
  deadLettersPastRetention: Gauge;
}

/** The shared durable consumer's lag, as JetStream reports it. */
export interface ConsumerLag {
  /** In the stream, not yet delivered to any writer (JetStream's num_pending). */
  undelivered: number;
  /** Delivered to a writer, not yet acked (num_ack_pending). */
  ackPending: number;
}

export async function consumerLag(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<ConsumerLag> {
  const info = await jsm.consumers.info(stream, consumer);
  return { undelivered: info.num_pending, ackPending: info.num_ack_pending };
}

export function createWriterMetrics(readLag: () => Promise<ConsumerLag>): WriterMetrics {
  const registry = createMetricsRegistry("batch-writer");
  // One consumer info per scrape, shared by the four gauges that collect at once. JetStream
  // unreachable: the lag gauges read NaN and jetstream_reachable 0 (an alert can use it).
  let lag: Promise<ConsumerLag | undefined> | undefined;
  const read = () => {
    lag ??= readLag()
      .catch(() => undefined)
      .finally(() => {
        lag = undefined;
      });
    return lag;
  };
  const lagGauge = (name: string, help: string, pick: (l: ConsumerLag) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const l = await read();
        this.set(l ? pick(l) : Number.NaN);
      },
    });
  lagGauge(
    "tallyflow_writer_consumer_pending_messages",
    "Consumer lag: messages in the stream not yet delivered plus delivered but unacked",
    (l) => l.undelivered + l.ackPending,
  );
  lagGauge(
    "tallyflow_writer_consumer_undelivered_messages",
    "Messages in the stream not yet delivered to any writer (JetStream num_pending)",
    (l) => l.undelivered,
  );
  lagGauge(
    "tallyflow_writer_consumer_ack_pending_messages",
    "Messages delivered to a writer and not yet acked (JetStream num_ack_pending)",
    (l) => l.ackPending,
  );
  new Gauge({
    name: "tallyflow_writer_jetstream_reachable",
    help: "1 when JetStream answered this scrape's consumer info request, 0 when it did not (NATS down or unreachable)",
    registers: [registry],
    async collect() {
      this.set((await read()) ? 1 : 0);
    },
  });
  const deadLetters = counter(
    registry,
    "tallyflow_writer_dead_letters_total",
    "Messages or votes moved to dead_letters, by reason (invalid, store_failed, max_deliveries)",
    ["reason"],
  );
  // At 0 from the start: increase() over a series born at its first dead letter misses it.
  for (const reason of ["invalid", "store_failed", "max_deliveries"])
    deadLetters.inc({ reason }, 0);
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
      "Votes by outcome: inserted, duplicate (already stored), rejected (second vote), conflict (eventId stored for another vote), poll_deleted (its poll was deleted since), past_retention (its event id time is older than VOTES_RETENTION_DAYS)",
      ["outcome"],
    ),
    deadLetters,
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
    pollPurgeRows: counter(
      registry,
      "tallyflow_writer_poll_purge_rows_total",
      "Rows of deleted polls (votes, voter ballots, refusals) removed in the background by the purge",
    ),
    registersExpired: counter(
      registry,
      "tallyflow_writer_registers_expired_total",
      "Lesson registers deleted by REGISTER_RETENTION_DAYS (their rows then go with the purge)",
    ),
    deadLettersPastRetention: new Gauge({
      name: "tallyflow_writer_dead_letters_past_retention",
      help: "Dead letters never replayed in months past VOTES_RETENTION_DAYS, at the last retention pass: their months are kept until they are replayed",
      registers: [registry],
    }),
  };
}
