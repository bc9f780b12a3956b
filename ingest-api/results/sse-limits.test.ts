import assert from "node:assert/strict";
import type { Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { resultsChannel } from "../../common/results-contract.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { answerOf, OpenApiAnswers } from "../../test-support/openapi-answers.ts";
import { createHttpServer, listen } from "../http/http-server.ts";
import type { OpenApiDocument } from "../openapi/openapi-document.ts";
import { addressKey, StreamAdmission } from "./sse-admission.ts";

// The bounds of the results event streams: a cap per process and per client address
// (X-Forwarded-For counts only from a trusted proxy), heartbeats, and HEAD. Votes and
// health keep working while the caps are reached.

const MAX_CLIENTS = 4;
const MAX_PER_ADDRESS = 2;
const HEARTBEAT_MS = 100;

/** An open event stream read with fetch: records what arrives until closed. */
interface Stream {
  status: number;
  closed: boolean;
  text: () => string;
  close: () => Promise<void>;
}

describe("SSE bounds", () => {
  let h: IngestHarness;
  let server: Server;
  let base: string;
  let kiosk: TestKiosk;
  const streams: Stream[] = [];
  let answers: OpenApiAnswers;

  /** Opens the events route as `forwardedFor` (through the trusted loopback proxy). */
  const openStream = async (pollId: string, forwardedFor?: string): Promise<Stream> => {
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/polls/${pollId}/events`, {
      headers: forwardedFor ? { "X-Forwarded-For": forwardedFor } : {},
      signal: abort.signal,
    });
    let received = "";
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!) received += decoder.decode(chunk, { stream: true });
      } catch {
        // aborted by close()
      }
    })();
    const stream = {
      status: res.status,
      closed: false,
      text: () => received,
      close: async () => {
        stream.closed = true;
        abort.abort();
        await reading;
      },
    };
    streams.push(stream);
    if (res.status !== 200) await reading; // a refusal: its whole JSON body
    return stream;
  };
  const refusal = (stream: Stream) =>
    (JSON.parse(stream.text()) as { error: { code: string; message: string } }).error;
  const vote = () =>
    fetch(`${base}/v1/votes`, {
      method: "POST",
      headers: { ...kiosk.auth, "Content-Type": "application/json" },
      body: JSON.stringify({ pollId: "screens", optionId: "yes" }),
    });

  before(async () => {
    h = await startIngestHarness({
      SSE_MAX_CLIENTS: String(MAX_CLIENTS),
      SSE_MAX_PER_ADDRESS: String(MAX_PER_ADDRESS),
      SSE_HEARTBEAT_MS: String(HEARTBEAT_MS),
      SSE_MAX_BUFFERED_BYTES: "1024",
      TRUST_PROXY: "loopback",
    });
    kiosk = await createKiosk(h.app, "screens");
    await createPoll(h.app, { id: "screens" });
    server = createHttpServer(h.app, h.config);
    await listen(server, 0, "127.0.0.1");
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const document = (await (await fetch(`${base}/openapi.json`)).json()) as OpenApiDocument;
    answers = new OpenApiAnswers(document);
  });
  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await h?.close();
  });

  test("HEAD on the events route answers at once with the stream's headers and no body", async () => {
    const res = await fetch(`${base}/v1/polls/screens/events`, { method: "HEAD" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache, no-transform");
    assert.equal(await res.text(), "");
    const unknown = await fetch(`${base}/v1/polls/nope/events`, { method: "HEAD" });
    assert.equal(unknown.status, 404);
  });

  test("a stream gets a `: ping` comment every SSE_HEARTBEAT_MS", async (t) => {
    // The stream's heartbeat timer is made on a mocked clock (setInterval only), moved by
    // this test: the count of pings follows the clock's ticks, however loaded the machine.
    t.mock.timers.enable({ apis: ["setInterval"] });
    const stream = await openStream("screens", "10.9.9.9");
    assert.equal(stream.status, 200);
    try {
      const pings = () => stream.text().split(": ping\n\n").length - 1;
      // An announcement reaches the stream after whatever was written to it before.
      const channel = resultsChannel(h.config.redisKeyPrefix);
      let marks = 0;
      const everythingWrittenArrived = async () => {
        const version = `1-${"z".repeat(12)}-mark${++marks}`;
        await h.redis.publish(channel, JSON.stringify({ pollId: "screens", version }));
        await eventually(`announcement ${version} on the stream`, () =>
          stream.text().includes(`id: ${version}\n`) ? true : undefined,
        );
      };
      await everythingWrittenArrived();
      t.mock.timers.tick(HEARTBEAT_MS - 1);
      await everythingWrittenArrived();
      assert.equal(pings(), 0, "no ping before SSE_HEARTBEAT_MS");
      t.mock.timers.tick(1);
      await everythingWrittenArrived();
      assert.equal(pings(), 1, "a ping at SSE_HEARTBEAT_MS");
      t.mock.timers.tick(HEARTBEAT_MS);
      t.mock.timers.tick(HEARTBEAT_MS);
      await everythingWrittenArrived();
      assert.equal(pings(), 3, "one more every SSE_HEARTBEAT_MS");
    } finally {
      await stream.close(); // the next test counts the streams left open
    }
  });

  test("a stream whose client stops reading is closed past SSE_MAX_BUFFERED_BYTES", async () => {
    await eventually("the earlier streams have ended on the server", async () =>
      h.events.clientCount === 0 ? true : undefined,
    );
    const before = 0;
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => {}); // a reset by the server is the outcome under test
    try {
      socket.write(
        "GET /v1/polls/screens/events HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 10.7.7.7\r\n\r\n",
      );
      socket.pause(); // never reads: what is written piles up in the kernel, then the server
      await eventually("the stream is open", async () =>
        h.events.clientCount === before + 1 ? true : undefined,
      );
      // Big announcements fill the kernel's buffers quickly; each round adds 2 MB. Without
      // the bound the stream stays open and the process keeps every byte.
      const channel = resultsChannel(h.config.redisKeyPrefix);
      const padding = "z".repeat(10_000);
      let round = 0;
      await eventually(
        "the server closes the stream that does not read",
        async () => {
          if (h.events.clientCount === before) return true;
          const multi = h.redis.multi();
          for (let i = 0; i < 200; i++)
            multi.publish(
              channel,
              JSON.stringify({ pollId: "screens", version: `1-${padding}${round++}` }),
            );
          await multi.exec();
          return undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    } finally {
      socket.destroy();
    }
  });

  test("a client address beyond SSE_MAX_PER_ADDRESS gets 429 too_many_streams_per_address", async () => {
    const mine = [await openStream("screens", "10.0.0.1"), await openStream("screens", "10.0.0.1")];
    for (const s of mine) assert.equal(s.status, 200);
    const third = await openStream("screens", "10.0.0.1");
    assert.equal(third.status, 429);
    const error = refusal(third);
    assert.equal(error.code, "too_many_streams_per_address");
    assert.match(error.message, /at most 2 event streams/);
    // Another address is not affected.
    assert.equal((await openStream("screens", "10.0.0.2")).status, 200);
  });

  test("beyond SSE_MAX_CLIENTS a stream gets 503 too_many_streams with Retry-After; votes and health go on", async () => {
    assert.equal((await openStream("screens", "10.0.0.3")).status, 200); // the fourth
    const abort = new AbortController();
    const res = await fetch(`${base}/v1/polls/screens/events`, {
      headers: { "X-Forwarded-For": "10.0.0.4" },
      signal: abort.signal,
    });
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("retry-after"), "5");
    assert.equal(res.headers.get("connection"), "close", "a refused client holds no connection");
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    // As /openapi.json describes it: a documented 503 of the route, the error envelope whose
    // code is one of that status's, Retry-After.
    const answer = answers.check("GET", "/v1/polls/screens/events", await answerOf(res));
    assert.equal((answer.body as { error: { code: string } }).error.code, "too_many_streams");
    const metrics = await h.metrics();
    assert.equal(metricSample(metrics, "tallyflow_sse_refused_total", { reason: "total" }), 1);
    assert.equal(
      metricSample(metrics, "tallyflow_sse_refused_total", { reason: "per_address" }),
      1,
    );

    // Votes, health, results and HEAD do not take a stream's slot.
    const accepted = await vote();
    assert.equal(accepted.status, 202, await accepted.text());
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/v1/public/polls/screens`)).status, 200);
    assert.equal((await fetch(`${base}/v1/polls/screens/events`, { method: "HEAD" })).status, 200);
  });

  test("a closed stream frees its slot", async () => {
    await streams.find((s) => s.status === 200 && !s.closed)!.close();
    await eventually("a stream is admitted again", async () => {
      const next = await openStream("screens", "10.0.0.5");
      return next.status === 200 ? true : undefined;
    });
  });

  test("without a trusted proxy, X-Forwarded-For does not get a client round the per-address cap", async () => {
    await Promise.all(streams.map((s) => s.close()));
    await eventually("every stream has ended on the server", async () =>
      h.events.clientCount === 0 ? true : undefined,
    );
    h.app.set("trust proxy", false); // what an unset TRUST_PROXY configures
    try {
      const spoofed = [];
      for (const address of ["10.1.0.1", "10.1.0.2", "10.1.0.3"])
        spoofed.push(await openStream("screens", address));
      assert.deepEqual(
        spoofed.map((s) => s.status),
        [200, 200, 429],
        "all three come from 127.0.0.1",
      );
    } finally {
      h.app.set("trust proxy", h.config.trustProxy);
    }
  });
});

