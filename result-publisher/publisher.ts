import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { type PublishedResults, resultsChannel, resultsKeys } from "../common/results-contract.ts";
import { renderResultsPng } from "./chart.ts";
import { isHidden, loadPolls, type PollRecord, resultsVersion } from "./published-version.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";
import { hiddenResults, visibleResults } from "./results.ts";
import {
  loadRollups,
  type Queryable,
  type RollupRow,
  readSnapshot,
  snapshotXmin,
} from "./rollup-store.ts";

/** A poll's rollup rows by option and bucket; counts are absolute, so a newer row replaces. */
interface PollModel {
  /** Which incarnation of the poll id this model belongs to. */
  createdAtMs: number;
  rows: Map<string, RollupRow>;
}
const modelKey = (r: RollupRow) => `${r.optionId}\u0000${r.bucketStartMs}`;

/** A poll whose version is not the one in Redis, with what its publication is built from. */
interface Change {
  poll: PollRecord;
  hidden: boolean;
  version: string;
  /** Empty for a hidden poll: its counts are not read at all. */
  rollups: RollupRow[];
}

export interface PublishRunSummary {
  polls: number;
  published: string[];
  removed: string[];
  renderFailures: number;
  /** Polls whose publication was gone from Redis (or not ours any more), republished in this run. */
  restored: string[];
}

/** Version keys per MGET: at 10,000 polls a run's check is 10 pipelined MGETs of ~40 KB. */
const MGET_CHUNK = 1_000;

export interface PublisherDeps {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  chartWidth: number;
  chartHeight: number;
  logger: Logger;
  metrics: PublisherMetrics;
}

/**
 * One run: find the polls whose version changed (new votes, registry edits, an
 * after_close poll that just closed), recompute only those from their rollups, render,
 * and write JSON + PNG + version in one MULTI with a pub/sub announcement.
 */
export class ResultsPublisher {
  /** poll id → version known to be in Redis (loaded from Redis on the first run). */
  #published: Map<string, string> | undefined;
  /** poll id → its rollup rows, kept current with delta reads. */
  readonly #models = new Map<string, PollModel>();
  /** Snapshot xmin taken at the start of the last successful run. */
  #xmin: string | undefined;
  /** A loss was reported (one WARN) and not yet healed (one INFO). */
  #healing = false;
  readonly #deps: PublisherDeps;

  constructor(deps: PublisherDeps) {
    this.#deps = deps;
  }

  /** Forget what was published (after losing and regaining leadership, Redis may have moved on). */
  reset(): void {
    this.#published = undefined;
    this.#models.clear();
    this.#xmin = undefined;
  }

