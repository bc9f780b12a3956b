import { exitOnSignals, Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { readIngestConfig } from "./config.ts";
import { startIngestApi } from "./service.ts";

// `npm run start:ingest`: the ingest API alone (production-style; run `npm run migrate` first).
const config = configOrExit(() => readIngestConfig());
const logger = createLogger(config.logLevel, { service: "ingest-api" });
const lifecycle = new Lifecycle(logger);
exitOnSignals(lifecycle, logger, config.shutdownDeadlineMs);
try {
  await startIngestApi(config, logger, lifecycle);
} catch (err) {
  logger.fatal({ err }, "ingest API failed to start");
  await lifecycle.close(2_000);
  process.exit(1);
}
