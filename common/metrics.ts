import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * prom-client's default gauges whose names end in `_total`, which Prometheus keeps for
 * counters (`promtool check metrics` flags them). Each is the sum of the gauge of the same
 * name without `_total`, labelled by type, which stays: `sum(tallyflow_nodejs_active_handles)`.
 */
const GAUGES_NAMED_AS_COUNTERS = [
  "tallyflow_nodejs_active_handles_total",
  "tallyflow_nodejs_active_requests_total",
  "tallyflow_nodejs_active_resources_total",
];

/** A registry per service instance (tests run several in one process), with process metrics. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "tallyflow_" });
  for (const name of GAUGES_NAMED_AS_COUNTERS) registry.removeSingleMetric(name);
  return registry;
}

// Every metric is registered in its service's registry only (never prom-client's global
// one), so that several services in one test process do not share or clash on names.

export function counter<L extends string = string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter<L>({ name, help, labelNames, registers: [registry] });
}

export function histogram(
  registry: Registry,
  name: string,
  help: string,
  buckets: number[],
): Histogram {
  return new Histogram({ name, help, buckets, registers: [registry] });
}

export function gauge(registry: Registry, name: string, help: string): Gauge {
  return new Gauge({ name, help, registers: [registry] });
}

/** The 1-2.5-5 ladder, in seconds: evenly spaced on a log scale, from 1 ms to 100 s. */
const SECONDS_LADDER = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100,
];

/**
 * Buckets of a duration histogram: the steps of the 1-2.5-5 ladder from `fromS` to `toS`
 * (both included), so that every service's latencies are cut at the same points.
 */
export function secondsBuckets(fromS: number, toS: number): number[] {
  return SECONDS_LADDER.filter((s) => s >= fromS && s <= toS);
}
