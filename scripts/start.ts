import { readWriterConfig } from "../batch-writer/config.ts";
import { startBatchWriter } from "../batch-writer/service.ts";
import { exitOnSignals, Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { readIngestConfig } from "../ingest-api/config.ts";
import { startIngestApi } from "../ingest-api/service.ts";
import { readPublisherConfig } from "../result-publisher/config.ts";
import { startResultPublisher } from "../result-publisher/service.ts";
import { readCli } from "./cli.ts";
import { runMigration } from "./migration.ts";

// `npm start`: the whole system in one process for development and small deployments.
// Runs the migration first, as `npm run migrate` does (the database, the schema, and the
// JetStream stream and consumers with their settings), starts every service, and prints
// where to look.
readCli(
  {
    usage: `usage: npm start
  the whole system in one process: migrate, then the batch writer, the result publisher
  and the ingest API
env: every service's configuration (docs/configuration.md)`,
    options: {},
  },
  () => undefined,
);
const config = configOrExit(() => readIngestConfig());
const writerConfig = configOrExit(() => readWriterConfig());
const migrateConfig = configOrExit(() => readWriterConfig(process.env, "migrate"));
const publisherConfig = configOrExit(() => readPublisherConfig());
const logger = createLogger(config.logLevel, { service: "tallyflow" });
const lifecycle = new Lifecycle(logger);
exitOnSignals(lifecycle, logger, config.shutdownDeadlineMs);
try {
  await runMigration(migrateConfig, logger.child({ component: "migrate" }));
  // Started first so that it stops last: the API stops taking votes before the writer drains.
  const writer = await startBatchWriter(writerConfig, logger, lifecycle);
  const publisher = await startResultPublisher(publisherConfig, logger, lifecycle);
  const api = await startIngestApi(config, logger, lifecycle);
  const { url } = api;
  const writerMetrics = writer.metricsPort
    ? `http://127.0.0.1:${writer.metricsPort}/metrics`
    : "off (WRITER_METRICS_PORT=0)";
  process.stdout.write(
    [
      "",
      `tallyflow is up: ${url}`,
      `  readiness:      ${url}/readyz`,
      `  API metrics:    ${api.metricsPort ? `http://127.0.0.1:${api.metricsPort}/metrics` : "off (API_METRICS_PORT=0)"}`,
      `  writer metrics: ${writerMetrics}`,
      `  publisher metrics: ${publisher.metricsPort ? `http://127.0.0.1:${publisher.metricsPort}/metrics` : "off"}`,
      `  results:        ${url}/v1/polls/<pollId>/results (.png, /events)`,
      `  admin token:    ${config.adminTokenIsDefault ? `${config.adminToken} (development default)` : "from ADMIN_TOKEN"}`,
      "",
      "",
    ].join("\n"),
  );
} catch (err) {
  logger.fatal({ err }, "tallyflow failed to start");
  await lifecycle.close(2_000);
  process.exit(1);
}
