import { queueChartJob } from "../common/chart-job-queue.ts";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { type PublishedResults, resultsChannel, resultsKeys } from "../common/results-contract.ts";
import { demandedPolls } from "./chart-jobs.ts";
import { PollModel, type RollupSummary, summarize } from "./poll-model.ts";
import { isHidden, loadPolls, type PollRecord, resultsVersion } from "./published-version.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";
import type { RegistryWatch } from "./registry-watch.ts";
import { hiddenResults, visibleResults } from "./results.ts";
import {
  type ChangeLog,
  deleteChangeLog,
  loadChangeLog,
  loadRollupsFor,
  type Queryable,
  type RollupRow,
  readSnapshot,
  registryFingerprint,
} from "./rollup-store.ts";

/** A poll whose version is not the one in Redis, with what its publication is built from. */
interface Change {
  poll: PollRecord;
  hidden: boolean;
  version: string;
  /** Empty for a hidden poll: its counts are not read at all. */
  rollups: RollupSummary;
}

/** What a run read from its snapshot (and from Redis, for the versions published). */
interface SnapshotRead {
  /** What the run read of poll_change_log: deleted once the run has published. */
  log: ChangeLog;
  polls: Map<string, PollRecord>;
  published: Map<string, string>;
  changes: Change[];
  lost: string[];
}

export interface PublishRunSummary {
  polls: number;
  published: string[];
  removed: string[];
  /** Polls whose publication was gone from Redis (or not ours any more), republished in this run. */
  restored: string[];
  /** Published polls whose chart was queued for the renderers (read polls, or all with CHART_RENDER=all). */
  chartsQueued: string[];
}

const NO_ROLLUPS: RollupSummary = summarize([]);
const ids = (changes: readonly Change[]) => changes.map((c) => c.poll.id);

/** Version keys per MGET: at 10,000 polls a run's check is 10 pipelined MGETs of ~40 KB. */
const MGET_CHUNK = 1_000;
/**
 * Publications sent to Redis together (each its own MULTI, pipelined on the connection):
 * 1,000 changed polls are two round trips, and no batch holds Redis for long.
 */
const WRITE_CHUNK = 500;

export interface PublisherDeps {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  chartWidth: number;
  chartHeight: number;
  /** See DISTRIBUTION_WINDOW_HOURS. */
  distributionWindowHours: number;
  /** `demand`: queue charts of polls read within chartDemandTtlMs; `all`: of every changed poll. */
  chartRender: "demand" | "all";
  chartDemandTtlMs: number;
  /** Says when the registry must be read again; without one, every run reads all of it. */
  registry?: RegistryWatch;
  /**
   * The leader's lock session pid now (Leadership.lockSessionPid; undefined: not the
   * leader). Given, the change log's delete happens only while that session holds the
   * lock. Without it (a publisher no other process competes with: tests, benchmarks) the
   * delete is unconditional.
   */
  leaderPid?: () => number | undefined;
  logger: Logger;
  metrics: PublisherMetrics;
}

/**
 * One run: find the polls whose version changed (new votes, registry edits, an
 * after_close poll that just closed), recompute only those from their rollups, and write
 * JSON + version in one MULTI per poll with a pub/sub announcement, the MULTIs pipelined.
 * No chart is drawn here: the MULTI deletes the PNG of the older version and, for a poll
 * being read, queues a chart job that a ChartRenderer (any publisher process) takes.
 */
export class ResultsPublisher {
  /** poll id → version known to be in Redis (loaded from Redis on the first run). */
  #published: Map<string, string> | undefined;
  /** The registry (with change markers) as of the last run, kept current with deltas. */
  #polls: Map<string, PollRecord> | undefined;
  /** registryFingerprint of #polls. */
  #fingerprint: string | undefined;
  /** poll id → its totals and distribution window (poll-model.ts), kept current with delta reads. */
  readonly #models = new Map<string, PollModel>();
  /** A loss was reported (one WARN) and not yet healed (one INFO). */
  #healing = false;
  readonly #deps: PublisherDeps;

  constructor(deps: PublisherDeps) {
    this.#deps = deps;
  }

