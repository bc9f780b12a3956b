import assert from "node:assert/strict";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { RawClient } from "../../test-support/raw-http.ts";
import { createHttpServer, listen } from "./http-server.ts";

// The API's HTTP server against clients that misbehave on the wire, over raw sockets:
// the timeouts are short here (HTTP_HEADERS_TIMEOUT_MS=300, HTTP_REQUEST_TIMEOUT_MS=800);
// "at once" is checked on a server whose timeouts are far longer than the test's wait.

const HEADERS_TIMEOUT_MS = 300;
const REQUEST_TIMEOUT_MS = 800;

describe("HTTP server limits", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  /** Built from the harness's config: the short timeouts. */
  let short: Server;
  /** Timeouts of a minute: whatever closes within the test's wait was not a timeout. */
  let patient: Server;
  const clients: RawClient[] = [];
  const open = async (server: Server) => {
    const client = await RawClient.open(server);
    clients.push(client);
    return client;
  };
  const voteHead = (length: number, token = kiosk.token, path = "/v1/votes") =>
    `POST ${path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  const errorCode = (client: RawClient) =>
    (JSON.parse(client.response().body) as { error: { code: string } }).error.code;

  before(async () => {
    h = await startIngestHarness({
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      SSE_HEARTBEAT_MS: "100",
    });
    kiosk = await createKiosk(h.app, "wire");
    await createPoll(h.app, { id: "wire" });
    short = createHttpServer(h.app, h.config);
    patient = createHttpServer(h.app, {
      ...h.config,
      httpHeadersTimeoutMs: 60_000,
      httpRequestTimeoutMs: 60_000,
    });
    await listen(short, 0, "127.0.0.1");
    await listen(patient, 0, "127.0.0.1");
  });
  after(async () => {
    for (const client of clients) client.destroy();
    for (const server of [short, patient]) {
      server?.closeAllConnections();
      await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    }
    await h?.close();
  });

  test("the harness's config reaches the server", () => {
    assert.equal(short.headersTimeout, HEADERS_TIMEOUT_MS);
    assert.equal(short.requestTimeout, REQUEST_TIMEOUT_MS);
    assert.equal(short.keepAliveTimeout, 65_000);
    assert.equal(short.maxConnections, 15_000);
  });

  test("a client trickling its headers is cut at the headers timeout with 408 request_timeout", async () => {
    const client = await open(short);
    client.write("POST /v1/votes HTTP/1.1\r\nHost: test\r\n");
    client.trickle("X-Slow: a\r\n"); // header lines for ever, never the blank line
    await client.waitClosed();
    const res = client.response();
    assert.equal(res.status, 408);
    assert.equal(errorCode(client), "request_timeout");
    assert.equal(res.headers.connection, "close");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
  });

  test("a connection that sends nothing is cut at the headers timeout too", async () => {
    const client = await open(short);
    await client.waitClosed();
    assert.equal(client.response().status, 408);
  });

  test("a body trickled to a kiosk route is cut at the request timeout, before any handler answers", async () => {
    const client = await open(short);
    client.write(voteHead(200));
    client.trickle(" ");
    await client.waitClosed();
    assert.equal(client.response().status, 408);
    assert.equal(errorCode(client), "request_timeout");
  });

  test("a 401 closes the connection at once instead of waiting for the trickled body", async () => {
    const client = await open(patient);
    client.write(voteHead(100_000, "not-a-kiosk-token"));
    client.trickle("x");
    await client.waitClosed();
    const res = client.response();
    assert.equal(res.status, 401);
    assert.equal(errorCode(client), "unauthorized");
    assert.equal(res.headers.connection, "close");
  });

  test("a declared oversize Content-Length gets 413 body_too_large without the body being sent", async () => {
    for (const [path, limit] of [
      ["/v1/votes", h.config.maxVoteBodyBytes],
      ["/v1/votes/batch", h.config.maxBatchBodyBytes],
    ] as const) {
      const client = await open(patient);
      client.write(voteHead(limit + 1, kiosk.token, path)); // and not one byte of body
      await client.waitClosed();
      const res = client.response();
      assert.equal(res.status, 413, `${path}: ${client.received}`);
      const body = JSON.parse(res.body) as { error: { code: string; details: unknown } };
      assert.equal(body.error.code, "body_too_large");
      assert.deepEqual(body.error.details, { limitBytes: limit });
      assert.equal(res.headers.connection, "close");
    }
  });

  test("a vote that is neither slow nor large still gets its 202 over a kept-alive connection", async () => {
    const client = await open(short);
    const body = JSON.stringify({ pollId: "wire", optionId: "yes" });
    client.write(voteHead(Buffer.byteLength(body)) + body);
    await eventually("the 202", async () => client.response().status || undefined);
    assert.equal(client.response().status, 202, client.received);
    assert.equal(client.response().headers.connection, "keep-alive");
    assert.equal(client.closed, false);
  });

  test("an idle keep-alive connection outlives the headers and request timeouts", async () => {
    const client = await open(short);
    const get = "GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n";
    client.write(get);
    await eventually("the first answer", async () =>
      client.received.includes("ok") ? true : undefined,
    );
    // Idle for longer than both timeouts: those apply to a request being received only.
    await sleep(2 * REQUEST_TIMEOUT_MS);
    assert.equal(client.closed, false);
    client.write(get);
    await eventually("the second answer", async () =>
      client.received.split("HTTP/1.1 200").length === 3 ? true : undefined,
    );
  });

  test("an SSE stream outlives the request timeout (it applies to receiving the request)", async () => {
    const { port } = short.address() as AddressInfo;
    const abort = new AbortController();
    const res = await fetch(`http://127.0.0.1:${port}/v1/polls/wire/events`, {
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    const opened = Date.now();
    let lastPingAt = 0;
    const reading = (async () => {
      const decoder = new TextDecoder();
      try {
        for await (const chunk of res.body!)
          if (decoder.decode(chunk, { stream: true }).includes(": ping")) lastPingAt = Date.now();
      } catch {
        // aborted below
      }
    })();
    await eventually(
      "a heartbeat well after the request timeout",
      async () => (lastPingAt - opened > 3 * REQUEST_TIMEOUT_MS ? true : undefined),
      { timeoutMs: 20_000 },
    );
    abort.abort();
    await reading;
  });

  test("headers beyond Node's 16 KiB limit get 431 headers_too_large", async () => {
    const client = await open(short);
    client.write(`GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    await client.waitClosed();
    assert.equal(client.response().status, 431);
    assert.equal(errorCode(client), "headers_too_large");
  });

  test("a malformed request gets 400 bad_request in the API's error shape", async () => {
    const client = await open(short);
    client.write("NOT HTTP AT ALL\r\n\r\n");
    await client.waitClosed();
    assert.equal(client.response().status, 400);
    assert.equal(errorCode(client), "bad_request");
  });

  test("an HTTP/1.1 request without Host gets 400 bad_request in the API's error shape", async () => {
    const client = await open(short);
    client.write("GET /healthz HTTP/1.1\r\n\r\n");
    await client.waitClosed();
    assert.equal(client.response().status, 400);
    assert.equal(errorCode(client), "bad_request");
    // HTTP/1.0 has no Host requirement.
    const old = await open(short);
    old.write("GET /healthz HTTP/1.0\r\n\r\n");
    await old.waitClosed();
    assert.equal(old.response().status, 200);
  });

  test("an unknown Expect is ignored (RFC 9110 10.1.1): the vote is served, not a bare 417", async () => {
    const client = await open(short);
    const body = JSON.stringify({ pollId: "wire", optionId: "yes" });
    client.write(
      voteHead(Buffer.byteLength(body)).replace("\r\n\r\n", "\r\nExpect: a-pony\r\n\r\n") + body,
    );
    await eventually("the answer", async () => client.received.includes("\r\n\r\n{") || undefined);
    assert.equal(client.response().status, 202, client.received);
  });
});

describe("HTTP_MAX_CONNECTIONS", () => {
  let h: IngestHarness;
  let server: Server;
  const clients: RawClient[] = [];

  before(async () => {
    h = await startIngestHarness({
      HTTP_MAX_CONNECTIONS: "3",
      SSE_MAX_CLIENTS: "1",
      // Idle test connections must not be cut by the headers timeout on a slow machine.
      HTTP_HEADERS_TIMEOUT_MS: "60000",
      HTTP_REQUEST_TIMEOUT_MS: "60000",
    });
    server = createHttpServer(h.app, h.config);
    await listen(server, 0, "127.0.0.1");
  });
  after(async () => {
    for (const client of clients) client.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    await h?.close();
  });

  test("beyond the cap a new connection is dropped; the ones held are still served", async () => {
    for (let i = 0; i < 3; i++) clients.push(await RawClient.open(server));
    await eventually("the server counts three connections", async () => {
      const count = await new Promise<number>((resolve, reject) =>
        server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
      );
      return count === 3 ? true : undefined;
    });
    const dropped = await RawClient.open(server);
    clients.push(dropped);
    dropped.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
    await dropped.waitClosed();
    assert.equal(dropped.received, "", "a dropped connection gets no answer");

    const held = clients[0]!;
    held.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
    await eventually("the held connection's answer", async () =>
      held.received.includes("200 OK") ? true : undefined,
    );

    // A freed slot is taken again.
    clients[1]!.destroy();
    await eventually("a new connection is served once one closed", async () => {
      const next = await RawClient.open(server);
      clients.push(next);
      next.write("GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n");
      await eventually("an answer or a close", async () =>
        next.closed || next.received.includes("200 OK") ? true : undefined,
      );
      return next.received.includes("200 OK") ? true : undefined;
    });
  });
});
