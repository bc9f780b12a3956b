import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

// REGISTER_RETENTION_DAYS (migration 054): a lesson register whose lesson ended more than
// that many days ago is deleted as an admin's delete deletes a poll (its polls row, by
// expire_registers; its state rows go by cascade, its votes and refusals are queued for the
// purge, its document is removed by the publisher). The purge (poll-purge.ts) takes a step
// of this only when it finds no queued purge to take: at most registerRetentionBatch
// registers a statement, the queued ones drained before the next are deleted, so the queue
// holds about a step's registers at most and retention never competes with an admin's
// delete. Writers share it through expire_registers's advisory lock: a second one at once
// returns at once.
// No audit_log row: the log is of admins' requests, and this would add 350,000 rows a day
// to it; each step's count is logged and counted (tallyflow_writer_registers_expired_total).

/**
 * Said at start when lesson registers may outlive their events (VOTES_RETENTION_DAYS set,
 * REGISTER_RETENTION_DAYS unset or longer): the writer recomputes a register whole from its
 * stored events (register-upkeep.ts), so a correction to one whose events' month was dropped
 * would recompute it from the events left. Not refused (the statistics of registers kept
 * longer than their events are right until such a correction), nor implied (deleting a
 * school's registers is a decision of its own): said.
 */
export function registersOutliveEvents(
  config: Pick<WriterConfig, "votesRetentionDays" | "registerRetentionDays">,
): string | undefined {
  const { votesRetentionDays: votes, registerRetentionDays: registers } = config;
  if (votes === undefined || (registers !== undefined && registers <= votes)) return undefined;
  return `lesson registers are kept ${registers === undefined ? "for ever" : `${registers} days`} but their events ${votes} days (VOTES_RETENTION_DAYS): a correction to a register older than its events recomputes it from the events left; set REGISTER_RETENTION_DAYS to ${votes} or less to avoid it`;
}

export interface RegisterRetentionDeps {
  pool: Pool;
  config: Pick<WriterConfig, "registerRetentionDays" | "registerRetentionBatch">;
  logger: Logger;
  metrics: Pick<WriterMetrics, "registersExpired">;
}

export class RegisterRetention {
  readonly #deps: RegisterRetentionDeps;

  constructor(deps: RegisterRetentionDeps) {
    this.#deps = deps;
  }

  /**
   * One bounded step: resolves to the registers it deleted, or undefined when retention is
   * off, none has expired, or another writer's step is running.
   */
  async step(): Promise<number | undefined> {
    const { pool, config, logger, metrics } = this.#deps;
    if (config.registerRetentionDays === undefined) return undefined;
    const { rows } = await pool.query<{ n: number | null }>(
      "select expire_registers($1, $2) as n",
      [config.registerRetentionDays, config.registerRetentionBatch],
    );
    const deleted = rows[0]?.n ?? 0;
    if (deleted === 0) return undefined;
    metrics.registersExpired.inc(deleted);
    logger.info(
      { registers: deleted, retentionDays: config.registerRetentionDays },
      "lesson registers past retention deleted (their rows follow with the purge)",
    );
    return deleted;
  }
}
