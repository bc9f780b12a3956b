import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import { addPool, type Pool } from "./postgres.ts";

/**
 * What every service opens first: its logger (each line names the service as its
 * component) and its Postgres pool, named after the service in pg_stat_activity. Added to
 * the lifecycle first, the pool is closed last, after everything that may still use it.
 */
export function openServiceBase(
  service: string,
  config: { databaseUrl: string; pgQueryTimeoutMs: number; pgKeepAliveMs: number },
  poolSize: number,
  logger: Logger,
  lifecycle: Lifecycle,
): { log: Logger; pool: Pool } {
  const log = logger.child({ component: service });
  const pool = addPool(lifecycle, config.databaseUrl, log, {
    max: poolSize,
    applicationName: service,
    queryTimeoutMs: config.pgQueryTimeoutMs,
    keepAliveMs: config.pgKeepAliveMs,
  });
  return { log, pool };
}
