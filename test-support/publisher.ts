import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import request from "supertest";
import { readWriterConfig } from "../batch-writer/config.ts";
import { type RunningWriter, startBatchWriter } from "../batch-writer/service.ts";
import { Lifecycle } from "../common/lifecycle.ts";
import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import {
  type PublishedResults,
  resultsChannel,
  resultsKeys,
  type VisibleResults,
} from "../common/results-contract.ts";
import { type PublisherConfig, readPublisherConfig } from "../result-publisher/config.ts";
import type { PublishRunSummary } from "../result-publisher/publisher.ts";
import { type RunningPublisher, startResultPublisher } from "../result-publisher/service.ts";
import { createKiosk, eventually, metricSample, type TestKiosk } from "./api.ts";
import { type IngestHarness, startIngestHarness } from "./ingest.ts";
import type { TestNames } from "./names.ts";
import { freePort } from "./nats-server.ts";
import { deleteStreams } from "./streams.ts";

// Helpers for the result publisher's and the read path's tests: the publisher in this
// process (driven by tick(), never by the clock) or as child processes, the batch writer
// in this process, and a whole pipeline (ingest API → JetStream → writer → publisher →
// Redis → read API) named for one test file.

const ROOT = join(import.meta.dirname, "..");
const LOG_LEVEL = process.env.TEST_LOG_LEVEL ?? "silent";

/**
 * A cron that fires once a year (1 January, 00:00:00): in-process publishers run only
 * when a test calls run(), so that what a run publishes is decided by the test alone.
 */
export const RARE_CRON = "0 0 0 1 1 *";

export type EnvVars = Record<string, string>;

/** The publisher's environment for one test file: its database, its Redis prefix, an 800×600 chart. */
export function publisherEnv(names: TestNames, databaseUrl: string, extra: EnvVars = {}): EnvVars {
  return {
    DATABASE_URL: databaseUrl,
    STREAM_NAME: names.streamName,
    SUBJECT_PREFIX: names.subjectPrefix,
    REDIS_KEY_PREFIX: names.redisKeyPrefix,
    RESULTS_INTERVAL_MS: "1000",
    CHART_WIDTH: "800",
    CHART_HEIGHT: "600",
    PUBLISHER_METRICS_PORT: "0",
    SHUTDOWN_DEADLINE_MS: "5000",
    LOG_LEVEL,
    ...extra,
  };
}

// --- the publisher in this process ----------------------------------------------------

export interface InProcessPublisher extends RunningPublisher {
  config: PublisherConfig;
  /** The run startResultPublisher began at once: a new instance's first run. */
  firstRun: Promise<PublishRunSummary | undefined>;
  /**
   * One publishing run that starts after this call (the first run, which may have read
   * Postgres before the caller's data arrived, is awaited first; with RARE_CRON no other
   * run starts on its own). Fails if this publisher is not the leader or the run failed.
   */
  run(): Promise<PublishRunSummary>;
  close(): Promise<void>;
}

/**
 * readPublisherConfig + Lifecycle + startResultPublisher, as result-publisher/main.ts
 * does, with RESULTS_CRON set to RARE_CRON unless the caller sets it.
 */
export async function startPublisherInProcess(env: EnvVars): Promise<InProcessPublisher> {
  const config = readPublisherConfig({ RESULTS_CRON: RARE_CRON, ...env });
  const logger = createLogger(config.logLevel, { service: "result-publisher" });
  const lifecycle = new Lifecycle(logger);
  let running: RunningPublisher;
  try {
    running = await startResultPublisher(config, logger, lifecycle);
  } catch (err) {
    await lifecycle.close(2_000);
    throw err;
  }
  // tick() while a run is in flight returns that run: this is the one started at once.
  const firstRun = running.tick();
  return {
    ...running,
    config,
    firstRun,
    async run() {
      await firstRun;
      const summary = await running.tick();
      assert.ok(summary, "the publishing run did not happen (not the leader, or it failed)");
      return summary;
    },
    close: () => lifecycle.close(config.shutdownDeadlineMs),
  };
}

// --- the publisher as a child process -------------------------------------------------

export interface PublisherChild {
  process: ChildProcess;
  metricsPort: number;
  /** The last 64 KB of the child's stdout and stderr, for failure messages. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();

// A test process that dies must not leave publishers (or scripts) behind.
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** This process's environment (PATH, HOME) minus the test runner's, plus `env`. */
export function childEnv(env: EnvVars): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base.NODE_TEST_CONTEXT;
  delete base.NODE_OPTIONS;
  return { ...base, ...env };
}

/**
 * `node result-publisher/main.ts` with `env` and a metrics port of its own; resolves once
 * its /healthz answers 200 (connected to Postgres and Redis).
 */
