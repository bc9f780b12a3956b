import { runService } from "../common/run-service.ts";
import { readIngestConfig } from "./config.ts";
import { startIngestApi } from "./service.ts";

// `npm run start:ingest`: the ingest API alone (production-style; run `npm run migrate` first).
await runService("ingest-api", () => readIngestConfig(), startIngestApi);