  /** Forget what was published (after losing and regaining leadership, Redis may have moved on). */
  reset(): void {
    this.#published = undefined;
    this.#polls = undefined;
    this.#fingerprint = undefined;
    this.#models.clear();
  }

  async run(nowMs = Date.now()): Promise<PublishRunSummary> {
    const { registry } = this.#deps;
    const started = performance.now();
    // Taken before the snapshot: a registry change notified after this is read next run.
    const fullRegistry = (registry?.takeStale(nowMs) ?? true) || this.#polls === undefined;
    try {
      return await this.#run(fullRegistry, nowMs, started);
    } catch (err) {
      // The run took the watch's mark and the registry's fingerprint but kept the registry
      // it had: whatever failed (the snapshot, a write to Redis), the next run reads the
      // registry again, not at the resync minutes later.
      registry?.markStale();
      this.#fingerprint = undefined;
      throw err;
    }
  }

  async #run(fullRegistry: boolean, nowMs: number, started: number): Promise<PublishRunSummary> {
    const { pool, logger, metrics } = this.#deps;
    const read = await readSnapshot(pool, (db) => this.#read(db, fullRegistry, nowMs));
    const { log, polls, published, changes, lost } = read;

    const summary: PublishRunSummary = {
      polls: polls.size,
      published: [],
      removed: [],
      restored: lost,
      chartsQueued: [],
    };
    if (lost.length > 0) {
      metrics.resultsLost.inc(lost.length);
      if (!this.#healing)
        logger.warn(
          { polls: lost.length, sample: lost.slice(0, 10) },
          "published results are missing from Redis (restarted empty?); republishing them",
        );
      this.#healing = true;
    }
    await this.#write(changes, published, summary, nowMs);
    for (const pollId of this.#models.keys()) if (!polls.has(pollId)) this.#models.delete(pollId);
    this.#polls = polls;
    await this.#remove(polls, published, summary);
    // Only now, with everything it read published: a run that failed before this leaves the
    // log as it was, and the next run (or a new leader, which reads everything anyway) reads
    // it again. Rows committed since this run's snapshot have higher change_seqs and stay.
    // Fenced: an old leader whose lock a new one may hold meanwhile deletes nothing (the new
    // one may not have read those rows yet).
    const leaderPid = this.#deps.leaderPid;
    if (leaderPid === undefined) await deleteChangeLog(pool, log.logged);
    else {
      const pid = leaderPid();
      if (pid !== undefined) await deleteChangeLog(pool, log.logged, pid);
    }
    if (this.#healing && lost.length > 0) {
      logger.info({ polls: lost.length }, "published results restored in Redis");
      this.#healing = false;
    }
    metrics.runs.inc();
    metrics.published.inc(summary.published.length);
    metrics.chartJobsQueued.inc(summary.chartsQueued.length);
    metrics.runDuration.observe((performance.now() - started) / 1000);
    if (summary.published.length > 0)
      logger.debug({ published: summary.published.length }, "results published");
    return summary;
  }

  /**
   * Everything read from Postgres comes from one snapshot, so that a publication's counts
   * are exactly those of its change marker (version, asOf).
   */
  async #read(db: Queryable, fullRegistry: boolean, nowMs: number): Promise<SnapshotRead> {
    const log = await loadChangeLog(db);
    const polls = await this.#registry(db, fullRegistry, log);
    // What memory says was written is a cache of Redis, not the truth: Redis may have
    // restarted empty (no persistence) or been written by someone else. Re-checked every
    // run, so every poll is back within one interval; closed and hidden polls included,
    // since nothing else would ever republish them.
    const lost = this.#published ? await this.#verify(polls, this.#published) : [];
    const published = this.#published ?? (await this.#loadPublished(polls));
    this.#published = published;
    // In memory: an idle poll costs a version computed per run (its phase moves with the
    // clock), no read.
    const changes: Change[] = [];
    for (const poll of polls.values()) {
      const hidden = isHidden(poll, nowMs);
      // Its rollups are not followed while hidden: a poll hidden again (closing time moved
      // on) reads them in full once it shows, not as deltas over a model gone stale.
      if (hidden) this.#models.delete(poll.id);
      const version = resultsVersion(poll, hidden, nowMs);
      if (published.get(poll.id) === version) continue;
      changes.push({ poll, hidden, version, rollups: NO_ROLLUPS });
    }
    await this.#rollups(
      db,
      changes.filter((c) => !c.hidden),
    );
    return { log, polls, published, changes, lost };
  }

