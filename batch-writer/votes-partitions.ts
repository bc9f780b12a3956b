import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { WriterConfig } from "./config.ts";
import { type ArchivedPartition, archiveExpiredPartitions } from "./votes-archive.ts";
import type { WriterMetrics } from "./writer-metrics.ts";

// The monthly partitions of `votes` (migration 033), kept by the writers, which own the
// table: every votesPartitionCheckMs (and once soon after start) a writer runs
// votes_ensure_partitions's pass (time_partitions_ensure('votes'), migration 044), which creates the partitions up to votesPartitionsAheadMonths
// ahead and moves one past month a vote landed in the default partition for (a kiosk
// offline for weeks, a clock far off, the history of a deployment from before 033) into a
// partition of its own. A vote whose month has no partition is never refused meanwhile:
// it waits in the default partition, counted once like any other (its unique index).
// Owned here rather than by pg_partman: the rule that matters, that a partition is a
// function of the event id alone and carries a unique index on it, lives in one migration
// beside the writer's queries, and the job is three statements a month; pg_partman would
// add a Debian package and a background worker to every deployment, test and CI run for it.
// Writers run it at once safely: the function takes an advisory lock and the second returns.
//
// The same maintenance keeps the writer's other tables that grow with events (migration
// 044: rejected_votes, conflicting_votes, duplicate_counts, dead_letters; 046: the presence
// state attendance_days, by month of its day, fillfactor 50 on each partition): each table and its
// rules are a row of time_partitioned_tables, and a pass runs the same two functions for each,
// one call (one short transaction, one default partition locked) per table. With
// VOTES_RETENTION_DAYS their expired months are dropped too; with VOTES_ARCHIVE_DIR only the
// votes are archived first (the others hold no vote to count again). A month of dead letters
// holding one never replayed is kept, and said at every pass, until it is replayed.

interface CreatedPartition {
  partition_name: string;
  moved: string;
}

interface RetentionOutcome {
  partition_name: string;
  outcome: "dropped" | "kept" | "deleted";
  affected: string;
}

const TABLES = `
  select parent from time_partitioned_tables order by parent <> 'votes', parent`;

export interface VotesPartitionsDeps {
  pool: Pool;
  config: Pick<WriterConfig, "votesPartitionsAheadMonths" | "votesPartitionCheckMs"> &
    Partial<Pick<WriterConfig, "votesRetentionDays" | "votesArchiveDir">>;
  logger: Logger;
  /** Where a retention pass counts the unreplayed dead letters that keep their months. */
  metrics?: Pick<WriterMetrics, "deadLettersPastRetention">;
}

export class VotesPartitions {
  readonly #deps: VotesPartitionsDeps;
  #lastRunAt: number | undefined;
  #failing = false;
  /** The archive pass running beside the batches (VOTES_ARCHIVE_DIR), if any. */
  #archiving: Promise<void> | undefined;
  #archiveFailing = false;
  readonly #stopping = new AbortController();
  #parents: string[] | undefined;

  constructor(deps: VotesPartitionsDeps) {
    this.#deps = deps;
  }

