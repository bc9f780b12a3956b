import { readWriterConfig } from "../batch-writer/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { runMigration } from "./migration.ts";

// `npm run migrate`: creates the database if missing, applies pending migrations, and
// creates or updates the JetStream stream and consumers. It reads the writer's settings
// (the consumer's are among them), so run it with the environment the services get.
const config = configOrExit(() => readWriterConfig(process.env));
const logger = createLogger(config.logLevel, { service: "migrate" });
try {
  await runMigration(config, logger);
} catch (err) {
  logger.fatal({ err }, "migration failed");
  process.exitCode = 1;
}
