import { readWriterConfig, type WriterConfig } from "../batch-writer/config.ts";
import { type RunningWriter, startBatchWriter } from "../batch-writer/service.ts";
import { Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import type { IngestHarness } from "./ingest.ts";
import { type EnvVars, pipelineWriterEnv } from "./service-env.ts";

export interface InProcessWriter extends RunningWriter {
  config: WriterConfig;
  /** Graceful stop: the batch in hand commits and is acked, then everything closes. */
  close(): Promise<void>;
}

/** readWriterConfig + Lifecycle + startBatchWriter, as batch-writer/main.ts does. */
export async function startWriterInProcess(env: EnvVars): Promise<InProcessWriter> {
  const config = readWriterConfig(env);
  const logger = createLogger(config.logLevel, { service: "batch-writer" });
  const lifecycle = new Lifecycle(logger);
  try {
    const running = await startBatchWriter(config, logger, lifecycle);
    return { ...running, config, close: () => lifecycle.close(config.shutdownDeadlineMs) };
  } catch (err) {
    await lifecycle.close(2_000);
    throw err;
  }
}

/** The batch writer in this process, on the harness's stream, with a consumer of this file's own. */
export function startPipelineWriter(h: IngestHarness): Promise<InProcessWriter> {
  return startWriterInProcess(pipelineWriterEnv(h.names, h.db.url, h.config.natsUrl));
}

/** The writer's rows counter for one outcome (inserted, duplicate, conflict…); 0 before any. */
export async function writerRows(writer: RunningWriter, outcome: string): Promise<number> {
  const metric = await writer.metrics.rows.get();
  return metric.values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
}
