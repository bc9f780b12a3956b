import { z } from "zod";
import { voteInputSchema } from "../../common/vote.ts";

// What the vote routes take and answer. A vote's own rules are common/vote.ts's (the
// writer reads the same schema); the batch's envelope and the answers are the API's.

export const voteBodySchema = voteInputSchema.meta({ id: "Vote" });

/** `POST /v1/votes/batch`: `votes` and nothing else. Each vote is judged on its own. */
export const batchBodySchema = z.strictObject({ votes: z.array(voteBodySchema).min(1) });

const voteStatusSchema = z.enum(["accepted", "duplicate"]);

export const voteAnswerSchema = z
  .strictObject({
    eventId: z.string(),
    status: voteStatusSchema,
    castAtClamped: z.literal(true).optional(),
  })
  .meta({ id: "VoteAnswer" });

/** A refused item of a batch: the error a single vote would have had, its status inside. */
const itemErrorSchema = z.strictObject({
  status: z.int(),
  code: z.string(),
  message: z.string(),
  details: z.unknown().optional(),
});

export const batchItemAnswerSchema = z
  .union([
    z.strictObject({
      index: z.int(),
      eventId: z.string(),
      status: voteStatusSchema,
      castAtClamped: z.literal(true).optional(),
    }),
    z.strictObject({
      index: z.int(),
      eventId: z.string().nullable(),
      status: z.literal("rejected"),
      error: itemErrorSchema,
    }),
  ])
  .meta({ id: "BatchItemAnswer" });

export const batchAnswerSchema = z
  .strictObject({
    accepted: z.int(),
    duplicates: z.int(),
    rejected: z.int(),
    results: z.array(batchItemAnswerSchema).meta({ description: "in input order" }),
  })
  .meta({ id: "BatchAnswer" });
