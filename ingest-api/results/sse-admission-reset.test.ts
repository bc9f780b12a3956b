import assert from "node:assert/strict";
import type { Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../../harness/waiting.ts";
import { createPoll } from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";
import { createHttpServer, listen } from "../http/http-server.ts";

// A client that goes away while its connect is still being rate-checked must not leave a
// slot (StreamAdmission) or a listener and heartbeat (ResultsEvents) behind: nobody would
// ever release them, and the caps would fill with ghosts.

const REDIS_TIMEOUT_MS = 1_000;
const CLIENTS = 5;

describe("SSE connects reset during admission", () => {
  let h: IngestHarness;
  let proxy: TcpProxy;
  let server: Server;

  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    h = await startIngestHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      RATE_LIMIT_SSE_CONNECTS_PER_S: "1000",
      // The wait for a frozen Redis is the window in which the clients leave.
      RATE_LIMIT_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      SSE_HEARTBEAT_MS: "100",
    });
    await createPoll(h.app, { id: "resets" });
    server = createHttpServer(h.app, h.config);
    await listen(server, 0, "127.0.0.1");
  });
  after(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await proxy.down(); // a frozen connection, if the test stopped half-way
    await proxy.up(); // the harness cleans its Redis keys through the proxy
    await eventually(
      "the harness's Redis client reconnected",
      async () => ((await h.redis.ping()) === "PONG" ? true : undefined),
      { timeoutMs: 15_000 },
    );
    await h?.close();
    await proxy.down();
  });

  test("the slots and stream counts return to zero", async () => {
    proxy.freeze(); // the throttle now waits RATE_LIMIT_REDIS_TIMEOUT_MS, then decides in memory
    const { port } = server.address() as AddressInfo;
    const sockets = [];
    for (let i = 0; i < CLIENTS; i++) {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => {});
      socket.write("GET /v1/polls/resets/events HTTP/1.1\r\nHost: t\r\n\r\n");
      sockets.push(socket);
    }
    await sleep(100); // the requests reach the throttle
    for (const s of sockets) s.resetAndDestroy();
    // Past the throttle's wait, the route has run for each of them.
    await sleep(REDIS_TIMEOUT_MS * 2);
    await eventually(
      "no slot and no stream is held",
      () => h.streamAdmission.total === 0 && h.events.clientCount === 0,
      { timeoutMs: 10_000 },
    ).catch((err: unknown) => {
      throw new Error(
        `slots ${h.streamAdmission.total}, streams ${h.events.clientCount}: ${String(err)}`,
      );
    });
    // The scrape reads Redis-backed gauges too: it waits for Redis to be back.
    await proxy.down();
    await proxy.up();
    const metrics = await h.metrics();
    assert.equal(metricSample(metrics, "tallyflow_sse_clients"), 0);
  });
});
