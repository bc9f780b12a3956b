import assert from "node:assert/strict";
import request from "supertest";
import {
  type PublishedResults,
  resultsKeys,
  type VisibleResults,
} from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import { createKiosk, type TestKiosk } from "./api.ts";
import { type LocalServer, listenLocally } from "./http-listen.ts";
import { type InProcessPublisher, startPublisherInProcess } from "./in-process-publisher.ts";
import { type InProcessWriter, startPipelineWriter } from "./in-process-writer.ts";
import { type HarnessOptions, type IngestHarness, startIngestHarness } from "./ingest.ts";
import { type EnvVars, publisherEnv } from "./service-env.ts";
import { deleteStreams } from "./streams.ts";

// The whole read pipeline for one test file, in this process: ingest API (supertest) →
// JetStream → batch writer → result publisher (driven by run(), never by the clock) →
// Redis → read API.

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
export async function startResultsPipeline(
  env: EnvVars = {},
  options: HarnessOptions & { publisherRedisUrl?: string } = {},
): Promise<ResultsPipeline> {
  const h = await startIngestHarness({ RESULTS_INTERVAL_MS: "3000", ...env }, options);
  let writer: InProcessWriter | undefined;
  let server: LocalServer | undefined;
  const pEnv = publisherEnv(h.names, h.db.url, {
    NATS_URL: h.config.natsUrl,
    REDIS_URL: h.config.redisUrl,
    RESULTS_INTERVAL_MS: h.config.resultsIntervalMs.toString(),
    ...env,
    ...(options.publisherRedisUrl ? { REDIS_URL: options.publisherRedisUrl } : {}),
  });
  let publisher: InProcessPublisher | undefined;
  const close = async () => {
    await publisher?.close();
    await writer?.close();
    await server?.close();
    await deleteStreams(h.config.natsUrl, [`${h.names.streamName}_MAXDELIVER`]).catch(() => {});
    await h.close();
  };
  try {
    writer = await startPipelineWriter(h);
    publisher = await startPublisherInProcess(pEnv);
    await publisher.firstRun;
    const kiosk = await createKiosk(h.app, "k1", "Hall");
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
    const published = async (pollId: string) => {
      const raw = await h.redis.get(resultsKeys(h.names.redisKeyPrefix, pollId).json);
      assert.ok(raw !== null, `no results published for ${pollId}`);
      return JSON.parse(raw) as PublishedResults;
    };
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
            // Votes of polls that exist: a deleted poll's wait for the writers' background
            // purge (migration 031) and count nowhere meanwhile.
            const { rows } = await h.db.pool.query<{ n: number }>(
              "select count(*) as n from votes v where exists (select 1 from polls p where p.id = v.poll_id)",
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
        server ??= await listenLocally(h.app);
        return server.url;
      },
      close,
    };
    return pipeline;
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
