import type { OutgoingHttpHeaders } from "node:http";
import type { NextFunction, Request, RequestHandler, Response } from "express";
import { countsHidden } from "../../common/browser/poll-phase.js";
import type { IngestMetrics } from "../http/ingest-metrics.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { Publication, ResultsCache } from "./results-cache.ts";
import {
  answeredNotModified,
  matchesEtag,
  ofEarlierPoll,
  publicationOf,
  RESULTS_ROUTE,
  readErrors,
  resultsCacheControl,
  visiblePollOf,
} from "./results-http.ts";

export interface ResultsJsonRouteDeps {
  cache: RegistryCache;
  /** The in-process copy of the current publications (the read path's source). */
  results: ResultsCache;
  resultsIntervalMs: number;
  metrics: Pick<IngestMetrics, "httpRequests" | "httpDuration">;
  /** CORS for the route, when origins are configured. */
  cors?: RequestHandler;
  /** The per-address `results` limit, when one is configured. */
  throttle?: RequestHandler;
}

/**
 * GET /v1/polls/:pollId/results, the busiest route: every screen polls it. Mounted ahead of
 * the app's metrics middleware and routers, so that a hit (a visible poll whose
 * publication is in memory) costs two header writes: it is answered synchronously with
 * headers made once per publication, and counts itself in the request metrics. Everything
 * else (unknown or hidden poll, nothing in memory yet, an earlier poll's publication) is
 * answered by the same handler from Redis, with every error of the read path.
 *
 * With a per-address limit, the throttle runs first (each read then costs the limit's
 * Redis call anyway) and every request, hit or not, is counted when it finishes.
 */
export function resultsJsonRoute(deps: ResultsJsonRouteDeps): RequestHandler[] {
  const { cache, results, resultsIntervalMs, metrics } = deps;
  const cacheControl = resultsCacheControl(resultsIntervalMs);
  const errors = readErrors(resultsIntervalMs);
  const ok = metrics.httpRequests.labels("GET", RESULTS_ROUTE, "200");
  const notModified = metrics.httpRequests.labels("GET", RESULTS_ROUTE, "304");
  const duration = metrics.httpDuration.labels(RESULTS_ROUTE);
  const headersOf = new WeakMap<Publication, OutgoingHttpHeaders>();
  const headers = (publication: Publication): OutgoingHttpHeaders => {
    let made = headersOf.get(publication);
    if (made === undefined) {
      made = {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": publication.json.length,
        ETag: publication.etag,
        "Cache-Control": cacheControl,
      };
      headersOf.set(publication, made);
    }
    return made;
  };
  const countOnFinish = (res: Response, started: number) => {
    res.once("finish", () => {
      metrics.httpRequests.inc({ method: "GET", route: RESULTS_ROUTE, status: res.statusCode });
      duration.observe((performance.now() - started) / 1000);
    });
  };
  const send = (req: Request, res: Response, publication: Publication): void => {
    if (!matchesEtag(req.headers["if-none-match"], publication.etag))
      res.writeHead(200, headers(publication)).end(publication.json);
    else answeredNotModified(req, res, publication.etag, cacheControl);
  };

  /** The hit: answered from memory, or false when the read needs more than memory. */
  const hit = (req: Request, res: Response): boolean => {
    // An id idSchema would refuse is in no cache: the read below answers it.
    const poll = cache.poll(String(req.params.pollId));
    if (poll === undefined || countsHidden(poll, Date.now())) return false;
    const publication = results.current(poll.id);
    if (publication === undefined || ofEarlierPoll(poll, publication.version)) return false;
    send(req, res, publication);
    return true;
  };

  /** Everything else, with its errors: 404, 403 hidden, 503 not published or Redis down. */
  const read = async (req: Request, res: Response): Promise<void> => {
    const poll = visiblePollOf(cache, req);
    const publication = publicationOf(
      poll,
      results.current(poll.id) ?? (await errors.fromRedis(() => results.load(poll.id))),
    );
    if (publication === null) throw errors.notReady();
    send(req, res, publication);
  };

  const counted = deps.throttle !== undefined;
  const handler = (req: Request, res: Response, next: NextFunction) => {
    const started = performance.now();
    if (!counted && hit(req, res)) {
      (res.statusCode === 304 ? notModified : ok).inc();
      duration.observe((performance.now() - started) / 1000);
      return;
    }
    if (!counted) countOnFinish(res, started);
    else if (hit(req, res)) return;
    read(req, res).catch(next);
  };
  const countAll: RequestHandler = (_req, res, next) => {
    countOnFinish(res, performance.now());
    next();
  };
  return [
    ...(deps.cors ? [deps.cors] : []),
    ...(deps.throttle ? [countAll, deps.throttle] : []),
    handler,
  ];
}
