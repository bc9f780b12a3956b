import { Router } from "express";
import { recordChartDemand } from "../../common/chart-demand.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { ResultsCache } from "./results-cache.ts";
import {
  answeredNotModified,
  publicationOf,
  readErrors,
  resultsCacheControl,
  visiblePollOf,
} from "./results-http.ts";

export interface ResultsPngRouteDeps {
  cache: RegistryCache;
  results: ResultsCache;
  resultsIntervalMs: number;
  /** Where a chart's demand is recorded for the publishers (common/chart-demand.ts). */
  redis: RedisClient;
  keyPrefix: string;
}

/**
 * GET /v1/polls/:pollId/results.png: the chart of the current version. The ETag, the body
 * and the PNG come from one MGET, so they are of one version.
 */
export function resultsPngRoute({
  cache,
  results,
  resultsIntervalMs,
  redis,
  keyPrefix,
}: ResultsPngRouteDeps): Router {
  const router = Router();
  const cacheControl = resultsCacheControl(resultsIntervalMs);
  const errors = readErrors(resultsIntervalMs);
  router.get("/v1/polls/:pollId/results.png", async (req, res) => {
    const poll = visiblePollOf(cache, req);
    const publication = publicationOf(
      poll,
      await errors.fromRedis(() => results.loadWithPng(poll.id)),
    );
    if (publication === null) throw errors.notReady();
    // Publishers draw the charts of polls being read; a missing one is queued at once.
    recordChartDemand(redis, keyPrefix, poll.id, !publication.png);
    // Before a renderer drew this version (or after a failed render) the version has no
    // PNG: that is no 304 either.
    if (!publication.png) throw errors.chartUnavailable();
    if (answeredNotModified(req, res, publication.etag, cacheControl)) return;
    res
      .writeHead(200, {
        "Content-Type": "image/png",
        "Content-Length": publication.png.length,
        ETag: publication.etag,
        "Cache-Control": cacheControl,
      })
      .end(publication.png);
  });
  return router;
}
