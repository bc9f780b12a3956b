import assert from "node:assert/strict";
import { Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { eventually } from "../harness/waiting.ts";
import { type PublisherConfig, readPublisherConfig } from "../result-publisher/config.ts";
import type { PublishRunSummary } from "../result-publisher/publisher.ts";
import { type RunningPublisher, startResultPublisher } from "../result-publisher/service.ts";
import type { IngestHarness } from "./ingest.ts";
import { type EnvVars, publisherEnv } from "./service-env.ts";

/**
 * A cron that fires once a year (1 January, 00:00:00): in-process publishers run only
 * when a test calls run(), so that what a run publishes is decided by the test alone.
 */
export const RARE_CRON = "0 0 0 1 1 *";

export interface InProcessPublisher extends RunningPublisher {
  config: PublisherConfig;
  /** The run startResultPublisher began at once: a new instance's first run. */
  firstRun: Promise<PublishRunSummary | undefined>;
  /**
   * One publishing run that starts after this call (the first run, which may have read
   * Postgres before the caller's data arrived, is awaited first; with RARE_CRON no other
   * run starts on its own), and the charts it queued drawn (or failed). Fails if this
   * publisher is not the leader or the run failed.
   */
  run(): Promise<PublishRunSummary>;
  /** Waits until no chart is queued or being drawn in this process. */
  chartsDrawn(): Promise<void>;
  close(): Promise<void>;
}

/**
 * readPublisherConfig + Lifecycle + startResultPublisher, as result-publisher/main.ts
 * does. RESULTS_CRON is RARE_CRON unless the caller sets it, or asks for `scheduled`
 * runs (the schedule RESULTS_INTERVAL_MS gives, as in production).
 */
export async function startPublisherInProcess(
  env: EnvVars,
  { scheduled = false }: { scheduled?: boolean } = {},
): Promise<InProcessPublisher> {
  const config = readPublisherConfig(scheduled ? env : { RESULTS_CRON: RARE_CRON, ...env });
  const logger = createLogger(config.logLevel, { service: "result-publisher" });
  const lifecycle = new Lifecycle(logger);
  let running: RunningPublisher;
  try {
    running = await startResultPublisher(config, logger, lifecycle);
  } catch (err) {
    await lifecycle.close(2_000);
    throw err;
  }
  const chartsDrawn = async () => {
    await eventually(
      "the queued charts are drawn",
      async () => ((await running.charts.idle()) ? true : undefined),
      { timeoutMs: 20_000 },
    );
  };
  // tick() while a run is in flight returns that run: this is the one started at once.
  const tickNow = running.tick();
  const firstRun = tickNow.then(async (summary) => {
    if (summary && config.chartWorkers > 0) await chartsDrawn();
    return summary;
  });
  return {
    ...running,
    config,
    firstRun,
    chartsDrawn,
    async run() {
      await firstRun;
      const summary = await running.tick();
      assert.ok(summary, "the publishing run did not happen (not the leader, or it failed)");
      if (config.chartWorkers > 0) await chartsDrawn();
      return summary;
    },
    close: () => lifecycle.close(config.shutdownDeadlineMs),
  };
}

/**
 * A publisher in this process over an ingest harness's database and Redis (no chart
 * workers), its first run and a first attendance run awaited: the day documents of the
 * schools the harness made are in Redis when it resolves.
 */
export async function startHarnessPublisher(
  h: Pick<IngestHarness, "names" | "db" | "config">,
  extra: EnvVars = {},
): Promise<InProcessPublisher> {
  const publisher = await startPublisherInProcess(
    publisherEnv(h.names, h.db.url, {
      REDIS_URL: h.config.redisUrl,
      CHART_WORKERS: "0",
      ...extra,
    }),
  );
  await publisher.firstRun;
  // The first tick's attendance run may have begun before the caller's roster was complete.
  await publisher.attendanceRun();
  return publisher;
}
