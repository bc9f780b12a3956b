import { jetstream } from "@nats-io/jetstream";
import { JetStreamHealer } from "../common/jetstream-heal.ts";
import { warnDrift } from "../common/jetstream-settings.ts";
import type { Lifecycle } from "../common/lifecycle.ts";
import type { Logger } from "../common/logger.ts";
import { addMetricsServer } from "../common/metrics-server.ts";
import { addNats } from "../common/nats.ts";
import { openServiceBase } from "../common/service-base.ts";
import type { WriterConfig } from "./config.ts";
import { ensureWriterResources } from "./consumer.ts";
import { MaxDeliveriesMover } from "./max-deliveries.ts";
import { registersOutliveEvents } from "./register-retention.ts";
import { BatchWriter } from "./writer.ts";
import { consumerLag, createWriterMetrics, type WriterMetrics } from "./writer-metrics.ts";

export interface RunningWriter {
  writer: BatchWriter;
  metrics: WriterMetrics;
  metricsPort: number | undefined;
}

/**
 * Connects, checks the stream, the shared durable consumer and the max-deliveries capture
 * against this writer's configuration (creating what is missing, now and whenever JetStream
 * reports it missing; warning about what differs), then
 * starts the loops. Closers run in reverse: loops stop (the batch in hand
 * commits and is acked), metrics server, NATS drain, then the pool.
 */
export async function startBatchWriter(
  config: WriterConfig,
  logger: Logger,
  lifecycle: Lifecycle,
): Promise<RunningWriter> {
  const service = "batch-writer";
  const { log, pool } = openServiceBase(service, config, config.pgPoolSize, logger, lifecycle);
  let healer: JetStreamHealer | undefined;
  // A server we reconnect to may be a new one, without our stream and consumers.
  const nc = await addNats(lifecycle, config, service, log, (up) => {
    if (up) void healer?.check();
  });
  // `npm run migrate` owns these settings: a writer creates only what is missing and warns
  // about any setting that differs from its own environment.
  const { jsm, drift } = await ensureWriterResources(nc, config, "check");
  warnDrift(log, drift);
  healer = new JetStreamHealer(
    "writer's stream and consumers",
    async () => (await ensureWriterResources(nc, config, "check")).created,
    config.jetstreamHealIntervalMs,
    log,
  );
  const js = jetstream(nc);

  const metrics = createWriterMetrics(() =>
    consumerLag(jsm, config.streamName, config.consumerName),
  );
  const metricsPort = await addMetricsServer(lifecycle, metrics.registry, config, {
    pool,
    connected: () => !nc.isClosed(),
  });

  const mover = new MaxDeliveriesMover({ pool, js, jsm, config, logger: log, metrics, healer });
  mover.start();
  lifecycle.add("max-deliveries-mover", mover, (m) => m.stop());
  const writer = new BatchWriter({ pool, nc, js, config, logger: log, metrics, healer });
  writer.start();
  lifecycle.add("batch-writer", writer, (w) => w.stop());
  log.info(
    { consumer: config.consumerName, stream: config.streamName, metricsPort },
    "batch writer started",
  );
  const outlive = registersOutliveEvents(config);
  if (outlive !== undefined) log.warn(outlive);
  return { writer, metrics, metricsPort };
}
