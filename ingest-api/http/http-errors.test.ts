import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, connect } from "node:net";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import express from "express";
import { pino } from "pino";
import request from "supertest";
import { AppError, ConflictError, UnavailableError } from "../../common/errors.ts";
import { expectError } from "../../test-support/api.ts";
import { RawClient } from "../../test-support/raw-http.ts";
import { errorMiddleware, notFoundHandler } from "./http-errors.ts";
import { jsonBody } from "./json-body.ts";

// The one place errors become responses: every error, including ones the code did not
// expect, is {"error": {code, message, details?}} with no internals; the log keeps those.

function appWith(routes: (app: express.Express) => void) {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  const app = express();
  routes(app);
  app.use(notFoundHandler);
  app.use(errorMiddleware(pino({ level: "error" }, sink)));
  return { app, lines };
}

describe("error responses", () => {
  test("an unexpected error is 500 internal_error without its message or stack; the log has them", async () => {
    const { app, lines } = appWith((a) => {
      a.get("/boom", () => {
        throw new Error("secret connection string postgres://user:pw@db");
      });
      a.get("/async-boom", async () => {
        await Promise.resolve();
        throw new TypeError("cannot read properties of undefined");
      });
    });
    for (const path of ["/boom", "/async-boom"]) {
      const res = await request(app).get(path);
      const error = expectError(res, 500, "internal_error");
      assert.deepEqual(res.body, { error: { code: "internal_error", message: "internal error" } });
      assert.equal(error.details, undefined);
      assert.doesNotMatch(res.text, /secret|undefined/);
    }
    assert.equal(lines.length, 2);
    const logged = lines[0] as {
      msg: string;
      url: string;
      err: { message: string; stack: string };
    };
    assert.equal(logged.msg, "unhandled error");
    assert.equal(logged.url, "/boom");
    assert.match(logged.err.message, /secret connection string/);
    assert.match(logged.err.stack, /http-errors\.test\.ts/);
  });

  test("an AppError keeps its status, code, message and details; nothing is logged", async () => {
    const { app, lines } = appWith((a) => {
      a.get("/conflict", () => {
        throw new ConflictError("poll_has_votes", "the poll has votes", { votes: 3 });
      });
      a.get("/option", () => {
        throw new AppError(422, "unknown_option", "not an option");
      });
    });
    const conflict = await request(app).get("/conflict");
    expectError(conflict, 409, "poll_has_votes");
    assert.deepEqual(conflict.body, {
      error: { code: "poll_has_votes", message: "the poll has votes", details: { votes: 3 } },
    });
    const option = await request(app).get("/option");
    assert.equal(option.status, 422);
    assert.deepEqual(option.body, { error: { code: "unknown_option", message: "not an option" } });
    assert.deepEqual(lines, []);
  });

  test("an UnavailableError is 503 with Retry-After", async () => {
    const { app } = appWith((a) => {
      a.get("/down", () => {
        throw new UnavailableError("queue_full", "vote queue is full", 30, new Error("inner"));
      });
    });
    const res = await request(app).get("/down");
    expectError(res, 503, "queue_full");
    assert.equal(res.headers["retry-after"], "30");
    assert.doesNotMatch(res.text, /inner/);
  });

  test("body parser failures are the client's: 400, 413 and 415, never 500", async () => {
    const { app, lines } = appWith((a) => {
      a.post("/echo", jsonBody(1024), (req, res) => {
        res.json({ got: req.body });
      });
    });
    const post = () => request(app).post("/echo");

    // superagent would JSON-encode a Buffer; send the bytes as they are.
    const raw = (body: Buffer) => body as unknown as string;
    const gzipped = await post()
      .set("Content-Type", "application/json")
      .set("Content-Encoding", "gzip")
      .serialize(raw)
      .send(gzipSync('{"a":1}'));
    assert.equal(gzipped.status, 200, gzipped.text);
    assert.deepEqual(gzipped.body, { got: { a: 1 } });
    const corrupt = await post()
      .set("Content-Type", "application/json")
      .set("Content-Encoding", "gzip")
      .serialize(raw)
      .send(Buffer.from('{"a":1}'));
    expectError(corrupt, 400, "unreadable_body");

    expectError(
      await post().set("Content-Type", "application/json").send("{"),
      400,
      "malformed_json",
    );
    const tooLarge = await post()
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ pad: "x".repeat(2000) }));
    assert.deepEqual(expectError(tooLarge, 413, "body_too_large").details, { limitBytes: 1024 });
    expectError(
      await post()
        .set("Content-Type", "application/json")
        .set("Content-Encoding", "snappy")
        .send("{}"),
      415,
      "unsupported_encoding",
    );
    expectError(
      await post().set("Content-Type", "application/json; charset=latin1").send("{}"),
      415,
      "unsupported_charset",
    );
    expectError(
      await post().set("Content-Type", "application/xml").send("<vote/>"),
      415,
      "unsupported_media_type",
    );
    assert.deepEqual(lines, []);
  });

  test("plain JSON bodies (the fast path) parse and fail exactly as body-parser's do", async () => {
    const { app, lines } = appWith((a) => {
      a.post("/echo", jsonBody(64), (req, res) => {
        res.json({ got: req.body });
      });
    });
    const post = (type: string, body: string) =>
      request(app).post("/echo").set("Content-Type", type).send(body);
    for (const type of [
      "application/json",
      "Application/JSON; charset=UTF-8",
      'application/json; charset="utf-8"',
    ]) {
      const ok = await post(type, '{"pollId":"lunch","n":[1,2]}');
      assert.equal(ok.status, 200, `${type}: ${ok.text}`);
      assert.deepEqual(ok.body, { got: { pollId: "lunch", n: [1, 2] } });
    }
    const bom = await post("application/json", '\uFEFF{"a":"é"}');
    assert.deepEqual(bom.body, { got: { a: "é" } });
    const scalar = await post("application/json", "42");
    assert.deepEqual(scalar.body, { got: 42 });
    expectError(await post("application/json", '{"a":'), 400, "malformed_json");
    expectError(await post("application/json; charset=utf-8", "nope"), 400, "malformed_json");
    const tooLarge = await post("application/json", JSON.stringify({ pad: "x".repeat(100) }));
    assert.deepEqual(expectError(tooLarge, 413, "body_too_large").details, { limitBytes: 64 });
    // Multi-chunk bodies: a body written in pieces is put together before parsing.
    const { app: big } = appWith((a) => {
      a.post("/echo", jsonBody(1 << 20), (req, res) => {
        res.json({ n: (req.body as { pad: string }).pad.length });
      });
    });
    const pieces = await request(big)
      .post("/echo")
      .set("Content-Type", "application/json")
      .send(JSON.stringify({ pad: "y".repeat(300_000) }));
    assert.deepEqual(pieces.body, { n: 300_000 });
    assert.deepEqual(lines, []);
  });

  test("a client that goes away mid-body (fast path) reaches no handler and breaks nothing", async () => {
    let handled = 0;
    const { app, lines } = appWith((a) => {
      a.post("/echo", jsonBody(1024), (_req, res) => {
        handled++;
        res.json({});
      });
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    const socket = connect(port, "127.0.0.1");
    await once(socket, "connect");
    socket.write(
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":',
    );
    await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    // The server still answers the next request, and the half body was never parsed.
    const after = await request(server).post("/echo").send({ b: 1 });
    assert.equal(after.status, 200);
    assert.equal(handled, 1, "only the complete request reached the handler");
    assert.deepEqual(lines, []);
    server.close();
  });

  test("a charset other than UTF-8 is 415, the utf-* ones body-parser would try too", async () => {
    const { app } = appWith((a) => {
      a.post("/echo", jsonBody(1024), (req, res) => {
        res.json({ got: req.body });
      });
    });
    for (const type of [
      "application/json; charset=utf-16",
      "application/json; charset=UTF-32",
      'application/json; charset="utf-16le"',
    ]) {
      // Past the fast path (UTF-8 only), to body-parser, which took these and failed to parse.
      const res = await request(app).post("/echo").set("Content-Type", type).send('{"a":1}');
      expectError(res, 415, "unsupported_charset");
    }
  });

  test("a JSON request with no body reaches the route without one, not a 415", async () => {
    const { app } = appWith((a) => {
      a.post("/echo", jsonBody(1024), (req, res) => {
        res.json({ bodyless: req.body === undefined });
      });
    });
    const server = app.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      // Neither Content-Length nor Transfer-Encoding: a request without a body (RFC 9112 6.3).
      const ask = async (head: string) => {
        const client = await RawClient.open(server);
        client.write(`POST /echo HTTP/1.1\r\nHost: x\r\n${head}Connection: close\r\n\r\n`);
        await client.waitClosed();
        return client.response();
      };
      const json = await ask("Content-Type: application/json\r\n");
      assert.equal(json.status, 200, json.body);
      assert.deepEqual(JSON.parse(json.body), { bodyless: true });
      // Without a JSON Content-Type it stays 415.
      const none = await ask("");
      assert.equal(none.status, 415);
      assert.equal(JSON.parse(none.body).error.code, "unsupported_media_type");
    } finally {
      server.close();
    }
  });

  test("a path parameter that is not valid percent-encoding is 400 naming the path", async () => {
    const { app, lines } = appWith((a) => {
      a.get("/v1/polls/:pollId/results", (_req, res) => {
        res.json({});
      });
    });
    for (const path of [
      "/v1/polls/%ZZ/results",
      "/v1/polls/%/results",
      "/v1/polls/%E0%A4%A/results",
    ]) {
      const res = await request(app).get(path);
      const error = expectError(res, 400, "invalid_request");
      assert.deepEqual(error.details, {
        issues: [{ field: "path", message: "is not valid percent-encoding (RFC 3986)" }],
      });
    }
    assert.deepEqual(lines, []);
  });

  test("an unknown route is 404 route_not_found", async () => {
    const { app } = appWith(() => {});
    const res = await request(app).delete("/v2/anything");
    const error = expectError(res, 404, "route_not_found");
    assert.equal(error.message, "no route for DELETE /v2/anything");
  });
});
