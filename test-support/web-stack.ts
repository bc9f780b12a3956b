import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { PublishedResults } from "../common/results-contract.ts";
import { eventually } from "../harness/waiting.ts";
import type { RunningPublisher } from "../result-publisher/service.ts";
import { listenLocally } from "./http-listen.ts";
import { startPublisherInProcess } from "./in-process-publisher.ts";
import { type InProcessWriter, startWriterInProcess } from "./in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "./ingest.ts";
import { publisherEnv, writerEnv } from "./service-env.ts";
import { deleteStreams } from "./streams.ts";

// The whole system for browser tests: the ingest API listening on a real port, with the
// batch writer and the result publisher running in this process, so that a vote sent to
// the API reaches the page the way it does in production (NATS → Postgres → Redis → SSE).

export interface VoteRequest {
  pollId: string;
  optionId: string;
  castAt?: string;
  voterId?: string;
}

export interface WebStack {
  harness: IngestHarness;
  server: Server;
  /** http://127.0.0.1:<port> */
  url: string;
  writer: InProcessWriter;
  publisher: RunningPublisher;
  /** The results interval of the API and the publisher (the pages poll at this pace). */
  intervalMs: number;
  /** An admin call (JSON in, JSON out); fails the test on an unexpected status. */
  admin(method: string, path: string, body?: unknown, expected?: number): Promise<unknown>;
  /** Sends votes through POST /v1/votes/batch as a kiosk; all must be accepted. */
  vote(votes: VoteRequest[]): Promise<void>;
  /** The published results JSON of a poll, from the API (undefined while not published). */
  results(pollId: string): Promise<PublishedResults | undefined>;
  /** Waits until the writer stored the poll's votes and the publisher published `total`. */
  published(pollId: string, total: number): Promise<PublishedResults>;
  close(): Promise<void>;
}

export async function startWebStack(intervalMs = 1_000): Promise<WebStack> {
  const harness = await startIngestHarness({ RESULTS_INTERVAL_MS: String(intervalMs) });
  const { names, db } = harness;
  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
    await deleteStreams(harness.config.natsUrl, [`${names.streamName}_MAXDELIVER`]).catch(() => {});
    await harness.close();
  };
  try {
    const local = await listenLocally(harness.app);
    closers.push(() => local.close());
    const { server, url } = local;

    const writer = await startWriterInProcess(
      writerEnv(names, db.url, { BATCH_LINGER_MS: "50", SHUTDOWN_DEADLINE_MS: "5000" }),
    );
    closers.push(() => writer.close());

    // Scheduled as in production: the pages see results change without a test's nudge.
    const publisher = await startPublisherInProcess(
      publisherEnv(names, db.url, {
        NATS_URL: harness.config.natsUrl,
        REDIS_URL: harness.config.redisUrl,
        RESULTS_INTERVAL_MS: String(intervalMs),
      }),
      { scheduled: true },
    );
    closers.push(() => publisher.close());

    const call = async (
      method: string,
      path: string,
      headers: Record<string, string>,
      body: unknown,
      expected: number,
    ) => {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: {
          ...headers,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      assert.equal(res.status, expected, `${method} ${path}: ${res.status} ${text}`);
      return text ? (JSON.parse(text) as unknown) : undefined;
    };
    const admin = (method: string, path: string, body?: unknown, expected = 200) =>
      call(method, path, ADMIN, body, expected);

    const kiosk = (await admin(
      "POST",
      "/v1/kiosks",
      { id: "browser-tests", name: "Browser tests" },
      201,
    )) as { token: string };
    const kioskAuth = { Authorization: `Bearer ${kiosk.token}` };

    const results = async (pollId: string) => {
      const res = await fetch(`${url}/v1/polls/${pollId}/results`);
      if (res.status !== 200) return undefined;
      return (await res.json()) as PublishedResults;
    };

    return {
      harness,
      server,
      url,
      writer,
      publisher,
      intervalMs,
      admin,
      async vote(votes) {
        const answer = (await call("POST", "/v1/votes/batch", kioskAuth, { votes }, 200)) as {
          accepted: number;
        };
        assert.equal(answer.accepted, votes.length, JSON.stringify(answer));
      },
      results,
      async published(pollId, total) {
        let last: PublishedResults | undefined;
        await eventually(
          `poll ${pollId} published with ${total} votes (last: ${JSON.stringify(last)})`,
          async () => {
            const { rows } = await db.pool.query<{ n: number }>(
              "select count(*)::int as n from votes where poll_id = $1",
              [pollId],
            );
            if (rows[0]?.n !== total) return false;
            await publisher.tick();
            last = await results(pollId);
            return last !== undefined && !last.hidden && last.totalVotes === total;
          },
          { timeoutMs: 20_000, intervalMs: 50 },
        );
        return last!;
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
