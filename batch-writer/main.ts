import { exitOnSignals, Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { readWriterConfig } from "./config.ts";
import { startBatchWriter } from "./service.ts";

// `npm run start:writer`: one batch writer process; run as many as you like, they share
// the durable consumer.
const config = configOrExit(() => readWriterConfig());
const logger = createLogger(config.logLevel, { service: "batch-writer" });
const lifecycle = new Lifecycle(logger);
exitOnSignals(lifecycle, logger, config.shutdownDeadlineMs);
try {
  await startBatchWriter(config, logger, lifecycle);
} catch (err) {
  logger.fatal({ err }, "batch writer failed to start");
  await lifecycle.close(2_000);
  process.exit(1);
}
