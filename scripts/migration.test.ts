import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type JetStreamManager, jetstreamManager } from "@nats-io/jetstream";
import { connect, millis, type NatsConnection } from "@nats-io/transport-node";
import { pino } from "pino";
import { readWriterConfig, type WriterConfig } from "../batch-writer/config.ts";
import { deadLetterStreamName } from "../batch-writer/consumer.ts";
import { startBatchWriter } from "../batch-writer/service.ts";
import { Lifecycle } from "../common/lifecycle.ts";
import { createPool, dropDatabase } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { spawnNode } from "../harness/child-processes.ts";
import { readIngestConfig } from "../ingest-api/config.ts";
import { buildIngestApi } from "../ingest-api/service.ts";
import { createTestDatabase, PG_BASE_URL, type TestDatabase } from "../test-support/database.ts";
import { ADMIN_TOKEN, RATE_LIMITS_OFF } from "../test-support/ingest.ts";
import { type TestNames, testNames } from "../test-support/names.ts";
import { NATS_URL, writerEnv } from "../test-support/service-env.ts";
import { deleteStreams } from "../test-support/streams.ts";
import { migrateJetStream } from "./migration.ts";

// One owner for JetStream's settings: the migration creates and updates them; the API and
// the writer create only what is missing and warn about the rest, changing nothing.

interface LogLine {
  level: number;
  msg: string;
  setting?: string;
  variable?: string;
  configured?: unknown;
  actual?: unknown;
}

/** A logger whose lines are in `lines` as soon as the log call returns (pino writes each
 * line to its destination within the call). */
function capturingLogger() {
  const lines: LogLine[] = [];
  const sink = { write: (line: string) => void lines.push(JSON.parse(line)) };
  return { logger: pino({ level: "info" }, sink), lines };
}

const WARN = 40;
const MB = 1024 * 1024;

/** The drift WARNs logged so far, as [setting, configured, actual]. */
function driftWarnings(lines: LogLine[]): unknown[][] {
  return lines
    .filter((l) => l.level === WARN && l.setting !== undefined)
    .map((l) => [l.setting, l.configured, l.actual]);
}

