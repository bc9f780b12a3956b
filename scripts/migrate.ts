import { readCommonConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, ensureDatabase } from "../common/postgres.ts";
import { readCli } from "./cli.ts";

// `npm run migrate`: creates the database if missing and applies pending migrations.
readCli(
  {
    usage: `usage: npm run migrate
  creates the database if missing and applies pending migrations (sql/migrations/)
env: DATABASE_URL, LOG_LEVEL`,
    options: {},
  },
  () => undefined,
);
const config = configOrExit(() => readCommonConfig(process.env));
const logger = createLogger(config.logLevel, { service: "migrate" });
if (await ensureDatabase(config.databaseUrl)) logger.info("database created");
const pool = createPool(config.databaseUrl, logger, { max: 1, applicationName: "migrate" });
try {
  const applied = await migrate(pool, logger);
  logger.info({ applied }, applied === 0 ? "schema is up to date" : "migrations applied");
} finally {
  await pool.end();
}