export async function spawnPublisher(env: EnvVars): Promise<PublisherChild> {
  const metricsPort = await freePort();
  const child = spawn(process.execPath, ["result-publisher/main.ts"], {
    cwd: ROOT,
    env: childEnv({ ...env, PUBLISHER_METRICS_PORT: String(metricsPort) }),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-65_536);
    if (process.env.TEST_LOG_LEVEL) process.stderr.write(chunk);
  };
  child.stdout.on("data", keep);
  child.stderr.on("data", keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  const started: PublisherChild = { process: child, metricsPort, output: () => output, exited };
  await eventually(
    `publisher child on metrics port ${metricsPort} is healthy`,
    async () => {
      if (child.exitCode !== null) throw new Error(`publisher exited: ${output}`);
      const res = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      return res.status === 200 ? true : undefined;
    },
    { timeoutMs: 20_000, intervalMs: 100 },
  );
  return started;
}

/** tallyflow_publisher_is_leader of a child (undefined when it cannot be scraped). */
export async function leaderGauge(child: PublisherChild): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${child.metricsPort}/metrics`);
    return metricSample(await res.text(), "tallyflow_publisher_is_leader");
  } catch {
    return undefined;
  }
}

/** SIGKILL, and wait until the process is gone. */
export async function killChild(child: PublisherChild): Promise<void> {
  if (child.process.exitCode === null && child.process.signalCode === null)
    child.process.kill("SIGKILL");
  await child.exited;
}

/** Kills every child this module started that is still running (for `after` hooks). */
export async function killChildren(): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once("exit", () => resolve());
          child.kill("SIGKILL");
        }),
    ),
  );
}

/** `node <script>` to completion (killed after `timeoutMs`): its exit code and output. */
export async function runScript(
  script: string,
  env: EnvVars,
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [script], {
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
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const code = await new Promise<number | null>((resolve) =>
      child.once("close", (c) => resolve(c)),
    );
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    children.delete(child);
  }
}

// --- the whole pipeline for one test file ---------------------------------------------

export interface InProcessWriter extends RunningWriter {
  close(): Promise<void>;
}

/** The batch writer in this process, on the harness's stream, with a consumer of this file's own. */
export async function startPipelineWriter(h: IngestHarness): Promise<InProcessWriter> {
  const config = readWriterConfig({
    DATABASE_URL: h.db.url,
    NATS_URL: h.config.natsUrl,
    STREAM_NAME: h.names.streamName,
    SUBJECT_PREFIX: h.names.subjectPrefix,
    CONSUMER_NAME: h.names.consumerName,
    WRITER_METRICS_PORT: "0",
    BATCH_LINGER_MS: "20",
    PG_POOL_SIZE: "2",
    SHUTDOWN_DEADLINE_MS: "5000",
    LOG_LEVEL,
  });
  const logger = createLogger(config.logLevel, { service: "batch-writer" });
  const lifecycle = new Lifecycle(logger);
  try {
    const running = await startBatchWriter(config, logger, lifecycle);
    return { ...running, close: () => lifecycle.close(config.shutdownDeadlineMs) };
  } catch (err) {
    await lifecycle.close(2_000);
    throw err;
  }
}

export interface ResultsPipeline {
  h: IngestHarness;
  writer: InProcessWriter;
  publisher: InProcessPublisher;
  kiosk: TestKiosk;
  /** The publisher's environment (for a second instance or a child process). */
  publisherEnv: EnvVars;
  /** POST /v1/votes as the kiosk; asserts 202 accepted. Returns the eventId. */
  vote(pollId: string, optionId: string, castAt?: string): Promise<string>;
  /** POST /v1/votes/batch as the kiosk; asserts every item accepted. */
  voteBatch(votes: { pollId: string; optionId: string; castAt?: string }[]): Promise<void>;
  /** Waits until `votes` holds exactly `expected` rows (the writer commits rollups with them). */
  stored(expected: number): Promise<void>;
  /** Replaces the publisher with a new instance (a restart); its first run is not yet awaited. */
  restartPublisher(): Promise<InProcessPublisher>;
  /** The published document in Redis (asserts it exists). */
  published(pollId: string): Promise<PublishedResults>;
  /** The published document in Redis, asserting it shows counts. */
  visible(pollId: string): Promise<VisibleResults>;
  /** Listens on 127.0.0.1, a free port, for clients that need a real socket (SSE). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

/**
 * The ingest API (supertest), the batch writer and the result publisher, all in this
 * process and all on this file's database, stream, consumer and Redis prefix.
 * RESULTS_INTERVAL_MS defaults to 3000 here, so max-age and Retry-After read "3".
 */
export async function startResultsPipeline(env: EnvVars = {}): Promise<ResultsPipeline> {
  const h = await startIngestHarness({ RESULTS_INTERVAL_MS: "3000", ...env });
  let writer: InProcessWriter | undefined;
  let server: Server | undefined;
  const pEnv = publisherEnv(h.names, h.db.url, {
    NATS_URL: h.config.natsUrl,
    REDIS_URL: h.config.redisUrl,
    RESULTS_INTERVAL_MS: h.config.resultsIntervalMs.toString(),
    ...env,
  });
  let publisher: InProcessPublisher | undefined;
  const close = async () => {
    await publisher?.close();
    await writer?.close();
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server?.close(() => resolve()));
    }
    await deleteStreams(h.config.natsUrl, [`${h.names.streamName}_MAXDELIVER`]).catch(() => {});
    await h.close();
  };
  try {
    writer = await startPipelineWriter(h);
    publisher = await startPublisherInProcess(pEnv);
    await publisher.firstRun;
    const kiosk = await createKiosk(h.app, "k1", "Hall");
    const published = async (pollId: string) => {
      const raw = await h.redis.get(resultsKeys(h.names.redisKeyPrefix, pollId).json);
      assert.ok(raw !== null, `no results published for ${pollId}`);
      return JSON.parse(raw) as PublishedResults;
    };
    // A run returns once this API's results cache holds what it published, as the
    // announcement would make it a moment later: a test reading next sees the new version.
    const seenByApi = (inProcess: InProcessPublisher): InProcessPublisher => ({
      ...inProcess,
      async run() {
        const summary = await inProcess.run();
        await h.results.check();
        return summary;
      },
    });
    const pipeline: ResultsPipeline = {
      h,
      writer,
      publisher: seenByApi(publisher),
      kiosk,
      publisherEnv: pEnv,
      async vote(pollId, optionId, castAt) {
        const body = castAt === undefined ? { pollId, optionId } : { pollId, optionId, castAt };
        const res = await request(h.app).post("/v1/votes").set(kiosk.auth).send(body);
        assert.equal(res.status, 202, res.text);
        assert.equal(res.body.status, "accepted", res.text);
        return res.body.eventId as string;
      },
      async voteBatch(votes) {
        const res = await request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes });
        assert.equal(res.status, 200, res.text);
        assert.equal(res.body.accepted, votes.length, res.text);
      },
      async stored(expected) {
        let last = -1;
        await eventually(
          `${expected} votes stored`,
          async () => {
            const { rows } = await h.db.pool.query<{ n: number }>(
              "select count(*) as n from votes",
            );
            last = rows[0]!.n;
            return last >= expected ? true : undefined;
          },
          { timeoutMs: 20_000 },
        ).catch((err: unknown) => {
          throw new Error(`${(err as Error).message} (last count ${last})`, { cause: err });
        });
        assert.equal(last, expected, "votes stored");
      },
      async restartPublisher() {
        await publisher?.close();
        publisher = undefined;
        publisher = await startPublisherInProcess(pEnv);
        pipeline.publisher = seenByApi(publisher);
        return pipeline.publisher;
      },
      published,
      async visible(pollId) {
        const results = await published(pollId);
        assert.equal(results.hidden, false, `results of ${pollId} are hidden`);
        return results as VisibleResults;
      },
      async listen() {
        if (!server) {
          const s = h.app.listen(0, "127.0.0.1");
          await new Promise<void>((resolve, reject) => {
            s.once("listening", resolve);
            s.once("error", reject);
          });
          server = s;
        }
        return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      },
      close,
    };
    return pipeline;
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

// --- Redis pub/sub ----------------------------------------------------------------------

export interface Announcement {
  pollId: string;
  version: string;
}

/**
 * A subscriber to the results channel that records every announcement. settle() makes
 * "no message" checkable: it publishes a marker on the channel and waits for it, and
 * since Redis delivers one channel's messages in the order it executed the PUBLISHes,
 * everything published before the call has been received by then.
 */
export class AnnouncementLog {
  readonly messages: Announcement[] = [];
  readonly #client: RedisClient;
  readonly #publisher: RedisClient;
  readonly #channel: string;
  #markers = 0;

  private constructor(client: RedisClient, publisher: RedisClient, channel: string) {
    this.#client = client;
    this.#publisher = publisher;
    this.#channel = channel;
  }

  static async start(redisUrl: string, keyPrefix: string): Promise<AnnouncementLog> {
    const logger = createLogger("silent");
    const client = await connectRedis(redisUrl, logger, "test-announcements");
    const publisher = await connectRedis(redisUrl, logger, "test-announcements-marker");
    const log = new AnnouncementLog(client, publisher, resultsChannel(keyPrefix));
    await client.subscribe(log.#channel, (message) => {
      log.messages.push(JSON.parse(message) as Announcement);
    });
    return log;
  }

  /** Waits until every announcement published before this call has arrived. */
  async settle(): Promise<void> {
    const marker = { pollId: `__marker_${++this.#markers}`, version: "marker" };
    await this.#publisher.publish(this.#channel, JSON.stringify(marker));
    await eventually("the marker announcement arrives", async () =>
      this.messages.some((m) => m.pollId === marker.pollId) ? true : undefined,
    );
  }

  /** Announcements of real polls (markers left out), and forgets them. */
  take(): Announcement[] {
    const taken = this.messages.filter((m) => !m.pollId.startsWith("__marker_"));
    this.messages.length = 0;
    return taken;
  }

  async close(): Promise<void> {
    await this.#client.close().catch(() => {});
    await this.#publisher.close().catch(() => {});
  }
}

