import { readWriterConfig } from "../batch-writer/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { readCli } from "./cli.ts";
import { runMigration } from "./migration.ts";

// `npm run migrate`: creates the database if missing, applies pending migrations, and
// creates or updates the JetStream stream and consumers: the one owner of their settings.
readCli(
  {
    usage: `usage: npm run migrate
  creates the database if missing, applies pending migrations (sql/migrations/), and
  creates or updates the JetStream votes stream, the writers' consumer and the MaxDeliver
  capture with their settings (the services only warn when theirs differ)
env: DATABASE_URL, NATS_URL, NATS_MIGRATE_USER, NATS_MIGRATE_PASSWORD, LOG_LEVEL, and the
  stream and consumer settings: the writer's configuration (docs/configuration.md:
  "migrate"); give it the services' env`,
    options: {},
  },
  () => undefined,
);
const config = configOrExit(() => readWriterConfig(process.env, "migrate"));
const logger = createLogger(config.logLevel, { service: "migrate" });
try {
  await runMigration(config, logger);
} catch (err) {
  logger.fatal({ err }, "migration failed");
  process.exitCode = 1;
}