  /**
   * The whole registry when it changed (a notification, or another fingerprint: an edit
   * committed just before this snapshot may not have been notified yet), else the last
   * run's, updated with the change markers of the polls in the change log. Every change
   * committed since the last run's snapshot is in the log: a row is deleted only by a run
   * that published what it read, and a change's marker and log row commit together.
   */
  async #registry(db: Queryable, full: boolean, log: ChangeLog): Promise<Map<string, PollRecord>> {
    const previous = this.#polls;
    const fingerprint = await registryFingerprint(db);
    const changed = fingerprint !== this.#fingerprint;
    this.#fingerprint = fingerprint;
    if (full || changed || previous === undefined) {
      this.#deps.metrics.registryReloads.inc();
      return new Map((await loadPolls(db)).map((p) => [p.id, p]));
    }
    // A copy: a run that fails half-way leaves the last good registry as it was.
    const polls = new Map(previous);
    for (const c of log.changes) {
      const poll = polls.get(c.pollId);
      // A poll this registry does not know yet: its notification is on its way; read
      // everything next run rather than guess the row.
      if (poll === undefined) this.#deps.registry?.markStale();
      else if (
        poll.changeSeq !== c.changeSeq ||
        poll.changedAt?.getTime() !== c.changedAt.getTime()
      )
        polls.set(c.pollId, { ...poll, changeSeq: c.changeSeq, changedAt: c.changedAt });
    }
    return polls;
  }

  /**
   * The rollups of the visible changed polls: read once in full, then only the rows written
   * by the poll's batches after the change_seq its model holds; one query for each kind,
   * whatever the number of polls. A model keeps the totals and the distribution window only
   * (poll-model.ts); a row back-dated before its window has the poll read in full again.
   * Exact: a poll's batches commit in change_seq order (migration 048), so this snapshot,
   * which sees the poll at poll.changeSeq, sees every rollup written at or below it, and the
   * rows it did not see when the model was last read are those above the model's.
   */
  async #rollups(db: Queryable, changes: Change[]): Promise<void> {
    const fresh: Change[] = [];
    const known: Change[] = [];
    for (const c of changes) {
      const model = this.#models.get(c.poll.id);
      // A poll deleted and created again under the same id starts from nothing.
      if (model === undefined || model.createdAtMs !== c.poll.createdAt.getTime()) fresh.push(c);
      else known.push(c);
    }
    const readFully = async (list: Change[]) => {
      for (const c of list) this.#models.set(c.poll.id, new PollModel(c.poll.createdAt.getTime()));
      if (list.length > 0) this.#apply(await loadRollupsFor(db, ids(list)));
    };
    await readFully(fresh);
    const stale =
      known.length > 0
        ? this.#apply(
            await loadRollupsFor(
              db,
              ids(known),
              known.map((c) => this.#models.get(c.poll.id)!.changeSeq),
            ),
          )
        : [];
    await readFully(known.filter((c) => stale.includes(c.poll.id)));
    const { distributionWindowHours } = this.#deps;
    for (const c of changes) {
      const model = this.#models.get(c.poll.id)!;
      // What this snapshot saw of the poll: its change marker, read in this snapshot (a full
      // registry) or brought up to it by the change log. Were it behind (a log row lost),
      // the next read would merely read some rows again.
      model.changeSeq = c.poll.changeSeq;
      model.trim(c.poll.changedAt, distributionWindowHours);
      c.rollups = model;
    }
  }

  /** Applies rows read to their polls' models; returns the polls that need a full read. */
  #apply(rowsByPoll: Map<string, RollupRow[]>): string[] {
    const stale: string[] = [];
    for (const [pollId, rows] of rowsByPoll) {
      if (!this.#models.get(pollId)!.apply(rows)) stale.push(pollId);
      this.#deps.metrics.rollupRowsRead.inc(rows.length);
    }
    return stale;
  }

  /** One MULTI per changed poll (JSON, version, no PNG of an older version, announcement). */
  async #write(
    changes: Change[],
    published: Map<string, string>,
    summary: PublishRunSummary,
    nowMs: number,
  ): Promise<void> {
    if (changes.length === 0) return;
    const { redis, keyPrefix, chartRender, chartDemandTtlMs } = this.#deps;
    const demanded =
      chartRender === "all"
        ? undefined
        : await demandedPolls(redis, keyPrefix, nowMs, chartDemandTtlMs);
    for (let i = 0; i < changes.length; i += WRITE_CHUNK) {
      const chunk = changes.slice(i, i + WRITE_CHUNK);
      await Promise.all(
        chunk.map(async ({ poll, hidden, version, rollups }) => {
          const queue = demanded === undefined || demanded.has(poll.id);
          await this.#publishPoll(poll, hidden, rollups, queue, nowMs);
          published.set(poll.id, version);
          summary.published.push(poll.id);
          if (queue) summary.chartsQueued.push(poll.id);
        }),
      );
    }
  }

  async #publishPoll(
    poll: PollRecord,
    hidden: boolean,
    rollups: RollupSummary,
    queueChart: boolean,
    nowMs: number,
  ): Promise<void> {
    const { redis, keyPrefix, chartWidth, chartHeight, distributionWindowHours } = this.#deps;
    const size = { width: chartWidth, height: chartHeight };
    const results: PublishedResults = hidden
      ? hiddenResults(poll, nowMs)
      : visibleResults(poll, rollups, nowMs, size, distributionWindowHours);
    const keys = resultsKeys(keyPrefix, poll.id);
    const tx = redis
      .multi()
      .set(keys.json, JSON.stringify(results))
      .set(keys.version, results.version)
      // Never leave a PNG of another version beside this JSON: a renderer stores the PNG
      // of this version later, and only while this version is current.
      .del(keys.png)
      .publish(
        resultsChannel(keyPrefix),
        JSON.stringify({ pollId: poll.id, version: results.version }),
      );
    if (queueChart) queueChartJob(tx, keyPrefix, poll.id, nowMs);
    await tx.exec();
  }

  /** Deletes the publications of polls no longer in the registry (pipelined). */
  async #remove(
    polls: Map<string, PollRecord>,
    published: Map<string, string>,
    summary: PublishRunSummary,
  ): Promise<void> {
    const { redis, keyPrefix } = this.#deps;
    const gone = [...published.keys()].filter((pollId) => !polls.has(pollId));
    await Promise.all(
      gone.map(async (pollId) => {
        const keys = resultsKeys(keyPrefix, pollId);
        await redis.del([keys.json, keys.png, keys.version]);
        published.delete(pollId);
        summary.removed.push(pollId);
      }),
    );
  }

  /**
   * Drops from `published` every poll whose version in Redis is not the one remembered, so
   * that this run publishes it again; returns those polls. One MGET per MGET_CHUNK polls.
   */
  async #verify(polls: Map<string, PollRecord>, published: Map<string, string>): Promise<string[]> {
    const known = [...polls.keys()].filter((id) => published.has(id));
    const versions = await this.#versions(known);
    const lost: string[] = [];
    known.forEach((id, i) => {
      if (versions[i] === published.get(id)) return;
      published.delete(id);
      lost.push(id);
    });
    return lost;
  }

  /**
   * The version key of each poll, in order (null where absent): MGETs of MGET_CHUNK keys,
   * sent together (one pipeline), so that no single command holds Redis for long.
   */
  async #versions(pollIds: string[]): Promise<(string | null)[]> {
    const { redis, keyPrefix } = this.#deps;
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < pollIds.length; i += MGET_CHUNK)
      chunks.push(
        redis.mGet(
          pollIds.slice(i, i + MGET_CHUNK).map((id) => resultsKeys(keyPrefix, id).version),
        ),
      );
    return (await Promise.all(chunks)).flat();
  }

  /** What Redis holds already: a restarted publisher does not republish unchanged polls. */
  async #loadPublished(polls: Map<string, PollRecord>): Promise<Map<string, string>> {
    const map = new Map<string, string>();
    const ids = [...polls.keys()];
    const versions = await this.#versions(ids);
    ids.forEach((id, i) => {
      const v = versions[i];
      if (typeof v === "string") map.set(id, v);
    });
    return map;
  }
}
