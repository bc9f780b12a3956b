import type { Counter, Gauge, Histogram, Registry } from "prom-client";
import {
  counter,
  createMetricsRegistry,
  gauge,
  histogram,
  secondsBuckets,
} from "../common/metrics.ts";

export interface PublisherMetrics {
  registry: Registry;
  runs: Counter;
  published: Counter;
  renderFailures: Counter;
  chartsStored: Counter;
  chartsStale: Counter;
  chartJobsQueued: Counter;
  registryReloads: Counter;
  resultsLost: Counter;
  rollupRowsRead: Counter;
  runDuration: Histogram;
  attendanceBuilt: Counter;
  attendanceBuiltByPath: Counter<"path">;
  attendancePublished: Counter;
  attendanceLost: Counter;
  attendanceRowsRead: Counter;
  registerRowsRead: Counter;
  registerLost: Counter;
  attendanceOwed: Gauge;
  attendanceRunDuration: Histogram;
  renderDuration: Histogram;
  leader: Gauge;
  /** Unix time (s) the last results run completed as leader: the results are as of then. */
  lastRun: Gauge;
  /** The schedule's interval (s), for "results older than 3 intervals". */
  interval: Gauge;
}

export function createPublisherMetrics(): PublisherMetrics {
  const registry = createMetricsRegistry("result-publisher");
  return {
    registry,
    runs: counter(registry, "tallyflow_publisher_runs_total", "Scheduled runs completed as leader"),
    published: counter(
      registry,
      "tallyflow_publisher_publications_total",
      "Poll results published (JSON + version + announcement; charts are drawn apart)",
    ),
    renderFailures: counter(
      registry,
      "tallyflow_publisher_render_failures_total",
      "Charts that failed to render (the JSON is published regardless)",
    ),
    chartsStored: counter(
      registry,
      "tallyflow_publisher_charts_stored_total",
      "PNGs drawn by this process and stored beside the JSON of the same version",
    ),
    chartsStale: counter(
      registry,
      "tallyflow_publisher_charts_stale_total",
      "PNGs drawn by this process and dropped: a newer version was published meanwhile",
    ),
    chartJobsQueued: counter(
      registry,
      "tallyflow_publisher_chart_jobs_queued_total",
      "Charts queued by the leader for polls being read (CHART_RENDER=all: every changed poll)",
    ),
    registryReloads: counter(
      registry,
      "tallyflow_publisher_registry_reloads_total",
      "Full reads of the poll registry (at start, after a registry change or a lost LISTEN)",
    ),
    resultsLost: counter(
      registry,
      "tallyflow_publisher_results_lost_total",
      "Published polls found missing or changed in Redis (Redis restarted empty), republished in the same run",
    ),
    rollupRowsRead: counter(
      registry,
      "tallyflow_publisher_rollup_rows_read_total",
      "Rollup rows read from Postgres (full loads after start, then only changed rows)",
    ),
    runDuration: histogram(
      registry,
      "tallyflow_publisher_run_duration_seconds",
      "Duration of one publishing run",
      secondsBuckets(0.005, 5),
    ),
    attendanceBuilt: counter(
      registry,
      "tallyflow_publisher_attendance_documents_built_total",
      "School day documents built (a changed day, a roster or rule change, a day ending, one missing in Redis)",
    ),
    attendanceBuiltByPath: counter(
      registry,
      "tallyflow_publisher_attendance_documents_built_by_path_total",
      "School day documents built, by path: kept_today (a school's today kept in memory, brought up to date from the changed rows, no read), today_from_reads (a today built from its roster and rows, kept from then on), earlier_day_from_reads",
      ["path"],
    ),
    attendancePublished: counter(
      registry,
      "tallyflow_publisher_attendance_documents_published_total",
      "School day documents written to Redis and announced (built ones whose version changed)",
    ),
    attendanceLost: counter(
      registry,
      "tallyflow_publisher_attendance_documents_lost_total",
      "School day documents found missing or changed in Redis, rebuilt",
    ),
    attendanceRowsRead: counter(
      registry,
      "tallyflow_publisher_attendance_rows_read_total",
      "Roster and attendance_days rows read to build school day documents",
    ),
    registerRowsRead: counter(
      registry,
      "tallyflow_publisher_register_rows_read_total",
      "Register, register_people, roster and change rows read to find and build lesson register documents",
    ),
    registerLost: counter(
      registry,
      "tallyflow_publisher_register_documents_lost_total",
      "Times the register publisher found its cursor gone from Redis (restarted empty?) and rebuilt every kept register's document",
    ),
    attendanceOwed: gauge(
      registry,
      "tallyflow_publisher_attendance_documents_owed",
      "School day documents to build left for the next runs (ATTENDANCE_MAX_DOCUMENTS_PER_RUN)",
    ),
    attendanceRunDuration: histogram(
      registry,
      "tallyflow_publisher_attendance_run_duration_seconds",
      "Duration of one attendance publishing run",
      secondsBuckets(0.005, 5),
    ),
    renderDuration: histogram(
      registry,
      "tallyflow_publisher_render_duration_seconds",
      "Chart render + PNG encode time per poll",
      secondsBuckets(0.01, 1),
    ),
    leader: gauge(
      registry,
      "tallyflow_publisher_is_leader",
      "1 when this process holds the publisher lock",
    ),
    lastRun: gauge(
      registry,
      "tallyflow_publisher_last_run_timestamp_seconds",
      "Unix time the last results run of this process completed as leader: every published result is as of then at least (0: none yet)",
    ),
    interval: gauge(
      registry,
      "tallyflow_publisher_interval_seconds",
      "Time between two scheduled runs (RESULTS_INTERVAL_MS, or the gap between the next two runs of RESULTS_CRON)",
    ),
  };
}
