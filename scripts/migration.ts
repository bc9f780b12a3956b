import type { WriterConfig } from "../batch-writer/config.ts";
import { ensureWriterResources } from "../batch-writer/consumer.ts";
import { logApplied, type ProvisionResult } from "../common/jetstream-settings.ts";
import type { Logger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { closeNats, connectNats, type NatsConnection } from "../common/nats.ts";
import { createPool, ensureDatabase } from "../common/postgres.ts";

// The migration: the one place that creates the schema and sets JetStream's settings (the
// votes stream, the writers' durable consumer, the MaxDeliver capture and its consumer).
// `npm run migrate` and `npm start` run it before any service; the services only create
// what is missing and warn about settings that differ (common/jetstream-settings.ts).

/** Creates or updates everything the writers use in JetStream; logs each setting it changed. */
export async function migrateJetStream(
  nc: NatsConnection,
  config: WriterConfig,
  logger: Logger,
): Promise<ProvisionResult> {
  const { created, drift } = await ensureWriterResources(nc, config, "apply");
  if (created.length > 0) logger.info({ created }, "JetStream resources created");
  logApplied(logger, drift);
  return { created, drift };
}

/**
 * Creates the database if missing, applies pending migrations, then provisions JetStream as
 * the migration's NATS user: read `config` with readWriterConfig(env, "migrate").
 */
export async function runMigration(config: WriterConfig, logger: Logger): Promise<void> {
  if (await ensureDatabase(config.databaseUrl)) logger.info("database created");
  const pool = createPool(config.databaseUrl, logger, { max: 1, applicationName: "migrate" });
  try {
    const applied = await migrate(pool, logger);
    logger.info({ applied }, applied === 0 ? "schema is up to date" : "migrations applied");
  } finally {
    await pool.end();
  }
  const nc = await connectNats(config.natsUrl, "migrate", config.natsAuth, logger, {
    firstConnectWaitMs: config.natsConnectWaitMs,
  });
  try {
    const { created, drift } = await migrateJetStream(nc, config, logger);
    if (created.length === 0 && drift.length === 0) logger.info("JetStream is up to date");
  } finally {
    await closeNats(nc);
  }
}
