import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "../../result-publisher/config.ts";
import { ResultsPublisher } from "../../result-publisher/publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";

/**
 * The results publisher the history benches (bench:publisher-memory, bench:history) run in
 * their own process, with the service's defaults, so that its heap can be read after a GC:
 * every chart drawn (the most memory a run can hold), the default distribution window.
 */
export function historyPublisher(
  pool: Pool,
  redis: RedisClient,
  keyPrefix: string,
  logger: Logger,
) {
  return new ResultsPublisher({
    pool,
    redis,
    keyPrefix,
    chartWidth: 800,
    chartHeight: 600,
    distributionWindowHours: DEFAULT_DISTRIBUTION_WINDOW_HOURS,
    chartRender: "all",
    chartDemandTtlMs: 60_000,
    logger,
    metrics: createPublisherMetrics(),
  });
}
