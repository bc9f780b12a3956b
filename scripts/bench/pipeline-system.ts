import { rm } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../../common/logger.ts";
import { migrate } from "../../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../../common/postgres.ts";
import { connectRedis } from "../../common/redis.ts";
import {
  type NodeChild,
  startNode,
  stopChild,
  waitUntilReady,
} from "../../harness/child-processes.ts";
import { freePort } from "../../harness/ports.ts";
import { PIPELINE } from "./pipeline-options.ts";
import { pidsByComm } from "./proc-stats.ts";
import { unlinkKeysUnder } from "./run-cleanup.ts";

// The system under test of the whole-pipeline bench: ingest API(s), batch writer(s) and
// the result publisher as processes of their own, on the bench's database, stream and
// Redis prefix, which resetWorld empties first.

export interface System {
  /** The API base URLs, comma-separated (the simulator spreads its kiosks over them). */
  apiUrl: string;
  /** Our processes and the shared servers', by name, for CPU and memory accounting. */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

const logger = createLogger("warn");

/** The services' environment: the bench's names, metrics ports off. */
export function serviceEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: PIPELINE.databaseUrl,
    NATS_URL: PIPELINE.natsUrl,
    REDIS_URL: PIPELINE.redisUrl,
    STREAM_NAME: PIPELINE.stream,
    SUBJECT_PREFIX: PIPELINE.subjectPrefix,
    CONSUMER_NAME: PIPELINE.consumer,
    REDIS_KEY_PREFIX: PIPELINE.redisKeyPrefix,
    ADMIN_TOKEN: PIPELINE.adminToken,
    API_METRICS_PORT: "0",
    WRITER_METRICS_PORT: "0",
    PUBLISHER_METRICS_PORT: "0",
    LOG_LEVEL: "warn",
    ...extra,
  };
}

/** A fresh migrated database, no stream, no keys under the prefix, no kiosk file. */
export async function resetWorld(): Promise<void> {
  await dropDatabase(PIPELINE.databaseUrl);
  await ensureDatabase(PIPELINE.databaseUrl);
  const pool = createPool(PIPELINE.databaseUrl, logger, { max: 1 });
  await migrate(pool, logger);
  await pool.end();
  const nc = await connect({ servers: PIPELINE.natsUrl });
  const jsm = await jetstreamManager(nc);
  for (const s of [PIPELINE.stream, `${PIPELINE.stream}_MAXDELIVER`])
    await jsm.streams.delete(s).catch(() => false);
  await nc.close();
  const redis = await connectRedis(PIPELINE.redisUrl, logger, "bench");
  await unlinkKeysUnder(redis, PIPELINE.redisKeyPrefix);
  await redis.close();
  await rm(PIPELINE.kioskFile, { force: true });
}

/** Starts `ingests` APIs, `writers` writers and one publisher; resolves once all are up. */
export async function startSystem(ingests: number, writers: number): Promise<System> {
  // Several ingest APIs listen on ports of their own; the simulator spreads its kiosks
  // over them as a load balancer would.
  const apis: NodeChild[] = [];
  const urls: string[] = [];
  for (let i = 0; i < ingests; i++) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const child = startNode(
      `ingest${ingests > 1 ? i + 1 : ""}`,
      ["ingest-api/main.ts"],
      serviceEnv({ PORT: String(port) }),
    );
    await waitUntilReady(child, `${url}/readyz`, 60_000);
    apis.push(child);
    urls.push(url);
  }
  const writerChildren = Array.from({ length: writers }, (_, i) =>
    startNode(`writer${writers > 1 ? i + 1 : ""}`, ["batch-writer/main.ts"], serviceEnv({})),
  );
  const publisher = startNode("publisher", ["result-publisher/main.ts"], serviceEnv({}));
  // The writer has created its consumer when it shows up in JetStream.
  const nc = await connect({ servers: PIPELINE.natsUrl });
  const jsm = await jetstreamManager(nc);
  for (let i = 0; ; i++) {
    if (await jsm.consumers.info(PIPELINE.stream, PIPELINE.consumer).catch(() => undefined)) break;
    if (i > 300) throw new Error("the writer did not create its consumer within 30 s");
    await sleep(100);
  }
  await nc.close();
  const children = [...apis, ...writerChildren, publisher];
  const pids: Record<string, number> = {};
  for (const c of children) pids[c.name] = c.pid;
  const nats = pidsByComm("nats-server")[0];
  const redis = pidsByComm("redis-server")[0];
  if (nats) pids["nats-server"] = nats;
  if (redis) pids["redis-server"] = redis;
  return {
    apiUrl: urls.join(","),
    pids,
    async stop() {
      for (const c of children) await stopChild(c);
    },
  };
}
