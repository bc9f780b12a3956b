import { createHash } from "node:crypto";
import { type Request, type Response, Router } from "express";
import { pollPhase } from "../../common/browser/poll-phase.js";
import { NotFoundError, ValidationError } from "../../common/errors.ts";
import {
  DEFAULT_SCHOOL_ID,
  type PollKind,
  type PollVoters,
  type ResultsVisibility,
} from "../../common/registry-types.ts";
import type { PublishedResults } from "../../common/results-contract.ts";
import { idSchema } from "../../common/vote.ts";
import type { CachedPoll, RegistryCache } from "../registry/registry-cache.ts";

/** What anyone may know about a poll: enough for the public pages, nothing about votes. */
export interface PublicPoll {
  id: string;
  schoolId: string;
  /** `attendance`: a register, whose voting page is the check-in mode (in, out, a temperature). */
  kind: PollKind;
  title: string;
  status: PublishedResults["status"];
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: ResultsVisibility;
  archived: boolean;
  /** The voting page's buttons, in order. */
  options: { id: string; label: string }[];
  /** One vote per voter: the kiosk must ask for a voter id. */
  oneVotePerVoter: boolean;
  /** "roster": only the school's people may vote, so the kiosk must ask for a voter id too. */
  voters: PollVoters;
  /** The pause the voting page keeps between two votes, in ms (0: none). */
  voteCooldownMs: number;
}

export function publicPoll(poll: CachedPoll, nowMs: number): PublicPoll {
  return {
    id: poll.id,
    schoolId: poll.schoolId,
    kind: poll.kind,
    title: poll.title,
    status: pollPhase(poll, nowMs),
    timeZone: poll.timeZone,
    opensAt: poll.opensAt,
    closesAt: poll.closesAt,
    resultsVisibility: poll.resultsVisibility,
    archived: poll.archived,
    options: poll.options.map((o) => ({ id: o.id, label: o.label })),
    oneVotePerVoter: poll.oneVotePerVoter,
    voters: poll.voters,
    voteCooldownMs: poll.voteCooldownMs,
  };
}

/** An answer built once: its bytes, their ETag, and until when its phases hold. */
interface Built {
  registryVersion: number;
  /** The next opensAt/closesAt ahead: a status (and the list's order) changes then. */
  validUntilMs: number;
  body: Buffer;
  etag: string;
}

/** The first of these instants after `nowMs` (Infinity: none). */
function nextBoundary(polls: Iterable<CachedPoll>, nowMs: number): number {
  let next = Number.POSITIVE_INFINITY;
  for (const p of polls)
    for (const at of [p.opensAtMs, p.closesAtMs])
      if (at !== null && at > nowMs && at < next) next = at;
  return next;
}

function built(value: unknown, registryVersion: number, validUntilMs: number): Built {
  const body = Buffer.from(JSON.stringify(value));
  // From the bytes: two API processes give the same answer the same ETag.
  const etag = `"p-${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
  return { registryVersion, validUntilMs, body, etag };
}

const fresh = (b: Built | undefined, cache: RegistryCache, nowMs: number): b is Built =>
  b !== undefined && b.registryVersion === cache.version && nowMs < b.validUntilMs;

export interface PublicPollRouteDeps {
  cache: RegistryCache;
  /** The publisher's interval: how long a list may be cached. */
  resultsIntervalMs: number;
}

/**
 * The public list of polls for the web pages (the registry API needs the admin token).
 * Served from the in-memory registry cache, and built once per registry version (and
 * again when a poll opens or closes): no Postgres and no sorting per request.
 */
export function publicPollRoutes({ cache, resultsIntervalMs: intervalMs }: PublicPollRouteDeps) {
  const router = Router();
  const cacheControl = `public, max-age=${Math.max(1, Math.round(intervalMs / 1000))}`;
  /** One list per school asked for; rebuilt when the registry version moves. */
  let lists = new Map<string, Built>();
  /** The registry's polls by school, indexed once per registry version. */
  let bySchool = new Map<string, CachedPoll[]>();
  let indexedVersion = -1;
  /** One entry per poll asked for; all dropped when the registry version moves. */
  let single = new Map<string, Built>();
  let singleVersion = -1;

  const schoolPolls = (schoolId: string): CachedPoll[] => {
    if (indexedVersion !== cache.version) {
      bySchool = new Map();
      for (const p of cache.polls()) {
        if (p.archived) continue;
        const list = bySchool.get(p.schoolId);
        if (list === undefined) bySchool.set(p.schoolId, [p]);
        else list.push(p);
      }
      lists = new Map();
      indexedVersion = cache.version;
    }
    return bySchool.get(schoolId) ?? [];
  };

  /**
   * A school's non-archived polls: open ones first, then upcoming, then closed; by title
   * within each. One list per school: a thousand schools' polls are not one list.
   */
  const buildList = (school: { id: string; name: string }, now: number): Built => {
    const rank = { open: 0, not_open: 1, closed: 2 } as const;
    const live = schoolPolls(school.id);
    const polls = live
      .map((p) => publicPoll(p, now))
      .sort((a, b) => rank[a.status] - rank[b.status] || a.title.localeCompare(b.title));
    return built(
      { school: { id: school.id, name: school.name }, polls },
      cache.version,
      nextBoundary(live, now),
    );
  };

  const send = (req: Request, res: Response, answer: Built) => {
    res.setHeader("Cache-Control", cacheControl);
    res.setHeader("ETag", answer.etag);
    if (
      req.headers["if-none-match"]
        ?.split(",")
        .some((t) => t.trim().replace(/^W\//, "") === answer.etag)
    ) {
      res.status(304).end();
      return;
    }
    res
      .writeHead(200, {
        "Content-Type": "application/json; charset=utf-8",
        "Content-Length": answer.body.length,
      })
      .end(answer.body);
  };

  // `?schoolId=` (default: the `default` school, which holds what predates schools).
  router.get("/v1/public/polls", (req, res) => {
    const asked = req.query.schoolId ?? DEFAULT_SCHOOL_ID;
    const parsed = idSchema.safeParse(asked);
    if (!parsed.success)
      throw new ValidationError([{ field: "schoolId", message: "is not a valid school id" }]);
    const school = cache.school(parsed.data);
    if (school === undefined)
      throw new NotFoundError("school_not_found", `school "${parsed.data}" does not exist`);
    const now = Date.now();
    schoolPolls(school.id); // drops the lists of an older registry version
    let list = lists.get(school.id);
    if (!fresh(list, cache, now)) {
      list = buildList(school, now);
      lists.set(school.id, list);
    }
    send(req, res, list);
  });

  router.get("/v1/public/polls/:pollId", (req: Request, res) => {
    const parsed = idSchema.safeParse(req.params.pollId);
    const poll = parsed.success ? cache.poll(parsed.data) : undefined;
    if (!poll)
      throw new NotFoundError("poll_not_found", `poll "${req.params.pollId}" does not exist`);
    const now = Date.now();
    if (singleVersion !== cache.version) {
      single = new Map();
      singleVersion = cache.version;
    }
    let answer = single.get(poll.id);
    if (!fresh(answer, cache, now)) {
      answer = built(publicPoll(poll, now), cache.version, nextBoundary([poll], now));
      single.set(poll.id, answer);
    }
    send(req, res, answer);
  });

  return router;
}
