import { setTimeout as sleep } from "node:timers/promises";
import { TallyflowError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { type BatchItem, batchRows } from "./batch-item.ts";
import { reportCommit } from "./commit-report.ts";
import type { WriterConfig } from "./config.ts";
import { halves, PoisonIsolation } from "./isolate-poison.ts";
import { judgeFailure } from "./judge-failure.ts";
import { OutageLog } from "./outage-log.ts";
import { retryDelayMs } from "./retry-backoff.ts";
import { storeBatch } from "./store-batch.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

/** Thrown out of a retry loop when shutdown interrupts it; the batch is handed back. */
export class RetryAborted extends TallyflowError {
  override readonly name = "RetryAborted";
  constructor(message: string) {
    super("retry_aborted", message);
  }
}

export interface RetryingStoreDeps {
  pool: Pool;
  config: WriterConfig;
  logger: Logger;
  metrics: WriterMetrics;
  /** Shutdown: ends the waits between attempts, then the retries (RetryAborted). */
  signal: AbortSignal;
}

/**
 * Stores a batch in one transaction, whatever it takes: on a transient failure it retries
 * without end (with back-off), on poison or a lasting permanent failure it isolates the
 * messages that fail (isolate-poison.ts). Resolves once everything is stored (votes, or
 * their dead letters); the caller acks only then.
 */
export class RetryingStore {
  readonly #deps: RetryingStoreDeps;
  readonly #outage: OutageLog;

  constructor(deps: RetryingStoreDeps) {
    this.#deps = deps;
    this.#outage = new OutageLog(deps.logger);
  }

  async store(items: BatchItem[], isolating = false): Promise<void> {
    const { pool, config, logger, metrics, signal } = this.#deps;
    const isolation = new PoisonIsolation(this.#deps, isolating);
    for (let attempt = 0; ; attempt++) {
      const { votes, completions, poison } = batchRows(items);
      const started = performance.now();
      try {
        const result = await storeBatch(
          pool,
          config.streamName,
          votes,
          poison,
          config.attendanceDirtyBatch,
          completions,
          config.votesRetentionDays,
        );
        reportCommit(metrics, logger, {
          messages: items.length,
          votes: votes.length,
          poison,
          result,
          durationMs: performance.now() - started,
        });
        this.#outage.recovered();
        return;
      } catch (err) {
        const kind = await judgeFailure(err, pool, signal);
        if (isolation.isolateAfter(kind, err, items)) {
          if (items.length > 1) {
            const spent = isolation.halvesIsolating(kind);
            for (const half of halves(items)) await this.store(half, spent);
            return;
          }
          isolation.deadLetter(items[0]!, err, kind);
          continue;
        }
        if (kind === "transient") {
          metrics.retries.inc();
          this.#outage.failing(err);
        }
        if (signal.aborted) throw new RetryAborted("shutdown during retry");
        await sleep(retryDelayMs(attempt, config), undefined, { signal }).catch(() => {});
      }
    }
  }
}