describe("JetStream settings have one owner: the migration", () => {
  let names: TestNames;
  let db: TestDatabase;
  let env: Record<string, string>;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const silent = pino({ level: "silent" });
  const config = (extra: Record<string, string> = {}): WriterConfig =>
    readWriterConfig({ ...env, ...extra });

  before(async () => {
    names = testNames();
    db = await createTestDatabase(names.database);
    env = writerEnv(names, db.url);
    nc = await connect({ servers: NATS_URL, name: "migration-test" });
    jsm = await jetstreamManager(nc);
  });

  after(async () => {
    await deleteStreams(NATS_URL, [names.streamName, `${names.streamName}_MAXDELIVER`]).catch(
      () => {},
    );
    await nc?.close();
    await db?.drop();
  });

  const streamSettings = async () => {
    const { config: c } = await jsm.streams.info(names.streamName);
    return { duplicateWindowMs: millis(c.duplicate_window), maxBytes: c.max_bytes };
  };
  const maxDeliver = async () =>
    (await jsm.consumers.info(names.streamName, names.consumerName)).config.max_deliver;

  test("migrate creates the stream, the consumer and the MaxDeliver capture, then updates a changed setting", async () => {
    const first = await migrateJetStream(nc, config(), silent);
    assert.deepEqual(first.created, [
      `stream ${names.streamName}`,
      `consumer ${names.consumerName}`,
      `stream ${names.streamName}_MAXDELIVER`,
      `consumer ${names.streamName}_MAXDELIVER/${names.consumerName}`,
    ]);
    assert.deepEqual(await streamSettings(), { duplicateWindowMs: 600_000, maxBytes: -1 });
    assert.equal(await maxDeliver(), 20);
    await jsm.consumers.info(deadLetterStreamName(config()), names.consumerName);

    const changed = config({
      DUPLICATE_WINDOW_MS: "1200000",
      STREAM_MAX_BYTES: String(8 * MB),
      MAX_DELIVER: "7",
    });
    const second = await migrateJetStream(nc, changed, silent);
    assert.deepEqual(second.created, []);
    assert.deepEqual(
      second.drift.map((d) => [d.setting, d.variable, d.configured, d.actual]),
      [
        ["duplicate_window", "DUPLICATE_WINDOW_MS", 1_200_000, 600_000],
        ["max_bytes", "STREAM_MAX_BYTES", 8 * MB, -1],
        ["max_deliver", "MAX_DELIVER", 7, 20],
      ],
    );
    assert.deepEqual(await streamSettings(), { duplicateWindowMs: 1_200_000, maxBytes: 8 * MB });
    assert.equal(await maxDeliver(), 7);
    assert.deepEqual(await migrateJetStream(nc, changed, silent), { created: [], drift: [] });
  });

  test("the API at start warns about each drifting setting and leaves the stream as it is", async () => {
    // The stream now has a 20-minute window and 8 MB; the API is configured with the defaults.
    const { logger, lines } = capturingLogger();
    const lifecycle = new Lifecycle(silent);
    try {
      await buildIngestApi(
        readIngestConfig({
          DATABASE_URL: db.url,
          STREAM_NAME: names.streamName,
          SUBJECT_PREFIX: names.subjectPrefix,
          REDIS_KEY_PREFIX: names.redisKeyPrefix,
          ADMIN_TOKEN,
          API_METRICS_PORT: "0",
          ...RATE_LIMITS_OFF,
        }),
        logger,
        lifecycle,
      );
    } finally {
      await lifecycle.close(5_000);
    }
    assert.deepEqual(driftWarnings(lines), [
      ["duplicate_window", 600_000, 1_200_000],
      ["max_bytes", -1, 8 * MB],
    ]);
    const warn = lines.find((l) => l.setting === "duplicate_window");
    assert.match(warn?.msg ?? "", /DUPLICATE_WINDOW_MS/);
    assert.deepEqual(await streamSettings(), { duplicateWindowMs: 1_200_000, maxBytes: 8 * MB });
    const redis = await connectRedis("redis://127.0.0.1:6379", silent, "test");
    for await (const keys of redis.scanIterator({ MATCH: `${names.redisKeyPrefix}*` }))
      if (keys.length > 0) await redis.unlink(keys);
    await redis.close();
  });

  test("the writer at start warns about the stream's and the consumer's drift and changes neither", async () => {
    const { logger, lines } = capturingLogger();
    const lifecycle = new Lifecycle(silent);
    try {
      await startBatchWriter(config(), logger, lifecycle);
    } finally {
      await lifecycle.close(10_000);
    }
    assert.deepEqual(driftWarnings(lines), [
      ["duplicate_window", 600_000, 1_200_000],
      ["max_bytes", -1, 8 * MB],
      ["max_deliver", 20, 7],
    ]);
    assert.deepEqual(await streamSettings(), { duplicateWindowMs: 1_200_000, maxBytes: 8 * MB });
    assert.equal(await maxDeliver(), 7);
  });

  test("a missing stream and consumers are still created by a service, with its settings", async () => {
    await deleteStreams(NATS_URL, [names.streamName, `${names.streamName}_MAXDELIVER`]);
    const { logger, lines } = capturingLogger();
    const lifecycle = new Lifecycle(silent);
    try {
      await startBatchWriter(config(), logger, lifecycle);
    } finally {
      await lifecycle.close(10_000);
    }
    assert.deepEqual(driftWarnings(lines), [], "nothing drifts in what it created");
    assert.deepEqual(await streamSettings(), { duplicateWindowMs: 600_000, maxBytes: -1 });
    assert.equal(await maxDeliver(), 20);
    await jsm.consumers.info(deadLetterStreamName(config()), names.consumerName);
  });
});

test("`npm run migrate` creates the database, applies the schema and provisions JetStream", async () => {
  const names = testNames();
  const url = `${PG_BASE_URL}/${names.database}`;
  const child = spawnNode("scripts/migrate.ts", [], writerEnv(names, url, { LOG_LEVEL: "info" }));
  try {
    const { code } = await child.exited;
    assert.equal(code, 0, child.output());
    const pool = createPool(url, pino({ level: "silent" }), { max: 1 });
    try {
      const { rows } = await pool.query("select count(*)::int as n from schema_migrations");
      assert.ok(rows[0].n > 0, "migrations recorded");
    } finally {
      await pool.end();
    }
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.info(names.streamName);
      await jsm.consumers.info(names.streamName, names.consumerName);
      await jsm.consumers.info(`${names.streamName}_MAXDELIVER`, names.consumerName);
    } finally {
      await nc.close();
    }
  } finally {
    await deleteStreams(NATS_URL, [names.streamName, `${names.streamName}_MAXDELIVER`]).catch(
      () => {},
    );
    await dropDatabase(url).catch(() => {});
  }
});
