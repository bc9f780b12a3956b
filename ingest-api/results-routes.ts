import { type Request, type Response, Router } from "express";
import { RESP_TYPES } from "redis";
import { recordChartDemand } from "../common/chart-demand.ts";
import { ForbiddenError, NotFoundError, UnavailableError } from "../common/errors.ts";
import { resultsKeys } from "../common/results-contract.ts";
import { idSchema } from "../common/vote.ts";
import { publishedForEarlierPoll } from "../result-publisher/published-version.ts";
import { countsHidden } from "../web/assets/poll-phase.js";
import type { AppDeps } from "./app.ts";
import type { CachedPoll } from "./registry-cache.ts";
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

function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/**
 * The read path: Redis only, never Postgres. ETag = the publication's version, so a
 * dashboard polling with If-None-Match costs one small GET and a 304.
 */
export type ResultsRouteDeps = Pick<
  AppDeps,
  "cache" | "redis" | "events" | "keyPrefix" | "resultsIntervalMs" | "streams"
>;

export function resultsRoutes({
  cache,
  redis,
  events,
  keyPrefix,
  resultsIntervalMs: intervalMs,
  streams,
}: ResultsRouteDeps) {
  const router = Router();
  const maxAge = Math.max(1, Math.round(intervalMs / 1000));
  const retryAfter = maxAge;
  const binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });

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

  // A poll deleted and created again: Redis holds the old poll's results until the
  // publisher's next run. They are not this poll's, so they are "not published yet".
  const ofEarlierPoll = (poll: CachedPoll, version: string) =>
    publishedForEarlierPoll(version, Date.parse(poll.createdAt));

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
  /** ETag and Cache-Control go on a 200 or a 304 only: never on an error a cache could keep. */
  const validators = (res: Response, version: string) => {
    res.setHeader("ETag", `"${version}"`);
    res.setHeader("Cache-Control", `public, max-age=${maxAge}`);
  };
  /** Answers 304 when the client has this version already. */
  const notModified = (req: Request, res: Response, version: string): boolean => {
    if (!matches(req.headers["if-none-match"], `"${version}"`)) return false;
    validators(res, version);
    res.status(304).end();
    return true;
  };

  // A dashboard polling with the current ETag costs one small read and a 304. Otherwise the
  // version and the body are read in one MGET (atomic), so the ETag always names the body's
  // version even when a publication lands between the two reads.
  router.get("/v1/polls/:pollId/results", async (req, res) => {
    const poll = visiblePoll(req);
    const keys = resultsKeys(keyPrefix, poll.id);
    const version = await fromRedis(() => redis.get(keys.version));
    if (version === null || ofEarlierPoll(poll, version)) throw notReady();
    if (notModified(req, res, version)) return;
    const [current, json] = await fromRedis(() => redis.mGet([keys.version, keys.json]));
    if (current == null || json == null || ofEarlierPoll(poll, current)) throw notReady();
    validators(res, current);
    res.type("application/json").send(json);
  });

  router.get("/v1/polls/:pollId/results.png", async (req, res) => {
    const poll = visiblePoll(req);
    const keys = resultsKeys(keyPrefix, poll.id);
    // Before a renderer drew this version (or after a failed render) the version has no
    // PNG: that is no 304 either.
    const [version, hasPng] = await fromRedis(() =>
      redis.multi().get(keys.version).exists(keys.png).execTyped(),
    );
    if (version === null || ofEarlierPoll(poll, version)) throw notReady();
    // Publishers draw the charts of polls being read; a missing one is queued at once.
    recordChartDemand(redis, keyPrefix, poll.id, hasPng === 0);
    if (hasPng === 0) throw chartUnavailable();
    if (notModified(req, res, version)) return;
    const [current, png] = await fromRedis(() => binary.mGet([keys.version, keys.png]));
    if (current == null || ofEarlierPoll(poll, current.toString())) throw notReady();
    if (png == null) throw chartUnavailable();
    validators(res, current.toString());
    res.type("image/png").send(png);
  });

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
    const write = (text: string) => {
      if (res.destroyed) return;
      res.write(text);
      if (res.writableLength > streams.maxBufferedBytes) res.destroy();
    };
    const send = (event: { pollId: string; version: string }) => {
      if (ofEarlierPoll(poll, event.version)) return;
      write(`event: results\nid: ${event.version}\ndata: ${JSON.stringify(event)}\n\n`);
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
    const version = await redis.get(resultsKeys(keyPrefix, poll.id).version).catch(() => null);
    if (version !== null && !res.writableEnded) send({ pollId: poll.id, version });
  });

  return router;
}
