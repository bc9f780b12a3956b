import { runService } from "../common/run-service.ts";
import { readWriterConfig } from "./config.ts";
import { startBatchWriter } from "./service.ts";

// `npm run start:writer`: one batch writer process; run as many as you like, they share
// the durable consumer.
await runService("batch-writer", () => readWriterConfig(), startBatchWriter);
