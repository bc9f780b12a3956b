import { type Request, type Response, Router } from "express";
import { countsHidden } from "../../common/browser/poll-phase.js";
import { recordChartDemand } from "../../common/chart-demand.ts";
import { ForbiddenError, NotFoundError, UnavailableError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";
import type { AppDeps } from "../app.ts";
import type { CachedPoll } from "../registry/registry-cache.ts";
import type { Publication } from "./results-cache.ts";
import type { VersionEvent } from "./results-events.ts";
import { matchesEtag, ofEarlierPoll, resultsCacheControl } from "./results-fast-path.ts";
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

/**
 * The read path: the in-process results cache (a copy of Redis), never Postgres. ETag =
 * the publication's version, so a dashboard polling with If-None-Match gets a 304.
 */
export type ResultsRouteDeps = Pick<
  AppDeps,
  "cache" | "results" | "events" | "resultsIntervalMs" | "streams" | "redis" | "keyPrefix"
>;

export function resultsRoutes({
  cache,
  results,
  events,
  resultsIntervalMs: intervalMs,
  streams,
  redis,
  keyPrefix,
}: ResultsRouteDeps) {
  const router = Router();
  const retryAfter = Math.max(1, Math.round(intervalMs / 1000));
  const cacheControl = resultsCacheControl(intervalMs);

  const pollFor = (req: Request): CachedPoll => {
    const parsed = idSchema.safeParse(req.params.pollId);
    const poll = parsed.success ? cache.poll(parsed.data) : undefined;
    if (!poll)
      throw new NotFoundError("poll_not_found", `poll "${req.params.pollId}" does not exist`);
    return poll;
  };
  const visiblePoll = (req: Request): CachedPoll => {
    const poll = pollFor(req);
    if (countsHidden(poll, Date.now()))
      throw new ForbiddenError(
        "results_hidden",
        poll.closesAt
          ? `results of poll "${poll.id}" are shown after it closes at ${poll.closesAt}`
          : `results of poll "${poll.id}" are shown after it closes`,
      );
    return poll;
  };
  const redisDown = (err: unknown) =>
    new UnavailableError(
      "redis_unavailable",
      "results store is unreachable; retry shortly",
      2,
      err,
    );
  const notReady = () =>
    new UnavailableError("results_not_ready", "results have not been published yet", retryAfter);

  /**
   * The current publication, or null while there is none for this poll: also when Redis
   * still holds an earlier poll's under this id (deleted, then created again) until the
   * publisher's next run.
   */
  const publicationOf = (poll: CachedPoll, publication: Publication | null): Publication | null =>
    publication === null || ofEarlierPoll(poll, publication.version) ? null : publication;

  const fromRedis = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      throw redisDown(err);
    }
  };
  const chartUnavailable = () =>
    new UnavailableError(
      "chart_unavailable",
      "the chart of this version is not available yet",
      retryAfter,
    );
  /** Answers 304 when the client has this version already (ETag and Cache-Control on a 200 or 304 only). */
  const notModified = (req: Request, res: Response, etag: string): boolean => {
    if (!matchesEtag(req.headers["if-none-match"], etag)) return false;
    res.setHeader("ETag", etag);
    res.setHeader("Cache-Control", cacheControl);
    res.status(304).end();
    return true;
  };

  // Served from the process's copy of the publication (ResultsCache): no Redis round trip
  // per read once it is in memory (resultsFastPath answers those hits before the routers).
  // The ETag, the body and the PNG come from one MGET, so they are of one version.
  router.get("/v1/polls/:pollId/results", async (req, res) => {
    const poll = visiblePoll(req);
    const publication = publicationOf(
      poll,
      results.current(poll.id) ?? (await fromRedis(() => results.load(poll.id))),
    );
    if (publication === null) throw notReady();
    if (notModified(req, res, publication.etag)) return;
    res
      .writeHead(200, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": publication.json.length,
        ETag: publication.etag,
        "Cache-Control": cacheControl,
      })
      .end(publication.json);
  });

  router.get("/v1/polls/:pollId/results.png", async (req, res) => {
    const poll = visiblePoll(req);
    const publication = publicationOf(poll, await fromRedis(() => results.loadWithPng(poll.id)));
    if (publication === null) throw notReady();
    // Publishers draw the charts of polls being read; a missing one is queued at once.
    recordChartDemand(redis, keyPrefix, poll.id, !publication.png);
    // Before a renderer drew this version (or after a failed render) the version has no
    // PNG: that is no 304 either.
    if (!publication.png) throw chartUnavailable();
    if (notModified(req, res, publication.etag)) return;
    res
      .writeHead(200, {
        "Content-Type": "image/png",
        "Content-Length": publication.png.length,
        ETag: publication.etag,
        "Cache-Control": cacheControl,
      })
      .end(publication.png);
  });

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
    pollFor(req);
    res.writeHead(200, SSE_HEADERS).end();
  });

  // Hidden polls have a stream too: their version moves only with the registry row and the
  // phase (never with votes), so it tells a dashboard when the results show and nothing else.
  router.get("/v1/polls/:pollId/events", async (req, res) => {
    const poll = pollFor(req);
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
