import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import { RegisterRetention, type RegisterRetentionDeps } from "./register-retention.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

// A deleted poll's rows leave in the background (migration 031): the admin's delete only
// queues the poll in poll_purges, and the writers, which own those tables, drain the queue
// one bounded statement at a time (purge_deleted_polls: at most pollPurgeBatchRows rows from
// each table, each in its own short transaction, so no lock is held for long and no batch
// waits behind a table-sized DELETE). A step takes up to pollPurgeBatchPolls queued polls at
// once (migration 060: a lesson register is a few rows, and one a step made its fixed cost,
// a statement per partition, most of the purge's); a poll is done only once the step proves
// it has nothing left. Writers share the queue through FOR UPDATE SKIP LOCKED.
// While idle a writer purges for the linger (the latency a vote already accepts); while busy
// it takes one step every pollPurgeIntervalMs, so a deleted poll still goes during a peak.
// Once the queue is empty (and no deleted school's person-days are left), a step deletes the
// next lesson registers past REGISTER_RETENTION_DAYS (register-retention.ts, migration 054),
// which queues them: the queue is fed only when drained, never faster than it is purged.

// A deleted school's person-days. attendance_days has no foreign key, and a deleted poll's
// person-days are marked dirty by its purge only while its school exists (the day needs the
// school's time zone): deleting a school deletes its polls, then the school, so by the time
// the writers purge those polls the school is gone and its person-days (ids and presence)
// would stay for good. Before 031 the polls' delete trigger marked them while the school
// row was still there. The schools that have person-days are found by a skip scan of the
// primary key (one probe each), and a gone school's rows deleted at most $1 at a time, by
// their key (attendance_days is partitioned by month, 046: a ctid names a row within one
// partition only).
const DELETE_ORPHAN_DAYS = `
  with recursive with_days as (
    (select a.school_id from attendance_days a order by a.school_id limit 1)
    union all
    select (select a.school_id from attendance_days a where a.school_id > w.school_id
            order by a.school_id limit 1)
    from with_days w where w.school_id is not null
  ), gone as (
    select w.school_id from with_days w
    where w.school_id is not null and not exists (select 1 from schools s where s.id = w.school_id)
  )
  delete from attendance_days a
  where (a.school_id, a.day, a.person_id) in (
    select x.school_id, x.day, x.person_id
    from attendance_days x join gone g on g.school_id = x.school_id limit $1)`;

interface PurgeStep {
  poll_id: string;
  purged: string;
  done: boolean;
}

export interface PollPurgeDeps {
  pool: Pool;
  config: Pick<WriterConfig, "pollPurgeBatchRows" | "pollPurgeBatchPolls" | "pollPurgeIntervalMs"> &
    Partial<RegisterRetentionDeps["config"]>;
  logger: Logger;
  metrics: Pick<WriterMetrics, "pollPurgeRows"> & Partial<RegisterRetentionDeps["metrics"]>;
}

export class PollPurge {
  readonly #deps: PollPurgeDeps;
  readonly #retention: RegisterRetention | undefined;
  #lastStepAt = 0;
  #failing = false;
  /**
   * Whether a deleted school may have left person-days: at start (a writer stopped midway)
   * and after each purge done; cleared by a sweep that finds fewer than a step's rows.
   */
  #orphansMaybe = true;

  constructor(deps: PollPurgeDeps) {
    this.#deps = deps;
    const { registerRetentionDays, registerRetentionBatch } = deps.config;
    const { registersExpired } = deps.metrics;
    if (
      registerRetentionDays !== undefined &&
      registerRetentionBatch !== undefined &&
      registersExpired !== undefined
    )
      this.#retention = new RegisterRetention({
        ...deps,
        config: { registerRetentionDays, registerRetentionBatch },
        metrics: { registersExpired },
      });
  }

  /**
   * One bounded step: resolves to the rows it removed (or the registers it deleted past
   * retention), or undefined when no purge is waiting (or the only ones are another
   * writer's right now), no deleted school's person-days are left and no register expired.
   */
  async step(): Promise<number | undefined> {
    const { pool, config, logger, metrics } = this.#deps;
    this.#lastStepAt = performance.now();
    // A row per poll the step took (none: the queue is empty, or all of it another writer's).
    const { rows } = await pool.query<PurgeStep>(
      "select poll_id, purged::text, done from purge_deleted_polls($1, $2)",
      [config.pollPurgeBatchRows, config.pollPurgeBatchPolls],
    );
    if (rows.length === 0) return (await this.#orphanStep()) ?? (await this.#retention?.step());
    let purged = 0;
    for (const step of rows) {
      purged += Number(step.purged);
      if (step.done) {
        logger.info({ pollId: step.poll_id }, "deleted poll purged");
        this.#orphansMaybe = true;
      }
    }
    metrics.pollPurgeRows.inc(purged);
    return purged;
  }

  /** Once the queue is empty: a bounded step of a deleted school's person-days, if any. */
  async #orphanStep(): Promise<number | undefined> {
    if (!this.#orphansMaybe) return undefined;
    const { pool, config, logger, metrics } = this.#deps;
    const { rowCount } = await pool.query(DELETE_ORPHAN_DAYS, [config.pollPurgeBatchRows]);
    const deleted = rowCount ?? 0;
    if (deleted < config.pollPurgeBatchRows) this.#orphansMaybe = false;
    if (deleted === 0) return undefined;
    metrics.pollPurgeRows.inc(deleted);
    logger.info({ rows: deleted }, "person-days of deleted schools purged");
    return deleted;
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