  async run(nowMs = Date.now()): Promise<PublishRunSummary> {
    const { pool, redis, keyPrefix, logger, metrics } = this.#deps;
    const started = performance.now();
    // Everything read from Postgres comes from one snapshot, so that a publication's counts
    // are exactly those of its change marker (version, asOf); rendering and Redis come after.
    const { xmin, polls, published, changes, lost } = await readSnapshot(pool, async (db) => {
      const xmin = await snapshotXmin(db);
      const polls = await loadPolls(db);
      // What memory says was written is a cache of Redis, not the truth: Redis may have
      // restarted empty (no persistence) or been written by someone else. Re-checked every
      // run, so every poll is back within one interval; closed and hidden polls included,
      // since nothing else would ever republish them.
      const lost = this.#published ? await this.#verify(polls, this.#published) : [];
      const published = this.#published ?? (await this.#loadPublished(polls));
      this.#published = published;
      const changes: Change[] = [];
      for (const poll of polls) {
        const hidden = isHidden(poll, nowMs);
        // Its rollups are not followed while hidden: a poll hidden again (closing time moved
        // on) reads them in full once it shows, not as deltas over a model gone stale.
        if (hidden) this.#models.delete(poll.id);
        const version = resultsVersion(poll, hidden, nowMs);
        if (published.get(poll.id) === version) continue;
        changes.push({
          poll,
          hidden,
          version,
          rollups: hidden ? [] : await this.#rollups(db, poll),
        });
      }
      return { xmin, polls, published, changes, lost };
    });

    const summary: PublishRunSummary = {
      polls: polls.length,
      published: [],
      removed: [],
      renderFailures: 0,
      restored: lost,
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
    for (const { poll, hidden, version, rollups } of changes) {
      const rendered = await this.#publishPoll(poll, hidden, rollups, nowMs);
      if (rendered) published.set(poll.id, version);
      else {
        summary.renderFailures++;
        published.delete(poll.id); // JSON is out; render again next run
      }
      summary.published.push(poll.id);
    }
    const live = new Set(polls.map((p) => p.id));
    for (const pollId of this.#models.keys()) if (!live.has(pollId)) this.#models.delete(pollId);
    this.#xmin = xmin;
    for (const pollId of [...published.keys()]) {
      if (live.has(pollId)) continue;
      const keys = resultsKeys(keyPrefix, pollId);
      await redis.del([keys.json, keys.png, keys.version]);
      published.delete(pollId);
      summary.removed.push(pollId);
    }
    if (this.#healing && lost.length > 0) {
      logger.info({ polls: lost.length }, "published results restored in Redis");
      this.#healing = false;
    }
    metrics.runs.inc();
    metrics.published.inc(summary.published.length);
    metrics.runDuration.observe((performance.now() - started) / 1000);
    if (summary.published.length > 0)
      logger.debug({ published: summary.published }, "results published");
    return summary;
  }

  /** Returns false when the chart failed (the JSON is published regardless). */
  async #publishPoll(
    poll: PollRecord,
    hidden: boolean,
    rollups: RollupRow[],
    nowMs: number,
  ): Promise<boolean> {
    const { redis, keyPrefix, chartWidth, chartHeight, logger, metrics } = this.#deps;
    const size = { width: chartWidth, height: chartHeight };
    let results: PublishedResults = hidden
      ? hiddenResults(poll, nowMs)
      : visibleResults(poll, rollups, nowMs, size);
    let png: Buffer | undefined;
    const renderStarted = performance.now();
    try {
      png = await renderResultsPng(results, chartWidth, chartHeight);
      metrics.renderDuration.observe((performance.now() - renderStarted) / 1000);
    } catch (err) {
      metrics.renderFailures.inc();
      logger.error({ err, pollId: poll.id }, "chart render failed; publishing the JSON without it");
      if (!results.hidden) results = { ...results, chart: null };
    }
    const keys = resultsKeys(keyPrefix, poll.id);
    const tx = redis
      .multi()
      .set(keys.json, JSON.stringify(results))
      .set(keys.version, results.version);
    // Never leave a PNG of another version beside this JSON.
    if (png) tx.set(keys.png, png);
    else tx.del(keys.png);
    tx.publish(
      resultsChannel(keyPrefix),
      JSON.stringify({ pollId: poll.id, version: results.version }),
    );
    await tx.exec();
    return png !== undefined;
  }

  /** The poll's rollups: read once in full, then only what changed since the last run. */
  async #rollups(db: Queryable, poll: PollRecord): Promise<RollupRow[]> {
    const pollId = poll.id;
    let model = this.#models.get(pollId);
    // A poll deleted and created again under the same id starts from nothing.
    if (
      model === undefined ||
      this.#xmin === undefined ||
      model.createdAtMs !== poll.createdAt.getTime()
    ) {
      model = { createdAtMs: poll.createdAt.getTime(), rows: new Map() };
      this.#models.set(pollId, model);
      const rows = await loadRollups(db, pollId);
      for (const r of rows) model.rows.set(modelKey(r), r);
      this.#deps.metrics.rollupRowsRead.inc(rows.length);
    } else {
      const rows = await loadRollups(db, pollId, this.#xmin);
      for (const r of rows) model.rows.set(modelKey(r), r);
      this.#deps.metrics.rollupRowsRead.inc(rows.length);
    }
    return [...model.rows.values()];
  }

  /**
   * Drops from `published` every poll whose version in Redis is not the one remembered, so
   * that this run publishes it again; returns those polls. One MGET per MGET_CHUNK polls.
   */
  async #verify(polls: PollRecord[], published: Map<string, string>): Promise<string[]> {
    const known = polls.filter((p) => published.has(p.id));
    const versions = await this.#versions(known);
    const lost: string[] = [];
    known.forEach((p, i) => {
      if (versions[i] === published.get(p.id)) return;
      published.delete(p.id);
      lost.push(p.id);
    });
    return lost;
  }

  /**
   * The version key of each poll, in order (null where absent): MGETs of MGET_CHUNK keys,
   * sent together (one pipeline), so that no single command holds Redis for long.
   */
  async #versions(polls: PollRecord[]): Promise<(string | null)[]> {
    const { redis, keyPrefix } = this.#deps;
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < polls.length; i += MGET_CHUNK)
      chunks.push(
        redis.mGet(polls.slice(i, i + MGET_CHUNK).map((p) => resultsKeys(keyPrefix, p.id).version)),
      );
    return (await Promise.all(chunks)).flat();
  }

  async #loadPublished(polls: PollRecord[]): Promise<Map<string, string>> {
    const { redis, keyPrefix } = this.#deps;
    const map = new Map<string, string>();
    if (polls.length === 0) return map;
    const versions = await this.#versions(polls);
    const pngs = await Promise.all(
      polls.map((p) => redis.exists(resultsKeys(keyPrefix, p.id).png)),
    );
    polls.forEach((p, i) => {
      const v = versions[i];
      // A version without its PNG was a failed render: do it again.
      if (typeof v === "string" && pngs[i] === 1) map.set(p.id, v);
    });
    return map;
  }
}
