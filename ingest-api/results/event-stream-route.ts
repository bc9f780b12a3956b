import { Router } from "express";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { ResultsCache } from "./results-cache.ts";
import type { ResultsEvents, VersionEvent } from "./results-events.ts";
import { ofEarlierPoll, pollOf } from "./results-http.ts";
import type { StreamAdmission } from "./sse-admission.ts";

/** The event stream's headers, also the answer to HEAD. */
const SSE_HEADERS = {
  "Content-Type": "text/event-stream; charset=utf-8",
  "Cache-Control": "no-cache, no-transform",
  Connection: "keep-alive",
  "X-Accel-Buffering": "no", // nginx: do not buffer the stream
};

/** Bounds of the event streams: the caps (StreamAdmission) and the heartbeat interval. */
export interface EventStreamOptions {
  admission: StreamAdmission;
  heartbeatMs: number;
  /** Unsent bytes a stream may hold before it is closed (SSE_MAX_BUFFERED_BYTES). */
  maxBufferedBytes: number;
}

export interface EventStreamRouteDeps {
  cache: RegistryCache;
  results: ResultsCache;
  events: ResultsEvents;
  resultsIntervalMs: number;
  streams: EventStreamOptions;
}

/**
 * GET (and HEAD) /v1/polls/:pollId/events: a Server-Sent Events stream that announces each
 * new version of a poll's results, so that a dashboard fetches the JSON only when it moved.
 */
export function eventStreamRoute({
  cache,
  results,
  events,
  resultsIntervalMs: intervalMs,
  streams,
}: EventStreamRouteDeps): Router {
  const router = Router();

  // One announcement reaches every stream of its poll as the same event object: its frame
  // is encoded once, not once per stream.
  const frames = new WeakMap<VersionEvent, Buffer>();
  const frameOf = (event: VersionEvent): Buffer => {
    let frame = frames.get(event);
    if (frame === undefined) {
      frame = Buffer.from(
        `event: results\nid: ${event.version}\ndata: ${JSON.stringify(event)}\n\n`,
      );
      frames.set(event, frame);
    }
    return frame;
  };

  // HEAD answers at once with the stream's headers (a GET route would answer HEAD with a
  // stream that never ends); it holds no slot.
  router.head("/v1/polls/:pollId/events", (req, res) => {
    pollOf(cache, req);
    res.writeHead(200, SSE_HEADERS).end();
  });

  // Hidden polls have a stream too: their version moves only with the registry row and the
  // phase (never with votes), so it tells a dashboard when the results show and nothing else.
  router.get("/v1/polls/:pollId/events", async (req, res) => {
    const poll = pollOf(cache, req);
    // The connect was rate-checked asynchronously: a client gone meanwhile has already
    // closed its response, so a slot or a heartbeat taken now would never be released.
    if (res.destroyed || req.socket.destroyed) return;
    // 503/429 beyond the caps, closing the connection: a refused client holding it idle
    // would take a connection from votes. req.ip is the socket's address unless TRUST_PROXY.
    let release: () => void;
    try {
      release = streams.admission.admit(req.ip ?? req.socket.remoteAddress ?? "unknown");
    } catch (err) {
      res.setHeader("Connection", "close");
      throw err;
    }
    res.once("close", release);
    res.writeHead(200, SSE_HEADERS);
    // A client that stops reading (a slow-read attack, a frozen screen) leaves each event in
    // this process's memory once the kernel's buffers are full, for as long as it stays
    // connected: past the bound the stream is closed, and a live page reconnects by itself.
    const write = (chunk: string | Buffer) => {
      if (res.destroyed) return;
      res.write(chunk);
      // A response corks its socket and flushes it on the next tick: for a fan-out that
      // would move every stream's syscall out of the slice that wrote it, so the slices
      // (results-events.ts) could not bound how long votes wait. Flushed here, at once.
      res.socket?.uncork();
      if (res.writableLength > streams.maxBufferedBytes) res.destroy();
    };
    const send = (event: VersionEvent) => {
      if (!ofEarlierPoll(poll, event.version)) write(frameOf(event));
    };
    write(`retry: ${Math.max(1_000, intervalMs)}\n\n`);
    if (!events.track(res)) return;
    const unsubscribe = events.on(poll.id, send);
    // A comment line: proxies see traffic and keep the stream, and a dead peer shows up as
    // a failed write instead of holding its slot for ever.
    const heartbeat = setInterval(() => write(": ping\n\n"), streams.heartbeatMs);
    // The response's close: the client going away, or the server ending the stream.
    res.once("close", () => {
      clearInterval(heartbeat);
      unsubscribe();
    });
    // The version current at connect time, so a client never waits a whole interval.
    const current = results.current(poll.id) ?? (await results.load(poll.id).catch(() => null));
    if (current && !res.writableEnded) send({ pollId: poll.id, version: current.version });
  });

  return router;
}
