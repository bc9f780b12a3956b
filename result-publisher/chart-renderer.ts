import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../common/logger.ts";
import { afterPendingReads, type RedisClient } from "../common/redis.ts";
import { chartJobsKey, type PublishedResults, resultsKeys } from "../common/results-contract.ts";
import { storePngIfCurrent, takeChartJob } from "./chart-jobs.ts";
import { ChartWorker } from "./chart-worker.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";

/** How long one BZPOPMIN waits: also how long close() may wait for a loop to notice. */
const TAKE_TIMEOUT_S = 1;
/** Pause after a Redis error before taking jobs again. */
const RETRY_DELAY_MS = 500;

export interface ChartRendererDeps {
  redis: RedisClient;
  keyPrefix: string;
  chartWidth: number;
  chartHeight: number;
  /** Loops, each with its worker thread and its blocking Redis connection; 0 = none. */
  workers: number;
  logger: Logger;
  metrics: PublisherMetrics;
  /**
   * How long past its own wait a blocking take may stay unanswered before its connection
   * is taken for silent (half-open) and replaced (REDIS_PING_TIMEOUT_MS): a PING watch
   * cannot serve a connection that is blocked by design.
   */
  silentAfterMs: number;
  /** A render not answered within this ends its thread and fails (CHART_RENDER_TIMEOUT_MS). */
  renderTimeoutMs: number;
  /** The worker threads' script (tests: a stand-in that hangs); chart-thread.ts by default. */
  threadUrl?: URL;
}

/**
 * Draws the charts queued in `<p>chart-jobs`, in every publisher process, leader or
 * standby: the leader only queues, so rendering never delays the JSON of any poll, and
 * standbys share the work. A job is a poll id; the renderer draws the document published
 * in Redis at that moment (no Postgres, and nothing a hidden document does not hold) and
 * stores its PNG only if that version is still current (storePngIfCurrent).
 */
export class ChartRenderer {
  readonly #deps: ChartRendererDeps;
  readonly #loops: Promise<void>[] = [];
  readonly #blocking: RedisClient[] = [];
  readonly #workers: ChartWorker[] = [];
  readonly #stop = new AbortController();
  /** Jobs taken and not finished, and jobs taken ever (for idle()). */
  #inFlight = 0;
  #taken = 0;

  private constructor(deps: ChartRendererDeps) {
    this.#deps = deps;
  }

  static async start(deps: ChartRendererDeps): Promise<ChartRenderer> {
    const renderer = new ChartRenderer(deps);
    try {
      for (let i = 0; i < deps.workers; i++) {
        const blocking = deps.redis.duplicate();
        blocking.on("error", () => {}); // the main client reports outages; the loop retries
        renderer.#blocking.push(blocking);
        await blocking.connect();
        const worker = new ChartWorker({
          width: deps.chartWidth,
          height: deps.chartHeight,
          renderTimeoutMs: deps.renderTimeoutMs,
          ...(deps.threadUrl === undefined ? {} : { threadUrl: deps.threadUrl }),
        });
        renderer.#workers.push(worker);
        renderer.#loops.push(renderer.#loop(blocking, worker));
      }
    } catch (err) {
      await renderer.close();
      throw err;
    }
    return renderer;
  }

  async #loop(blocking: RedisClient, worker: ChartWorker): Promise<void> {
    const { logger } = this.#deps;
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      let pollId: string | undefined;
      try {
        pollId = await this.#take(blocking);
      } catch (err) {
        if (signal.aborted) return;
        if (err instanceof SilentConnection) {
          logger.warn("chart queue connection silent; replacing it");
          blocking.destroy();
          // connect() retries with the reconnect strategy until Redis answers, or close().
          await blocking.connect().catch(() => {});
        }
        await sleep(RETRY_DELAY_MS, undefined, { signal }).catch(() => {});
        continue;
      }
      if (pollId === undefined) continue;
      this.#taken++;
      this.#inFlight++;
      try {
        await this.#draw(pollId, worker);
      } catch (err) {
        // The PNG stays absent; the next read of it queues the job again.
        this.#deps.metrics.renderFailures.inc();
        if (!signal.aborted) logger.error({ err, pollId }, "chart render failed");
      } finally {
        this.#inFlight--;
      }
    }
  }

  /** One blocking take, bounded: unanswered past its wait and the margin, SilentConnection. */
  async #take(blocking: RedisClient): Promise<string | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = afterPendingReads(TAKE_TIMEOUT_S * 1000 + this.#deps.silentAfterMs, () =>
        reject(new SilentConnection()),
      );
    });
    try {
      return await Promise.race([
        takeChartJob(blocking, this.#deps.keyPrefix, TAKE_TIMEOUT_S),
        deadline,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #draw(pollId: string, worker: ChartWorker): Promise<void> {
    const { redis, keyPrefix, metrics } = this.#deps;
    const json = await redis.get(resultsKeys(keyPrefix, pollId).json);
    if (json === null) return; // deleted, or Redis emptied: the leader republishes it
    const results = JSON.parse(json) as PublishedResults;
    const started = performance.now();
    const png = await worker.render(results);
    metrics.renderDuration.observe((performance.now() - started) / 1000);
    const stored = await storePngIfCurrent(redis, keyPrefix, pollId, results.version, png);
    (stored ? metrics.chartsStored : metrics.chartsStale).inc();
  }

  /**
   * No job queued and none being drawn here (for tests and benchmarks that wait for the
   * charts of a run). A job popped just before the check is seen by the second look.
   */
  async idle(): Promise<boolean> {
    const { redis, keyPrefix } = this.#deps;
    const taken = this.#taken;
    if ((await redis.zCard(chartJobsKey(keyPrefix))) > 0 || this.#inFlight > 0) return false;
    await sleep(20);
    return this.#inFlight === 0 && this.#taken === taken;
  }

  /** Stops taking jobs, waits for the draws in flight, then ends the threads and connections. */
  async close(): Promise<void> {
    this.#stop.abort();
    // destroy() fails a BZPOPMIN in flight at once instead of waiting out its timeout.
    for (const blocking of this.#blocking) if (blocking.isOpen) blocking.destroy();
    await Promise.allSettled(this.#loops);
    await Promise.allSettled(this.#workers.map((w) => w.close()));
  }
}

/** A blocking take that got no answer in time: its connection is half-open. */
class SilentConnection extends Error {
  override name = "SilentConnection";
}
