import { type Request, type RequestHandler, Router } from "express";
import { z } from "zod";
import { AppError, ValidationError } from "../../common/errors.ts";
import { toFieldIssues } from "../../common/vote.ts";
import { requireKiosk } from "../auth/bearer-auth.ts";
import { jsonBody } from "../http/json-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { VoteService, VotingKiosk } from "./vote-service.ts";

export interface VoteRouteLimits {
  maxVoteBodyBytes: number;
  maxBatchBodyBytes: number;
  maxBatchItems: number;
}

/** Per-kiosk rate limits, run after auth and before the body is read. */
export interface KioskThrottles {
  votes: RequestHandler;
  batches: RequestHandler;
}

// A batch body holds `votes` and nothing else: an unknown field (a typo, or a `kioskId`
// a client hopes is used) is refused as in a single vote, not silently dropped.
const batchEnvelopeSchema = z.strictObject({ votes: z.unknown() });

const none: RequestHandler = (_req, _res, next) => next();

export interface VoteRouteDeps {
  votes: VoteService;
  /** Who the kiosk is (its token), from the registry cache. */
  cache: RegistryCache;
  limits: VoteRouteLimits;
  throttles?: KioskThrottles;
  /** After auth: the kiosk was seen, and its X-Kiosk-Status is kept (kiosk-health.ts). */
  track?: RequestHandler;
}

export function voteRoutes({
  votes: service,
  cache,
  limits,
  throttles = { votes: none, batches: none },
  track = none,
}: VoteRouteDeps) {
  const router = Router();
  const kiosk = requireKiosk(cache, true);
  // A teacher is no kiosk: its requests say nothing of a kiosk's health.
  const seen: RequestHandler = (req, res, next) => (req.teacher ? next() : track(req, res, next));

  const voteBody = jsonBody(limits.maxVoteBodyBytes, "MAX_VOTE_BODY_BYTES");
  router.post("/v1/votes", kiosk, seen, throttles.votes, voteBody, async (req, res) => {
    const result = await service.acceptOne(votingAs(req), req.body);
    res.status(202).json(result);
  });

  const batchBody = jsonBody(limits.maxBatchBodyBytes, "MAX_BATCH_BODY_BYTES");
  router.post("/v1/votes/batch", kiosk, seen, throttles.batches, batchBody, async (req, res) => {
    const body: unknown = req.body;
    const votes =
      typeof body === "object" && body !== null && "votes" in body ? body.votes : undefined;
    if (!Array.isArray(votes))
      throw new ValidationError([{ field: "votes", message: "must be an array of votes" }]);
    const envelope = batchEnvelopeSchema.safeParse(body);
    if (!envelope.success) throw new ValidationError(toFieldIssues(envelope.error));
    if (votes.length === 0)
      throw new ValidationError([{ field: "votes", message: "must hold at least one vote" }]);
    if (votes.length > limits.maxBatchItems)
      throw new AppError(
        413,
        "batch_too_large",
        `a batch holds at most ${limits.maxBatchItems} votes, got ${votes.length}`,
        { details: { maxItems: limits.maxBatchItems } },
      );
    const result = await service.acceptBatch(votingAs(req), votes);
    res.status(200).json(result);
  });

  return router;
}

/** The kiosk, or a teacher: any lesson register of its school, nothing else. */
function votingAs(req: Request): VotingKiosk {
  if (req.teacher === undefined) return req.kiosk!;
  return { id: req.teacher.id, schoolId: req.teacher.schoolId, pollIds: null, registersOnly: true };
}