// --- checking results against SQL ---------------------------------------------------

export const BUCKET_MS = 600_000;

/** `select option_id, count(*) … group by`, as a map. */
export async function sqlTotals(h: IngestHarness, pollId: string): Promise<Map<string, number>> {
  const { rows } = await h.db.pool.query<{ option_id: string; n: number }>(
    "select option_id, count(*) as n from votes where poll_id = $1 group by option_id",
    [pollId],
  );
  return new Map(rows.map((r) => [r.option_id, r.n]));
}

/** Per-option, per-10-minute-bucket counts straight from `votes`: `option/bucketMs` → n. */
export async function sqlBuckets(h: IngestHarness, pollId: string): Promise<Map<string, number>> {
  const { rows } = await h.db.pool.query<{ option_id: string; bucket: Date; n: number }>(
    `select option_id,
            date_bin('10 minutes', cast_at, timestamptz '2000-01-01 00:00:00+00') as bucket,
            count(*) as n
     from votes where poll_id = $1 group by 1, 2`,
    [pollId],
  );
  return new Map(rows.map((r) => [`${r.option_id}/${r.bucket.getTime()}`, r.n]));
}

/** The same `option/bucketMs` → n map, read from a published distribution (zeros left out). */
export function publishedBuckets(results: VisibleResults): Map<string, number> {
  const start = Date.parse(results.distribution.start ?? "");
  const map = new Map<string, number>();
  for (const s of results.distribution.series)
    s.counts.forEach((n, i) => {
      if (n !== 0) map.set(`${s.optionId}/${start + i * BUCKET_MS}`, n);
    });
  return map;
}