describe("StreamAdmission", () => {
  test("counts per address and in total; a release counts once", () => {
    const admission = new StreamAdmission({ sseMaxClients: 3, sseMaxPerAddress: 2 }, 7);
    const a1 = admission.admit("192.0.2.1");
    admission.admit("::ffff:192.0.2.1"); // the same IPv4 client
    assert.throws(() => admission.admit("192.0.2.1"), { code: "too_many_streams_per_address" });
    admission.admit("192.0.2.2");
    assert.throws(() => admission.admit("192.0.2.3"), {
      code: "too_many_streams",
      status: 503,
      retryAfterSeconds: 7,
    });
    a1();
    a1();
    assert.equal(admission.total, 2);
    admission.admit("192.0.2.3");
    assert.throws(() => admission.admit("192.0.2.4"), { code: "too_many_streams" });
  });

  test("an IPv6 client counts by its /64", () => {
    assert.equal(addressKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8:1:2::9"), "2001:db8:1:2::/64");
    assert.equal(addressKey("2001:db8::1"), "2001:db8:0:0::/64");
    assert.equal(addressKey("::1"), "0:0:0:0::/64");
    assert.equal(addressKey("::ffff:10.0.0.1"), "10.0.0.1");
    assert.equal(addressKey("10.0.0.1"), "10.0.0.1");
  });
});
