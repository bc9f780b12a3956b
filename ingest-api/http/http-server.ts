import { createServer, type RequestListener, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { Express } from "express";
import { type ErrorCode, statusOf } from "../../common/error-codes.ts";
import type { HttpExposureConfig } from "./http-config.ts";

type ServerLimits = Pick<
  HttpExposureConfig,
  "httpHeadersTimeoutMs" | "httpRequestTimeoutMs" | "httpKeepAliveTimeoutMs" | "httpMaxConnections"
>;

/**
 * The API's HTTP server with deliberate limits instead of Node's defaults (a client
 * trickling headers was held 60 s, one trickling a body 300 s):
 * - headersTimeout: the request line and headers, also on a connection that sends nothing;
 * - requestTimeout: the whole request, body included. Node stops counting once the request
 *   is received, so a long response (an SSE stream) is not cut;
 * - keepAliveTimeout: idle time between requests, longer than load balancers' idle timeouts;
 * - maxConnections: beyond it new connections are dropped, so descriptors stay for
 *   Postgres, NATS and Redis.
 */
export function createHttpServer(app: Express, limits: ServerLimits): Server {
  const handle: RequestListener = (req, res) => {
    if (req.headers.host === undefined && req.httpVersion === "1.1") return refuseNoHost(res);
    app(req, res);
  };
  const server = createServer(
    {
      // Checked in `handle` instead: Node's own refusal is a 400 with an empty body.
      requireHostHeader: false,
      headersTimeout: limits.httpHeadersTimeoutMs,
      requestTimeout: limits.httpRequestTimeoutMs,
      keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
      // Node checks the two timeouts on this interval (30 s by default), so a timeout is
      // enforced within about a quarter of itself; only requests in progress are checked.
      connectionsCheckingInterval: Math.min(
        1_000,
        Math.max(25, Math.floor(limits.httpHeadersTimeoutMs / 4)),
      ),
    },
    handle,
  );
  // An `Expect` other than 100-continue: Node answers a bare 417 unless someone listens.
  // RFC 9110 10.1.1 lets a server ignore an expectation it does not know, so the request
  // is served as if it had none.
  server.on("checkExpectation", handle);
  if (limits.httpMaxConnections > 0) server.maxConnections = limits.httpMaxConnections;
  server.on("clientError", answerClientError);
  return server;
}

// What Node answers to a request it cannot hand to the app, in the API's error shape.
interface ClientError {
  reason: string;
  code: ErrorCode;
  message: string;
}
const CLIENT_ERRORS: Record<string, ClientError> = {
  ERR_HTTP_REQUEST_TIMEOUT: {
    reason: "Request Timeout",
    code: "request_timeout",
    message: "the request was not received in time",
  },
  HPE_HEADER_OVERFLOW: {
    reason: "Request Header Fields Too Large",
    code: "headers_too_large",
    message: "request headers are too large",
  },
};
const BAD_REQUEST: ClientError = {
  reason: "Bad Request",
  code: "bad_request",
  message: "malformed HTTP request",
};

/**
 * A malformed or timed-out request: answered in the API's JSON error shape and closed, as
 * Node does by default (plain text) when nobody listens. Nothing is written once a
 * response to this connection has started, which would corrupt it.
 */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code !== "ECONNRESET" && socket.writable && !inFlight?.headersSent) {
    const known = (err.code && CLIENT_ERRORS[err.code]) || BAD_REQUEST;
    const body = JSON.stringify({ error: { code: known.code, message: known.message } });
    // Closed once written: the server's sockets allow half-open, and a client that never
    // closes its side would otherwise keep the descriptor.
    socket.once("finish", () => socket.destroy());
    socket.end(
      `HTTP/1.1 ${statusOf(known.code)} ${known.reason}\r\n` +
        "Content-Type: application/json; charset=utf-8\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        `Content-Length: ${Buffer.byteLength(body)}\r\n` +
        "Connection: close\r\n\r\n" +
        body,
    );
    return;
  }
  socket.destroy();
}

/** HTTP/1.1 requires Host (RFC 9112 3.2): 400 bad_request in the API's error shape, closed. */
function refuseNoHost(res: ServerResponse): void {
  const body = JSON.stringify({
    error: { code: "bad_request", message: "an HTTP/1.1 request needs a Host header" },
  });
  res.writeHead(statusOf("bad_request"), {
    "Content-Type": "application/json; charset=utf-8",
    "X-Content-Type-Options": "nosniff",
    "Content-Length": Buffer.byteLength(body),
    Connection: "close",
  });
  res.end(body);
}

/** Listens on `port` and `host`; resolves once listening. */
export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}
