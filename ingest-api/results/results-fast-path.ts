import type { OutgoingHttpHeaders } from "node:http";
import type { NextFunction, Request, Response } from "express";
import { countsHidden } from "../../common/browser/poll-phase.js";
import { publishedForEarlierPoll } from "../../result-publisher/published-version.ts";
import type { AppDeps } from "../app.ts";
import type { IngestMetrics } from "../http/ingest-metrics.ts";
import type { CachedPoll } from "../registry/registry-cache.ts";
import type { Publication } from "./results-cache.ts";

/** The results JSON's route: the hot path and the full route are mounted on it. */
export const RESULTS_ROUTE = "/v1/polls/:pollId/results";

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
 * Whether a publication is of an earlier poll under this id (deleted, then created again):
 * not this poll's results (published-version.ts).
 */
export function ofEarlierPoll(poll: CachedPoll, version: string): boolean {
  return publishedForEarlierPoll(version, poll.createdAtMs);
}

export type ResultsFastPathDeps = Pick<AppDeps, "cache" | "results" | "resultsIntervalMs">;

/**
 * The results JSON's hot path: a visible poll whose publication is in memory is answered
 * here, with headers made once per publication. Everything else (unknown or hidden poll,
 * nothing cached yet, a fetch running, an earlier poll's publication) goes on to the
 * route, which gives the same answers and every error. Mounted on the route's path, after
 * the security headers (see app.ts for where, with the rate limits on or off).
 */
export function resultsFastPath(
  { cache, results, resultsIntervalMs }: ResultsFastPathDeps,
  /** When mounted ahead of the metrics middleware: the hits count themselves. */
  metrics?: Pick<IngestMetrics, "httpRequests" | "httpDuration">,
) {
  const cacheControl = resultsCacheControl(resultsIntervalMs);
  const ok = metrics?.httpRequests.labels("GET", RESULTS_ROUTE, "200");
  const notModified = metrics?.httpRequests.labels("GET", RESULTS_ROUTE, "304");
  const duration = metrics?.httpDuration.labels(RESULTS_ROUTE);
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
    const started = performance.now();
    // An id idSchema would refuse is in no cache: the route answers it.
    const poll = cache.poll(String(req.params.pollId));
    if (poll === undefined || countsHidden(poll, Date.now())) return next();
    const publication = results.current(poll.id);
    if (publication === undefined || ofEarlierPoll(poll, publication.version)) return next();
    if (matchesEtag(req.headers["if-none-match"], publication.etag)) {
      res.writeHead(304, { ETag: publication.etag, "Cache-Control": cacheControl }).end();
      notModified?.inc();
    } else {
      res.writeHead(200, headers(publication)).end(publication.json);
      ok?.inc();
    }
    duration?.observe((performance.now() - started) / 1000);
  };
}
