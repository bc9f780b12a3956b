import schedule from "node-schedule";
import { listenLiveness, redisLiveness } from "../common/config.ts";
import type { Lifecycle } from "../common/lifecycle.ts";
import type { Logger } from "../common/logger.ts";
import { addMetricsServer } from "../common/metrics-server.ts";
import { addRedis } from "../common/redis.ts";
import { openServiceBase } from "../common/service-base.ts";
import { AttendancePublisher, type AttendanceRunSummary } from "./attendance-publisher.ts";
import { ChartRenderer } from "./chart-renderer.ts";
import type { PublisherConfig } from "./config.ts";
import { cronIntervalSeconds } from "./cron.ts";
import { removeResultsOfGonePolls } from "./gone-results.ts";
import { Leadership } from "./leader.ts";
import { type PublishRunSummary, ResultsPublisher } from "./publisher.ts";
import { createPublisherMetrics, type PublisherMetrics } from "./publisher-metrics.ts";
import { RegisterPublisher, type RegisterRunSummary } from "./register-publisher.ts";
import { RegistryWatch } from "./registry-watch.ts";

export interface RunningPublisher {
  leadership: Leadership;
  metrics: PublisherMetrics;
  metricsPort: number | undefined;
  /** This process's chart renderer (idle() tells when the queued charts are drawn). */
  charts: ChartRenderer;
  /** Runs once now (as leader only); resolves with what it published, or undefined as standby. */
  tick(): Promise<PublishRunSummary | undefined>;
  /**
   * The attendance run the last tick started (it runs beside the results, not in their way),
   * resolved with what it published; undefined when it failed or none ran.
   */
  attendanceRun(): Promise<AttendanceRunSummary | undefined>;
  /** The lesson registers' run the last tick started (as attendanceRun). */
  registersRun(): Promise<RegisterRunSummary | undefined>;
}

/**
 * Schedules the publisher with node-schedule. Every tick: become or stay the leader,
 * then publish what changed. Ticks never overlap; a failing run is logged once per
 * outage and retried at the next tick.
 */
