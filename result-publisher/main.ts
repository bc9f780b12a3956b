import { exitOnSignals, Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { readPublisherConfig } from "./config.ts";
import { startResultPublisher } from "./service.ts";

// `npm run start:publisher`: run one or more; one leads (advisory lock), the rest stand by.
const config = configOrExit(() => readPublisherConfig());
const logger = createLogger(config.logLevel, { service: "result-publisher" });
const lifecycle = new Lifecycle(logger);
exitOnSignals(lifecycle, logger, config.shutdownDeadlineMs);
try {
  await startResultPublisher(config, logger, lifecycle);
} catch (err) {
  logger.fatal({ err }, "result publisher failed to start");
  await lifecycle.close(2_000);
  process.exit(1);
}
