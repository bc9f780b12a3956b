import { type Request, Router } from "express";
import { NotFoundError } from "../common/errors.ts";
import type { ResultsVisibility } from "../common/registry-types.ts";
import type { PublishedResults } from "../common/results-contract.ts";
import { idSchema } from "../common/vote.ts";
import { pollPhase } from "../web/assets/poll-phase.js";
import type { AppDeps } from "./app.ts";
import type { CachedPoll } from "./registry-cache.ts";

/** What anyone may know about a poll: enough for the public pages, nothing about votes. */
export interface PublicPoll {
  id: string;
  title: string;
  status: PublishedResults["status"];
  timeZone: string;
  opensAt: string | null;
  closesAt: string | null;
  resultsVisibility: ResultsVisibility;
  archived: boolean;
  /** The voting page's buttons, in order. */
  options: { id: string; label: string }[];
  /** Whether the kiosk must ask for a voter id. */
  oneVotePerVoter: boolean;
  /** The pause the voting page keeps between two votes, in ms (0: none). */
  voteCooldownMs: number;
}

export function publicPoll(poll: CachedPoll, nowMs: number): PublicPoll {
  return {
    id: poll.id,
    title: poll.title,
    status: pollPhase(poll, nowMs),
    timeZone: poll.timeZone,
    opensAt: poll.opensAt,
    closesAt: poll.closesAt,
    resultsVisibility: poll.resultsVisibility,
    archived: poll.archived,
    options: poll.options.map((o) => ({ id: o.id, label: o.label })),
    oneVotePerVoter: poll.oneVotePerVoter,
    voteCooldownMs: poll.voteCooldownMs,
  };
}

/**
 * The public list of polls for the web pages (the registry API needs the admin token).
 * Served from the in-memory registry cache: no Postgres per request.
 */
export type PublicPollRouteDeps = Pick<AppDeps, "cache" | "resultsIntervalMs">;

export function publicPollRoutes({ cache, resultsIntervalMs: intervalMs }: PublicPollRouteDeps) {
  const router = Router();
  const cacheControl = `public, max-age=${Math.max(1, Math.round(intervalMs / 1000))}`;

  /** Non-archived polls: open ones first, then upcoming, then closed; by title within each. */
  router.get("/v1/public/polls", (_req, res) => {
    const now = Date.now();
    const rank = { open: 0, not_open: 1, closed: 2 } as const;
    const polls = [...cache.polls()]
      .filter((p) => !p.archived)
      .map((p) => publicPoll(p, now))
      .sort((a, b) => rank[a.status] - rank[b.status] || a.title.localeCompare(b.title));
    res.setHeader("Cache-Control", cacheControl);
    res.json({ polls });
  });

  router.get("/v1/public/polls/:pollId", (req: Request, res) => {
    const parsed = idSchema.safeParse(req.params.pollId);
    const poll = parsed.success ? cache.poll(parsed.data) : undefined;
    if (!poll)
      throw new NotFoundError("poll_not_found", `poll "${req.params.pollId}" does not exist`);
    res.setHeader("Cache-Control", cacheControl);
    res.json(publicPoll(poll, Date.now()));
  });

  return router;
}
