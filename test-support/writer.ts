import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  type AddressInfo,
  connect as connectTcp,
  createServer,
  type Server,
  type Socket,
} from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  type PubAck,
} from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import { readWriterConfig, type WriterConfig } from "../batch-writer/config.ts";
import { ensureWriterResources } from "../batch-writer/consumer.ts";
import { type RunningWriter, startBatchWriter } from "../batch-writer/service.ts";
import { JetStreamHealer } from "../common/jetstream-heal.ts";
import { Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { migrateJetStream } from "../scripts/migration.ts";
import { metricSample } from "./api.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { type TestNames, testNames } from "./names.ts";
import { deleteStreams } from "./streams.ts";

// Helpers for the batch writer's tests: the environment a writer runs with, the writer
// in this process or as a child process, publishing votes straight to JetStream, and the
// checks every writer test ends with (nothing pending, rollups equal to the raw votes).

export const ROOT = join(import.meta.dirname, "..");
export const NATS_URL = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "silent";

export type WriterEnv = Record<string, string>;

/** The writer's environment for one test file: its own names, small timings. */
export function writerEnv(names: TestNames, databaseUrl: string, extra: WriterEnv = {}): WriterEnv {
  return {
    DATABASE_URL: databaseUrl,
    NATS_URL,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    CONSUMER_NAME: names.consumerName,
    ACK_WAIT_MS: "2000",
    REDELIVERY_BACKOFF_MS: "1000",
    BATCH_LINGER_MS: "1000",
    RETRY_MIN_MS: "50",
    RETRY_MAX_MS: "500",
    WRITER_METRICS_PORT: "0",
    PG_POOL_SIZE: "4",
    SHUTDOWN_DEADLINE_MS: "10000",
    LOG_LEVEL,
    ...extra,
  };
}

// --- the writer in this process -------------------------------------------------------

export interface InProcessWriter extends RunningWriter {
  config: WriterConfig;
  /** Graceful stop: the batch in hand commits and is acked, then everything closes. */
  close(): Promise<void>;
}

/** readWriterConfig + Lifecycle + startBatchWriter, as batch-writer/main.ts does. */
export async function startWriterInProcess(env: WriterEnv): Promise<InProcessWriter> {
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

// --- the writer as a child process ----------------------------------------------------

export interface WriterChild {
  process: ChildProcess;
  /** The last 64 KB of the child's stdout and stderr, for failure messages. */
  output(): string;
  /** Resolves with the exit code (or the signal) once the child has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

// A test process that dies (an uncaught failure, a timeout) must not leave writers behind.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** Environment for a child process: this process's (PATH, HOME) minus the test runner's. */
export function childEnv(env: WriterEnv): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.NODE_TEST_CONTEXT;
  delete base.NODE_OPTIONS;
  return { ...base, ...env };
}

/** `node <script> args...` from the repository root, tracked so that killChildren() ends it. */
export function spawnNode(script: string, args: string[], env: WriterEnv): WriterChild {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return { process: child, output: () => output, exited };
}

/** `node batch-writer/main.ts` with this environment. */
export function spawnWriter(env: WriterEnv): WriterChild {
  return spawnNode("batch-writer/main.ts", [], env);
}

/** SIGKILL, and wait until the process is gone. */
export async function killWriter(child: WriterChild): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill("SIGKILL");
  await child.exited;
}

/** SIGTERM (graceful shutdown) and the exit it led to; SIGKILL if it takes over `timeoutMs`. */
export async function stopWriter(
  child: WriterChild,
  timeoutMs = 20_000,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill("SIGTERM");
  const timer = setTimeout(() => child.process.kill("SIGKILL"), timeoutMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Kills every child process still running (for `after` hooks: runs even when a test failed). */
export async function killChildren(): Promise<void> {
  const running = [...children];
  await Promise.all(
    running.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/** `node scripts/dlq.ts args...`: its exit code and output. */
export async function runDlq(
  env: WriterEnv,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ["scripts/dlq.ts", ...args], {
    cwd: ROOT,
    env: childEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (c: Buffer) => {
    stdout += c.toString("utf8");
  });
  child.stderr.on("data", (c: Buffer) => {
    stderr += c.toString("utf8");
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const code = await new Promise<number | null>((resolve) =>
    child.once("close", (c) => resolve(c)),
  );
  clearTimeout(timer);
  children.delete(child);
  return { code, stdout, stderr };
}

/** GET /metrics of a writer and one sample from it (0 when the sample does not exist yet). */
export async function scrapeMetric(
  port: number,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return metricSample(await res.text(), name, labels) ?? 0;
}

// --- a test file's world: database, stream, consumer, NATS connection -----------------

export interface WriterTestBed {
  names: TestNames;
  db: TestDatabase;
  env: WriterEnv;
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
export async function createWriterTestBed(extra: WriterEnv = {}): Promise<WriterTestBed> {
  const names = testNames();
  const db = await createTestDatabase(names.database);
  const env = writerEnv(names, db.url, extra);
  const config = readWriterConfig(env);
  const nc = await connect({ servers: config.natsUrl, name: "writer-test" });
  const logger = createLogger(LOG_LEVEL, { service: "writer-test" });
  // As in production, the migration provisions JetStream before any writer starts.
  await migrateJetStream(nc, config, logger);
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

// --- votes ---------------------------------------------------------------------------

export interface VoteSpec {
  pollId: string;
  optionId: string;
  kioskId?: string;
  voterId?: string;
  /** Default: now. */
  castAt?: Date | string;
  eventId?: string;
}

/** A StoredVote as the ingest API publishes it: UUIDv7 event id, ISO timestamps. */
export function makeVote(spec: VoteSpec): StoredVote {
  const castAt =
    spec.castAt === undefined
      ? new Date().toISOString()
      : typeof spec.castAt === "string"
        ? spec.castAt
        : spec.castAt.toISOString();
  const vote: StoredVote = {
    eventId: spec.eventId ?? uuidv7(),
    pollId: spec.pollId,
    optionId: spec.optionId,
    kioskId: spec.kioskId ?? "kiosk-1",
    castAt,
    receivedAt: new Date().toISOString(),
  };
  if (spec.voterId !== undefined) vote.voterId = spec.voterId;
  return vote;
}

/**
 * Publishes one vote message (all votes of one poll) with JetStream's publish, as the
 * ingest API does. msgID defaults to a fresh UUID, so the same votes can be sent again as
 * a different message (a resend beyond the duplicate window).
 */
export function publishVotes(
  js: JetStreamClient,
  subjectPrefix: string,
  votes: StoredVote[],
  msgId: string = uuidv7(),
): Promise<PubAck> {
  const pollId = votes[0]?.pollId;
  assert.ok(pollId !== undefined, "a vote message needs at least one vote");
  assert.ok(
    votes.every((v) => v.pollId === pollId),
    "a vote message carries the votes of one poll",
  );
  return js.publish(voteSubject(subjectPrefix, pollId), encodeVoteMessage(votes), { msgID: msgId });
}

/** Publishes raw bytes on a poll's subject (poison messages). */
export function publishRaw(
  js: JetStreamClient,
  subjectPrefix: string,
  pollId: string,
  data: Uint8Array | string,
): Promise<PubAck> {
  return js.publish(voteSubject(subjectPrefix, pollId), data, { msgID: uuidv7() });
}

/** Publishes many messages, `concurrency` publishes in flight at a time. */
export async function publishMany(
  js: JetStreamClient,
  subjectPrefix: string,
  messages: StoredVote[][],
  concurrency = 200,
): Promise<void> {
  for (let start = 0; start < messages.length; start += concurrency) {
    const acks = await Promise.all(
      messages
        .slice(start, start + concurrency)
        .map((votes) => publishVotes(js, subjectPrefix, votes)),
    );
    for (const ack of acks) assert.equal(ack.duplicate, false);
  }
}

/** Inserts a poll and its options straight into the registry tables. */
export async function insertPoll(
  pool: Pool,
  id: string,
  options: string[],
  { oneVotePerVoter = false }: { oneVotePerVoter?: boolean } = {},
): Promise<void> {
  await pool.query("insert into polls (id, title, one_vote_per_voter) values ($1, $2, $3)", [
    id,
    `Poll ${id}`,
    oneVotePerVoter,
  ]);
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select $1, o, 'Option ' || o, n from unnest($2::text[]) with ordinality as t(o, n)`,
    [id, options],
  );
}

// --- waiting and checking ------------------------------------------------------------

/**
 * Polls `probe` until it returns true, or fails after `timeoutMs` naming `what` and the
 * last error. For conditions that become true eventually, never for measuring speed.
 */
export async function waitUntil(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 20_000,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline)
      throw new Error(`not within ${timeoutMs} ms: ${what}`, { cause: lastError });
    await sleep(intervalMs);
  }
}

/** One number from a query (`select count(*) ...`). */
export async function queryNumber(
  pool: Pool,
  sql: string,
  params: unknown[] = [],
): Promise<number> {
  const { rows } = await pool.query<Record<string, unknown>>(sql, params);
  const value = Object.values(rows[0] ?? {})[0];
  return Number(value);
}

export const countVotes = (pool: Pool) => queryNumber(pool, "select count(*) from votes");

/**
 * Asserts every vote_rollups bucket equals the raw count of its votes (and no bucket is
 * missing or extra). Returns the total number of votes counted.
 */
export async function assertRollupsMatchVotes(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{
    poll_id: string;
    option_id: string;
    bucket_start: Date;
    rollup: number | null;
    raw: number | null;
  }>(`
    with raw as (
      select poll_id, option_id,
             date_bin('10 minutes', cast_at, timestamptz '2000-01-01 00:00:00+00') as bucket_start,
             count(*) as n
      from votes group by 1, 2, 3)
    select coalesce(r.poll_id, v.poll_id) as poll_id,
           coalesce(r.option_id, v.option_id) as option_id,
           coalesce(r.bucket_start, v.bucket_start) as bucket_start,
           r.count as rollup, v.n as raw
    from vote_rollups r
    full join raw v
      on v.poll_id = r.poll_id and v.option_id = r.option_id and v.bucket_start = r.bucket_start
    where r.count is distinct from v.n
    order by 1, 2, 3`);
  assert.deepEqual(rows, [], "vote_rollups buckets that differ from the raw votes");
  const total = await queryNumber(pool, "select coalesce(sum(count), 0) from vote_rollups");
  assert.equal(total, await countVotes(pool));
  return total;
}

/** Waits until the consumer has nothing pending and `votes` holds `expected` rows. */
export async function waitForVotes(
  bed: WriterTestBed,
  expected: number,
  timeoutMs = 30_000,
): Promise<void> {
  let last = { pending: -1, votes: -1 };
  try {
    await waitUntil(
      `${expected} votes stored and nothing pending`,
      async () => {
        last = { pending: await bed.pending(), votes: await countVotes(bed.db.pool) };
        return last.pending === 0 && last.votes >= expected;
      },
      timeoutMs,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message} (last seen: ${JSON.stringify(last)})`, {
      cause: err,
    });
  }
  assert.equal(await countVotes(bed.db.pool), expected, "votes stored");
}

// --- a TCP proxy to cut a dependency off and bring it back ----------------------------

/**
 * Forwards 127.0.0.1:<port> to a target. `down()` destroys every proxied connection and
 * stops listening (new connections are refused); `up()` listens on the same port again.
 * Point DATABASE_URL at it to take Postgres away from one writer without touching others.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | undefined;
  #port = 0;
  /** Connections accepted so far. */
  connections = 0;

  constructor(targetHost: string, targetPort: number) {
    this.#target = { host: targetHost, port: targetPort };
  }

  get port(): number {
    return this.#port;
  }

  get isUp(): boolean {
    return this.#server !== undefined;
  }

  async up(): Promise<void> {
    if (this.#server) return;
    const server = createServer((client) => {
      this.connections++;
      const upstream = connectTcp(this.#target.port, this.#target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on("close", () => this.#sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.#port, "127.0.0.1", () => resolve());
    });
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /**
   * Stops forwarding bytes either way but keeps every connection open, as a partition or
   * a dead host looks to each end (no FIN, no RST). `down()` then destroys them.
   */
  freeze(): void {
    for (const s of this.#sockets) {
      s.unpipe();
      s.pause();
    }
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
