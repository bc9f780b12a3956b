import { readFileSync } from "node:fs";
import type { Logger } from "../../common/logger.ts";
import type { HttpExposureConfig } from "./http-config.ts";

/** Descriptors kept for everything but client connections: pools, NATS, Redis, files. */
export const DESCRIPTOR_RESERVE = 500;

/** The soft "Max open files" of /proc/<pid>/limits; undefined when unlimited or unknown. */
export function openFilesLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  return match && match[1] !== "unlimited" ? Number(match[1]) : undefined;
}

/**
 * A WARN at start when the connection caps do not fit the process's descriptor limit:
 * then the limit, not the caps, decides who is refused, and streams can starve votes
 * (20,000 SSE clients once took every descriptor). A warning, not a failure: the limit
 * is known only on Linux and an operator may accept it.
 */
export function checkDescriptorBudget(
  config: Pick<HttpExposureConfig, "httpMaxConnections" | "sseMaxClients">,
  logger: Logger,
  limitsText: string | undefined = readLimits(),
): void {
  const limit = limitsText === undefined ? undefined : openFilesLimit(limitsText);
  if (limit === undefined) return;
  const budget = limit - DESCRIPTOR_RESERVE;
  const { httpMaxConnections, sseMaxClients } = config;
  if (httpMaxConnections === 0 || httpMaxConnections > budget)
    logger.warn(
      { openFilesLimit: limit, httpMaxConnections, sseMaxClients, reserve: DESCRIPTOR_RESERVE },
      `HTTP_MAX_CONNECTIONS should be at most ${budget} (ulimit -n ${limit} minus ${DESCRIPTOR_RESERVE} for Postgres, NATS, Redis and files)`,
    );
}

function readLimits(): string | undefined {
  try {
    return readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
}
