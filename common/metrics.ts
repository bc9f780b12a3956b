import { collectDefaultMetrics, Registry } from "prom-client";

/** A registry per service instance (tests run several in one process), with process metrics. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: "tallyflow_" });
  return registry;
}