export async function startResultPublisher(
  config: PublisherConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<RunningPublisher> {
  const service = "result-publisher";
  // Three connections: the results' snapshot, the attendance run's (beside it), and one for
  // the rest (the sweep of deleted polls' results, the metrics server's check).
  const { log, pool } = openServiceBase(service, config, 3, logger, lifecycle);
  const redis = await addRedis(lifecycle, config.redisUrl, log, service, redisLiveness(config));
  const metrics = createPublisherMetrics();
  metrics.interval.set(cronIntervalSeconds(config.schedule));
  const leadership = new Leadership(config.databaseUrl, log, config.leaderLockTimeoutMs);
  lifecycle.add("leadership", leadership, (l) => l.release());
  const registry = lifecycle.add(
    "registry-watch",
    new RegistryWatch(config.databaseUrl, log, listenLiveness(config)),
    (w) => w.close(),
  );
  const publisher = new ResultsPublisher({
    pool,
    redis,
    keyPrefix: config.redisKeyPrefix,
    chartWidth: config.chartWidth,
    chartHeight: config.chartHeight,
    distributionWindowHours: config.distributionWindowHours,
    chartRender: config.chartRender,
    chartDemandTtlMs: config.chartDemandTtlMs,
    registry,
    leaderPid: () => leadership.lockSessionPid,
    logger: log,
    metrics,
  });
  const attendance = new AttendancePublisher({
    pool,
    redis,
    keyPrefix: config.redisKeyPrefix,
    daysKept: config.attendanceDaysKept,
    maxDocumentsPerRun: config.attendanceMaxDocumentsPerRun,
    keptTodayMaxGapMs: config.attendanceKeptTodayMaxGapMs,
    leaderPid: () => leadership.lockSessionPid,
    logger: log,
    metrics,
  });
  const registers = new RegisterPublisher({
    pool,
    redis,
    keyPrefix: config.redisKeyPrefix,
    ...config.registers,
    leaderPid: () => leadership.lockSessionPid,
    logger: log,
    metrics,
  });
  // Leader or standby, every publisher draws the charts queued in Redis.
  const charts = lifecycle.add(
    "chart-renderer",
    await ChartRenderer.start({
      redis,
      keyPrefix: config.redisKeyPrefix,
      chartWidth: config.chartWidth,
      chartHeight: config.chartHeight,
      workers: config.chartWorkers,
      logger: log,
      metrics,
      silentAfterMs: config.redisPingTimeoutMs,
      renderTimeoutMs: config.chartRenderTimeoutMs,
    }),
    (r) => r.close(),
  );

  const metricsPort = await addMetricsServer(lifecycle, metrics.registry, config, {
    pool,
    connected: () => redis.isReady,
  });

  let running: Promise<PublishRunSummary | undefined> | undefined;
  let failing = false;
  let attendanceFailing = false;
  let attendanceRunning: Promise<AttendanceRunSummary | undefined> | undefined;
  let lastAttendanceRun: Promise<AttendanceRunSummary | undefined> = Promise.resolve(undefined);
  /**
   * The schools' day documents, started by the leader's tick beside the results, on a
   * connection of its own: a morning peak's attendance run (seconds: every school's day
   * changed) never delays the results, nor a failure of one the other (each logs once per
   * outage). A run still going when the next tick comes is not started twice.
   */
  const publishAttendance = () => {
    attendanceRunning ??= (async () => {
      try {
        const summary = await attendance.run();
        if (attendanceFailing) log.info("attendance publishing recovered");
        attendanceFailing = false;
        return summary;
      } catch (err) {
        if (!attendanceFailing)
          log.warn({ err }, "attendance publishing run failed; retrying at the next tick");
        attendanceFailing = true;
        return undefined;
      } finally {
        attendanceRunning = undefined;
      }
    })();
    lastAttendanceRun = attendanceRunning;
  };
  // The registers' documents after each attendance run, on its connection (a small run); one
  // at a time, as the attendance run.
  let registersRunning: Promise<RegisterRunSummary | undefined> | undefined;
  let lastRegistersRun: Promise<RegisterRunSummary | undefined> = Promise.resolve(undefined);
  const publishRegisters = (after: Promise<unknown>) => {
    registersRunning ??= after
      .then(() => registers.run())
      .catch((err: unknown) => {
        log.warn({ err }, "lesson registers publishing run failed; retrying at the next tick");
        return undefined;
      })
      .finally(() => {
        registersRunning = undefined;
      });
    lastRegistersRun = registersRunning;
  };
  /** A new leader looks once for results of polls deleted while no publisher led. */
  let sweepPending = false;
  const tick = (): Promise<PublishRunSummary | undefined> => {
    running ??= (async () => {
      try {
        const wasLeader = leadership.isLeader;
        const leader = await leadership.acquire();
        metrics.leader.set(leader ? 1 : 0);
        if (!leader) {
          // A standby holds no school's today (~700 MB at the reference scale).
          if (wasLeader) attendance.dropKeptTodays();
          return undefined;
        }
        if (!wasLeader) {
          publisher.reset();
          attendance.reset();
          registers.reset();
          registry.markStale();
          sweepPending = true;
        }
        publishAttendance();
        publishRegisters(lastAttendanceRun);
        let summary = await publisher.run();
        if (sweepPending) {
          // Polls deleted while no publisher led are in no run's memory: find their keys.
          const gone = await removeResultsOfGonePolls(pool, redis, config.redisKeyPrefix);
          sweepPending = false;
          if (gone.length > 0) {
            log.info(
              { polls: gone.length, sample: gone.slice(0, 10) },
              "removed results of polls deleted while no publisher led",
            );
            summary = { ...summary, removed: [...summary.removed, ...gone] };
          }
        }
        metrics.lastRun.set(Date.now() / 1000);
        if (failing) log.info("publishing recovered");
        failing = false;
        return summary;
      } catch (err) {
        if (!failing) log.warn({ err }, "publishing run failed; retrying at the next tick");
        failing = true;
        return undefined;
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  const job = schedule.scheduleJob(config.schedule, () => void tick());
  // readPublisherConfig checked the rule; null here would mean a publisher that runs once.
  if (job === null) throw new Error(`node-schedule refused the schedule "${config.schedule}"`);
  lifecycle.add("schedule", job, async (j) => {
    j.cancel();
    await running;
    await attendanceRunning;
    await lastRegistersRun;
  });
  // A Redis that comes back may have come back empty: a run checks every poll's version and
  // republishes what is missing, so run now instead of waiting for the next tick.
  redis.on("ready", () => void tick());
  void tick();
  log.info({ schedule: config.schedule, metricsPort }, "result publisher started");
  return {
    leadership,
    metrics,
    metricsPort,
    charts,
    tick,
    attendanceRun: () => lastAttendanceRun,
    registersRun: () => lastRegistersRun,
  };
}
