import { Counter, Gauge, type Registry } from "prom-client";
import type { ResultsCache } from "./results-cache.ts";

/**
 * What the in-process results copy holds and how often it asks Redis: fetches should
 * follow publications (one per poll and version per process), not reads.
 */
export function registerResultsCacheMetrics(registry: Registry, results: ResultsCache): void {
  new Gauge({
    name: "tallyflow_results_cache_polls",
    help: "Polls whose current publication the API holds in memory",
    registers: [registry],
    collect() {
      this.set(results.size);
    },
  });
  new Gauge({
    name: "tallyflow_results_cache_bytes",
    help: "JSON and PNG bytes of the publications held in memory",
    registers: [registry],
    collect() {
      this.set(results.bytes);
    },
  });
  new Counter({
    name: "tallyflow_results_cache_fetches_total",
    help: "Publications fetched from Redis into the in-process copy",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(results.fetches);
    },
  });
}
