import type { Logger } from "../common/logger.ts";
import type { PoisonRow, StoreResult } from "./store-batch.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

/** Counts one committed batch in the metrics, by outcome, and logs what an operator must see. */
export function reportCommit(
  metrics: WriterMetrics,
  logger: Logger,
  batch: {
    messages: number;
    votes: number;
    poison: PoisonRow[];
    result: StoreResult;
    durationMs: number;
  },
): void {
  const { result, poison } = batch;
  metrics.batchDuration.observe(batch.durationMs / 1000);
  logger.debug(
    { messages: batch.messages, votes: batch.votes, ms: batch.durationMs, path: result.path },
    "batch committed",
  );
  metrics.batchVotes.observe(batch.votes);
  metrics.batches.inc({ outcome: "committed" });
  metrics.rows.inc({ outcome: "inserted" }, result.inserted);
  metrics.rows.inc({ outcome: "duplicate" }, result.duplicates);
  metrics.rows.inc({ outcome: "rejected" }, result.rejected);
  metrics.rows.inc({ outcome: "conflict" }, result.conflicts);
  metrics.rows.inc({ outcome: "poll_deleted" }, result.pollDeleted);
  metrics.rows.inc({ outcome: "past_retention" }, result.pastRetention);
  metrics.personDays.inc(result.personDays);
  if (result.pollDeleted > 0)
    logger.info(
      { votes: result.pollDeleted },
      "votes for a deleted poll kept in rejected_votes (poll_deleted), not counted",
    );
  if (result.pastRetention > 0)
    logger.info(
      { votes: result.pastRetention },
      "votes older than VOTES_RETENTION_DAYS kept in rejected_votes (past_retention), not counted",
    );
  const invalid = poison.filter((p) => (p.reason ?? "invalid") === "invalid").length;
  if (invalid > 0) {
    metrics.deadLetters.inc({ reason: "invalid" }, invalid);
    logger.warn({ deadLettered: invalid }, "invalid votes moved to dead_letters");
  }
  const failed = poison.length - invalid;
  if (failed > 0) metrics.deadLetters.inc({ reason: "store_failed" }, failed);
}