/** poll_changes.changed_at of a poll: what `asOf` must say. */
export async function changedAt(h: IngestHarness, pollId: string): Promise<Date> {
  const { rows } = await h.db.pool.query<{ changed_at: Date }>(
    "select changed_at from poll_changes where poll_id = $1",
    [pollId],
  );
  assert.ok(rows[0], `no poll_changes row for ${pollId}`);
  return rows[0].changed_at;
}

/**
 * Asserts a published document equals a direct count over `votes`: totals per option (in
 * option order), shares, and the zero-filled distribution from the first vote's bucket to
 * the bucket of asOf = poll_changes.changed_at.
 */
export async function assertMatchesSql(
  h: IngestHarness,
  results: VisibleResults,
  optionOrder: string[],
): Promise<void> {
  const pollId = results.pollId;
  const totals = await sqlTotals(h, pollId);
  const total = [...totals.values()].reduce((a, b) => a + b, 0);
  assert.equal(results.totalVotes, total, "totalVotes");
  assert.deepEqual(
    results.options.map((o) => [o.id, o.count]),
    optionOrder.map((id) => [id, totals.get(id) ?? 0]),
    "per-option counts",
  );
  for (const o of results.options)
    assert.equal(o.share, total === 0 ? 0 : o.count / total, `share of ${o.id}`);

  const buckets = await sqlBuckets(h, pollId);
  const asOf = await changedAt(h, pollId);
  assert.equal(results.asOf, asOf.toISOString(), "asOf = poll_changes.changed_at");
  const bucketTimes = [...buckets.keys()].map((k) => Number(k.split("/")[1]));
  const first = Math.min(...bucketTimes);
  const last = Math.max(Math.floor(asOf.getTime() / BUCKET_MS) * BUCKET_MS, ...bucketTimes);
  assert.equal(results.distribution.bucketMinutes, 10);
  assert.equal(results.distribution.start, new Date(first).toISOString(), "distribution.start");
  assert.equal(results.distribution.buckets, (last - first) / BUCKET_MS + 1, "bucket count");
  assert.deepEqual(
    results.distribution.series.map((s) => s.optionId),
    optionOrder,
    "one series per option, in option order",
  );
  for (const s of results.distribution.series)
    assert.equal(s.counts.length, results.distribution.buckets, `length of ${s.optionId}'s series`);
  assert.deepEqual(publishedBuckets(results), buckets, "10-minute buckets equal the SQL count");
}
