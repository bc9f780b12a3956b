import type { Request, Response } from "express";
import { countsHidden } from "../../common/browser/poll-phase.js";
import { ForbiddenError, NotFoundError, UnavailableError } from "../../common/errors.ts";
import { publishedForEarlierPoll } from "../../common/results-version.ts";
import { idSchema } from "../../common/vote.ts";
import type { CachedPoll, RegistryCache } from "../registry/registry-cache.ts";
import type { Publication } from "./results-cache.ts";

// What every results route (JSON, PNG, event stream) answers alike: which poll a path
// names, whether its counts may be shown, caching headers and the errors of the read path.

/** The results JSON's route. */
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
 * not this poll's results (common/results-version.ts).
 */
export function ofEarlierPoll(poll: CachedPoll, version: string): boolean {
  return publishedForEarlierPoll(version, poll.createdAtMs);
}

/**
 * The current publication, or null while there is none for this poll: also when Redis
 * still holds an earlier poll's under this id (deleted, then created again) until the
 * publisher's next run.
 */
export function publicationOf(
  poll: CachedPoll,
  publication: Publication | null | undefined,
): Publication | null {
  return publication == null || ofEarlierPoll(poll, publication.version) ? null : publication;
}

/** The poll a results path names, or 404 `poll_not_found`. */
export function pollOf(cache: RegistryCache, req: Request): CachedPoll {
  const parsed = idSchema.safeParse(req.params.pollId);
  const poll = parsed.success ? cache.poll(parsed.data) : undefined;
  if (!poll)
    throw new NotFoundError("poll_not_found", `poll "${req.params.pollId}" does not exist`);
  return poll;
}

/** As pollOf, and 403 `results_hidden` while its counts may not be shown. */
export function visiblePollOf(cache: RegistryCache, req: Request): CachedPoll {
  const poll = pollOf(cache, req);
  if (countsHidden(poll, Date.now()))
    throw new ForbiddenError(
      "results_hidden",
      poll.closesAt
        ? `results of poll "${poll.id}" are shown after it closes at ${poll.closesAt}`
        : `results of poll "${poll.id}" are shown after it closes`,
    );
  return poll;
}

/** The answers of a read that found nothing it may serve, with Retry-After. */
export function readErrors(intervalMs: number) {
  const retryAfterS = Math.max(1, Math.round(intervalMs / 1000));
  return {
    notReady: () =>
      new UnavailableError("results_not_ready", "results have not been published yet", retryAfterS),
    chartUnavailable: () =>
      new UnavailableError(
        "chart_unavailable",
        "the chart of this version is not available yet",
        retryAfterS,
      ),
    /** Runs a Redis read; its failure is 503 `redis_unavailable`. */
    fromRedis: async <T>(read: () => Promise<T>): Promise<T> => {
      try {
        return await read();
      } catch (err) {
        throw new UnavailableError(
          "redis_unavailable",
          "results store is unreachable; retry shortly",
          2,
          err,
        );
      }
    },
  };
}

/** Answers 304 when the client has this version already (ETag and Cache-Control on a 200 or 304 only). */
export function answeredNotModified(
  req: Request,
  res: Response,
  etag: string,
  cacheControl: string,
): boolean {
  if (!matchesEtag(req.headers["if-none-match"], etag)) return false;
  res.writeHead(304, { ETag: etag, "Cache-Control": cacheControl }).end();
  return true;
}
