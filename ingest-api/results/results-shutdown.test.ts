import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Lifecycle } from "../../common/lifecycle.ts";
import { createLogger } from "../../common/logger.ts";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { ADMIN, ADMIN_TOKEN } from "../../test-support/ingest.ts";
import { type TestNames, testNames } from "../../test-support/names.ts";
import { deleteStreams } from "../../test-support/streams.ts";
import { type IngestConfig, readIngestConfig } from "../config.ts";
import { startIngestApi } from "../service.ts";

// The shutdown deadline is far beyond the test's own timeout (itself generous for a loaded
// machine): a close that waited for the deadline fails the test, however fast the machine.
const DEADLINE_MS = 600_000;
const TEST_TIMEOUT_MS = 60_000;

describe("API shutdown with open SSE clients", () => {
  let names: TestNames;
  let db: TestDatabase;
  let config: IngestConfig;
  let lifecycle: Lifecycle | undefined;
  // Lets a failing run end its clients, which would otherwise keep the file from exiting.
  const clients = new AbortController();

  before(async () => {
    names = testNames();
    db = await createTestDatabase(names.database);
    config = readIngestConfig({
      DATABASE_URL: db.url,
      STREAM_NAME: names.streamName,
      SUBJECT_PREFIX: names.subjectPrefix,
      REDIS_KEY_PREFIX: names.redisKeyPrefix,
      ADMIN_TOKEN,
      PORT: "0",
      HOST: "127.0.0.1",
      API_METRICS_PORT: "0",
      SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS),
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    });
  });
  after(async () => {
    clients.abort();
    await lifecycle?.close(DEADLINE_MS);
    await deleteStreams(config.natsUrl, [names.streamName]).catch(() => {});
    await db?.drop();
  });

  test("closing ends the event streams and does not wait for the deadline", {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    const logger = createLogger(config.logLevel);
    lifecycle = new Lifecycle(logger);
    const { url } = await startIngestApi(config, logger, lifecycle);
    const created = await fetch(`${url}/v1/polls`, {
      method: "POST",
      headers: { ...ADMIN, "Content-Type": "application/json" },
      body: JSON.stringify({
        id: "live",
        title: "Live",
        options: [
          { id: "yes", label: "Yes" },
          { id: "no", label: "No" },
        ],
      }),
    });
    assert.equal(created.status, 201, await created.text());

    const streams = await Promise.all(
      [1, 2].map(async () => {
        const res = await fetch(`${url}/v1/polls/live/events`, { signal: clients.signal });
        assert.equal(res.status, 200);
        assert.ok(res.body);
        const reader = res.body.getReader();
        const decoder = new TextDecoder();
        let received = "";
        // The first block (retry:) is written at once: the stream is open.
        while (!received.includes("\n\n")) {
          const { value, done } = await reader.read();
          assert.equal(done, false, "the stream is open");
          received += decoder.decode(value, { stream: true });
        }
        // Wrapped: an async function returning the promise itself would wait for it.
        return {
          ended: (async () => {
            try {
              for (;;) if ((await reader.read()).done) return "ended";
            } catch {
              return "broken off";
            }
          })(),
        };
      }),
    );
    await lifecycle.close(DEADLINE_MS);
    assert.deepEqual(
      await Promise.all(streams.map((s) => s.ended)),
      ["ended", "ended"],
      "the streams ended cleanly",
    );
  });
});
