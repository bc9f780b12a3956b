import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

// A deleted poll's rows leave in the background (migration 031): the admin's delete only
// queues the poll in poll_purges, and the writers, which own those tables, drain the queue
// one bounded statement at a time (purge_deleted_polls: at most pollPurgeBatchRows rows from
// each table, each in its own short transaction, so no lock is held for long and no batch
// waits behind a table-sized DELETE). Writers share the queue through FOR UPDATE SKIP LOCKED.
// While idle a writer purges for the linger (the latency a vote already accepts); while busy
// it takes one step every pollPurgeIntervalMs, so a deleted poll still goes during a peak.

interface PurgeStep {
  poll_id: string;
  purged: string;
  done: boolean;
}

export interface PollPurgeDeps {
  pool: Pool;
  config: Pick<WriterConfig, "pollPurgeBatchRows" | "pollPurgeIntervalMs">;
  logger: Logger;
  metrics: Pick<WriterMetrics, "pollPurgeRows">;
}

export class PollPurge {
  readonly #deps: PollPurgeDeps;
  #lastStepAt = 0;
  #failing = false;

  constructor(deps: PollPurgeDeps) {
    this.#deps = deps;
  }

  /**
   * One bounded step: resolves to the rows it removed, or undefined when no purge is
   * waiting (or the only ones are another writer's right now).
   */
  async step(): Promise<number | undefined> {
    const { pool, config, logger, metrics } = this.#deps;
    this.#lastStepAt = performance.now();
    const { rows } = await pool.query<PurgeStep>(
      "select poll_id, purged::text, done from purge_deleted_polls($1)",
      [config.pollPurgeBatchRows],
    );
    const step = rows[0];
    if (step === undefined) return undefined;
    const purged = Number(step.purged);
    metrics.pollPurgeRows.inc(purged);
    if (step.done) logger.info({ pollId: step.poll_id }, "deleted poll purged");
    return purged;
  }

  /** Steps until the queue is empty, the budget is spent or the writer stops. */
  async drain(budgetMs: number, signal: AbortSignal): Promise<number> {
    const started = performance.now();
    let total = 0;
    await this.#guarded(async () => {
      while (!signal.aborted && performance.now() - started < budgetMs) {
        const purged = await this.step();
        if (purged === undefined) return;
        total += purged;
      }
    });
    return total;
  }

  /** Between batches: one step when the interval has passed since the last. */
  async maybeStep(): Promise<void> {
    if (performance.now() - this.#lastStepAt < this.#deps.config.pollPurgeIntervalMs) return;
    await this.#guarded(() => this.step());
  }

  /** A failure (Postgres away) is logged once and retried at the next turn. */
  async #guarded(run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
      if (this.#failing) this.#deps.logger.info("purging deleted polls recovered");
      this.#failing = false;
    } catch (err) {
      if (!this.#failing)
        this.#deps.logger.warn({ err }, "purging deleted polls failed; retrying later");
      this.#failing = true;
    }
  }
}
