import type { OutgoingHttpHeaders } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { countsHidden } from "../web/assets/poll-phase.js";
import type { IngestMetrics } from "./ingest-metrics.ts";
import type { RegistryCache } from "./registry-cache.ts";
import type { Publication, ResultsCache } from "./results-cache.ts";

/** The route label both paths give the metrics. */
export const RESULTS_ROUTE = "/v1/polls/:pollId/results";

/** `GET /v1/polls/<id>/results` with no query string: ids as idSchema takes them. */
const RESULTS_PATH = /^\/v1\/polls\/([A-Za-z0-9_-]{1,64})\/results$/;

/** The results' Cache-Control: fresh for one publisher interval, in whole seconds (≥ 1). */
export function resultsCacheControl(intervalMs: number): string {
  return `public, max-age=${Math.max(1, Math.round(intervalMs / 1000))}`;
}

/** If-None-Match against one ETag: a list, weak forms and `*` included. */
export function matchesEtag(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === "*") return true;
  return ifNoneMatch.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/**
 * The results JSON's hot path, ahead of the routers: a visible poll whose publication is
 * in memory is answered here with headers made once per publication, and counted in the
 * same metrics as the route. Everything else (unknown or hidden poll, nothing cached yet,
 * a fetch running, a query string) goes on to the route, which gives the same answers
 * and every error. Mounted after the security headers, so those are on these answers too.
 */
export function resultsFastPath(
  cache: RegistryCache,
  results: ResultsCache,
  metrics: Pick<IngestMetrics, "httpRequests" | "httpDuration">,
  cacheControl: string,
) {
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

  return (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "GET") return next();
    const match = RESULTS_PATH.exec(req.url);
    if (match === null) return next();
    const started = performance.now();
    const poll = cache.poll(match[1]!);
    if (poll === undefined || countsHidden(poll, Date.now())) return next();
    const publication = results.current(poll.id);
    if (publication === undefined) return next();
    if (matchesEtag(req.headers["if-none-match"], publication.etag)) {
      res.writeHead(304, { ETag: publication.etag, "Cache-Control": cacheControl }).end();
      notModified.inc();
    } else {
      res.writeHead(200, headers(publication)).end(publication.json);
      ok.inc();
    }
    duration.observe((performance.now() - started) / 1000);
  };
}
