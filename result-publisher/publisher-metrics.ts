import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { createMetricsRegistry } from "../common/metrics.ts";

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
  renderDuration: Histogram;
  leader: Gauge;
}

export function createPublisherMetrics(): PublisherMetrics {
  const registry = createMetricsRegistry("result-publisher");
  return {
    registry,
    runs: new Counter({
      name: "tallyflow_publisher_runs_total",
      help: "Scheduled runs completed as leader",
      registers: [registry],
    }),
    published: new Counter({
      name: "tallyflow_publisher_publications_total",
      help: "Poll results published (JSON + version + announcement; charts are drawn apart)",
      registers: [registry],
    }),
    renderFailures: new Counter({
      name: "tallyflow_publisher_render_failures_total",
      help: "Charts that failed to render (the JSON is published regardless)",
      registers: [registry],
    }),
    chartsStored: new Counter({
      name: "tallyflow_publisher_charts_stored_total",
      help: "PNGs drawn by this process and stored beside the JSON of the same version",
      registers: [registry],
    }),
    chartsStale: new Counter({
      name: "tallyflow_publisher_charts_stale_total",
      help: "PNGs drawn by this process and dropped: a newer version was published meanwhile",
      registers: [registry],
    }),
    chartJobsQueued: new Counter({
      name: "tallyflow_publisher_chart_jobs_queued_total",
      help: "Charts queued by the leader for polls being read (CHART_RENDER=all: every changed poll)",
      registers: [registry],
    }),
    registryReloads: new Counter({
      name: "tallyflow_publisher_registry_reloads_total",
      help: "Full reads of the poll registry (at start, after a registry change or a lost LISTEN)",
      registers: [registry],
    }),
    resultsLost: new Counter({
      name: "tallyflow_publisher_results_lost_total",
      help: "Published polls found missing or changed in Redis (Redis restarted empty), republished in the same run",
      registers: [registry],
    }),
    rollupRowsRead: new Counter({
      name: "tallyflow_publisher_rollup_rows_read_total",
      help: "Rollup rows read from Postgres (full loads after start, then only changed rows)",
      registers: [registry],
    }),
    runDuration: new Histogram({
      name: "tallyflow_publisher_run_duration_seconds",
      help: "Duration of one publishing run",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    renderDuration: new Histogram({
      name: "tallyflow_publisher_render_duration_seconds",
      help: "Chart render + PNG encode time per poll",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    }),
    leader: new Gauge({
      name: "tallyflow_publisher_is_leader",
      help: "1 when this process holds the publisher lock",
      registers: [registry],
    }),
  };
}
