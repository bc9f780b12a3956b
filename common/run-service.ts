import { ConfigError } from "./errors.ts";
import { exitOnSignals, Lifecycle } from "./lifecycle.ts";
import { createLogger } from "./logger.ts";
import { configOrExit } from "./main-guard.ts";

/**
 * The entry point of a service process: read its config (exit 2 naming a bad variable),
 * log as `service`, close everything in order on SIGINT/SIGTERM, exit 1 if start fails
 * (2 if a setting proved wrong only once connected).
 */
export async function runService<C extends { logLevel: string; shutdownDeadlineMs: number }>(
  service: string,
  readConfig: () => C,
  start: (
    config: C,
    logger: ReturnType<typeof createLogger>,
    lifecycle: Lifecycle,
  ) => Promise<unknown>,
): Promise<void> {
  const config = configOrExit(readConfig);
  const logger = createLogger(config.logLevel, { service });
  const lifecycle = new Lifecycle(logger);
  exitOnSignals(lifecycle, logger, config.shutdownDeadlineMs);
  try {
    await start(config, logger, lifecycle);
  } catch (err) {
    logger.fatal({ err }, `${service} failed to start`);
    await lifecycle.close(2_000);
    // A setting checked only against a dependency (e.g. MAX_MESSAGE_BYTES against the NATS
    // server's max_payload) is still a configuration error: the same exit code as at start.
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
}
