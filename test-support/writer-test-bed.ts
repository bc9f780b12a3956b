import assert from "node:assert/strict";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { readWriterConfig, type WriterConfig } from "../batch-writer/config.ts";
import { ensureWriterResources } from "../batch-writer/consumer.ts";
import { JetStreamHealer } from "../common/jetstream-heal.ts";
import { createLogger } from "../common/logger.ts";
import { killChildren } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { type TestNames, testNames } from "./names.ts";
import { type EnvVars, LOG_LEVEL, writerEnv } from "./service-env.ts";
import { countVotes, insertPoll } from "./stored-votes.ts";
import { deleteStreams } from "./streams.ts";

// A writer test file's world: its database, the votes stream, the writers' durable
// consumer and the max-deliveries capture, and the NATS connection to publish with.

export interface WriterTestBed {
  names: TestNames;
  db: TestDatabase;
  env: EnvVars;
  config: WriterConfig;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  /** Re-provisions this bed's stream and consumers, as a writer process does. */
  healer: JetStreamHealer;
  /** Messages of the writers' consumer not yet acked (undelivered + delivered, unacked). */
  pending(): Promise<number>;
  /** Kills child processes, deletes the streams, closes NATS and drops the database. */
  close(): Promise<void>;
}

/**
 * A fresh database, the votes stream, the writers' durable consumer and the max-deliveries
 * capture, all named for this test file only, so votes can be published before a writer runs.
 */
export async function createWriterTestBed(extra: EnvVars = {}): Promise<WriterTestBed> {
  const names = testNames();
  const db = await createTestDatabase(names.database);
  const env = writerEnv(names, db.url, extra);
  const config = readWriterConfig(env);
  const nc = await connect({ servers: config.natsUrl, name: "writer-test" });
  const logger = createLogger(LOG_LEVEL, { service: "writer-test" });
  // As in production, the migration (scripts/migration.ts) provisions JetStream before any
  // writer starts: the same call, "apply".
  await ensureWriterResources(nc, config, "apply");
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const healer = new JetStreamHealer(
    "test bed's stream and consumers",
    async () => (await ensureWriterResources(nc, config, "check")).created,
    config.jetstreamHealIntervalMs,
    logger,
  );
  return {
    names,
    db,
    env,
    config,
    nc,
    js,
    jsm,
    healer,
    pending: () => pendingMessages(jsm, config.streamName, config.consumerName),
    async close() {
      await killChildren();
      await deleteStreams(config.natsUrl, [
        config.streamName,
        `${config.streamName}_MAXDELIVER`,
      ]).catch(() => {});
      await nc.close().catch(() => {});
      await db.drop();
    },
  };
}

/** num_pending + num_ack_pending of a consumer: zero once every message has been acked. */
export async function pendingMessages(
  jsm: JetStreamManager,
  stream: string,
  consumer: string,
): Promise<number> {
  const info = await jsm.consumers.info(stream, consumer);
  return info.num_pending + info.num_ack_pending;
}

/** Waits until the consumer has nothing pending and `votes` holds `expected` rows. */
export async function waitForVotes(
  bed: WriterTestBed,
  expected: number,
  timeoutMs = 30_000,
): Promise<void> {
  let last = { pending: -1, votes: -1 };
  try {
    await eventually(
      `${expected} votes stored and nothing pending`,
      async () => {
        last = { pending: await bed.pending(), votes: await countVotes(bed.db.pool) };
        return last.pending === 0 && last.votes >= expected;
      },
      { timeoutMs },
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last seen: ${JSON.stringify(last)})`, {
      cause: err,
    });
  }
  assert.equal(await countVotes(bed.db.pool), expected, "votes stored");
}

/** The kiosk whose votes Postgres refuses in a bed made by createPoisonTestBed. */
export const REFUSED_KIOSK = "quarantined";

/**
 * A test bed with a poll `lunch` (pizza, salad) whose `votes` table refuses every vote of
 * REFUSED_KIOSK with a check violation: a vote that is valid JSON yet can never be stored,
 * as a poison message is, without changing the writer.
 */
export async function createPoisonTestBed(): Promise<WriterTestBed> {
  const bed = await createWriterTestBed();
  await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
  await bed.db.pool.query(
    `alter table votes add constraint test_refuses_kiosk check (kiosk_id <> '${REFUSED_KIOSK}')`,
  );
  return bed;
}