  /**
   * One maintenance pass: resolves to the partitions it created. With VOTES_ARCHIVE_DIR the
   * expired partitions are archived and dropped in the background (minutes for a month at
   * the reference rate, never on a batch's path); without it they are dropped here.
   */
  async run(): Promise<{ partition: string; moved: number }[]> {
    const created = await this.#ensure();
    if (this.#deps.config.votesArchiveDir === undefined) await this.dropExpired();
    else {
      await this.dropExpired({ votes: false });
      this.#archiving ??= this.#archiveInBackground();
    }
    return created;
  }

  /** The tables the maintenance keeps (migration 044), votes first. */
  async #tables(): Promise<string[]> {
    this.#parents ??= (await this.#deps.pool.query<{ parent: string }>(TABLES)).rows.map(
      (r) => r.parent,
    );
    return this.#parents;
  }

  /**
   * With VOTES_RETENTION_DAYS and VOTES_ARCHIVE_DIR, archives then drops the partitions of
   * months past retention (votes-archive.ts), resolving to them; throws when a file cannot
   * be written (the partition stays).
   */
  async archiveExpired(): Promise<ArchivedPartition[]> {
    const { pool, config, logger } = this.#deps;
    if (config.votesRetentionDays === undefined || config.votesArchiveDir === undefined) return [];
    return archiveExpiredPartitions(
      pool,
      config.votesRetentionDays,
      config.votesArchiveDir,
      logger,
      this.#stopping.signal,
    );
  }

  async #archiveInBackground(): Promise<void> {
    try {
      await this.archiveExpired();
      if (this.#archiveFailing) this.#deps.logger.info("votes partition archiving recovered");
      this.#archiveFailing = false;
    } catch (err) {
      // Loud at every failed pass (an operator must free the disk or fix the directory's
      // permissions): the expired partitions stay until their files are written.
      if (!this.#stopping.signal.aborted)
        this.#deps.logger.error(
          { err, dir: this.#deps.config.votesArchiveDir },
          "archiving votes partitions past retention failed; they are kept until it works",
        );
      this.#archiveFailing = true;
    } finally {
      this.#archiving = undefined;
    }
  }

  /** Stops an archive pass running (its partial file removed, its partition kept). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#archiving;
  }

  /**
   * With VOTES_RETENTION_DAYS, drops the partitions of months past it (migrations 035, 044)
   * of every table (of all but votes with `votes: false`: the archive takes those), resolving
   * to their names. One busy behind a query or an open transaction is left after a 1 s
   * lock_timeout, with the later months of its table, for the next pass.
   */
  async dropExpired({ votes = true }: { votes?: boolean } = {}): Promise<string[]> {
    const { pool, config, logger } = this.#deps;
    if (config.votesRetentionDays === undefined) return [];
    const dropped: string[] = [];
    let unreplayed = 0;
    for (const table of await this.#tables()) {
      if (table === "votes" && !votes) continue;
      const { rows } = await pool.query<RetentionOutcome>(
        `select partition_name, outcome, affected::text
         from time_partitions_drop_expired($1, make_interval(days => $2))`,
        [table, config.votesRetentionDays],
      );
      for (const { partition_name: partition, outcome, affected } of rows)
        if (outcome === "dropped") {
          dropped.push(partition);
          logger.info({ partition }, "partition past retention dropped (the rollups stay)");
        } else if (outcome === "deleted")
          logger.info(
            { partition, rows: Number(affected) },
            "rows of months past retention deleted from the default partition",
          );
        // Loud at every pass: an unreplayed dead letter is a message nobody has dealt with.
        else {
          unreplayed += Number(affected);
          logger.warn(
            { partition, unreplayed: Number(affected) },
            "partition past retention kept: it holds dead letters never replayed (`npm run dlq -- list`, then replay them)",
          );
        }
    }
    this.#deps.metrics?.deadLettersPastRetention.set(unreplayed);
    return dropped;
  }

  /** Every table's ensure call, each its own transaction; throws the first failure after all ran. */
  async #ensure(): Promise<{ partition: string; moved: number }[]> {
    const { pool, config, logger } = this.#deps;
    this.#lastRunAt = performance.now();
    const created: { partition: string; moved: number }[] = [];
    let failure: unknown;
    for (const table of await this.#tables()) {
      try {
        const { rows } = await pool.query<CreatedPartition>(
          `select partition_name, moved::text from time_partitions_ensure($1,
             p_ahead => make_interval(months => $2), p_keep => make_interval(days => $3))`,
          [table, config.votesPartitionsAheadMonths, config.votesRetentionDays ?? null],
        );
        for (const r of rows) {
          const c = { partition: r.partition_name, moved: Number(r.moved) };
          logger.info(c, "partition created");
          created.push(c);
        }
      } catch (err) {
        // A busy default partition of one table holds up no other table's maintenance.
        failure ??= err;
      }
    }
    if (failure !== undefined) throw failure;
    return created;
  }

  /** Between batches and when idle: a pass when the interval has passed (or none ran yet). */
  async maybeRun(): Promise<void> {
    if (
      this.#lastRunAt !== undefined &&
      performance.now() - this.#lastRunAt < this.#deps.config.votesPartitionCheckMs
    )
      return;
    try {
      await this.run();
      if (this.#failing) this.#deps.logger.info("votes partition maintenance recovered");
      this.#failing = false;
    } catch (err) {
      // Postgres away, or the default partition busy past lock_timeout: the next interval
      // tries again; votes keep landing in the default partition meanwhile.
      if (!this.#failing)
        this.#deps.logger.warn({ err }, "votes partition maintenance failed; retrying later");
      this.#failing = true;
    }
  }
}
