import { z } from "zod";
import { DEAD_LETTER_REASONS, DEAD_LETTER_STATES } from "../../common/dead-letters.ts";
import { idSchema } from "../../common/vote.ts";
import type { DeadLetterConfig } from "./dead-letter-config.ts";

// What the dead letters' routes take and answer (described in dead-letter-openapi.ts).

/** The characters of a dead letter's bytes a listing shows (as UTF-8); `rawBytes` says all. */
export const RAW_PREVIEW_CHARS = 500;

const filterShape = {
  pollId: idSchema.optional().meta({ description: "only this poll's messages" }),
  reason: z
    .enum(DEAD_LETTER_REASONS, { error: `must be one of ${DEAD_LETTER_REASONS.join(", ")}` })
    .optional()
    .meta({ description: "only those set aside for this reason" }),
};

/** `POST /v1/dead-letters/replay?pollId=&reason=`: which pending dead letters to replay. */
export const replayAllQuerySchema = z.object(filterShape);

/** `GET /v1/dead-letters?state=&pollId=&reason=&limit=&after=`. */
export function deadLetterQuerySchema(config: Pick<DeadLetterConfig, "pageMax">) {
  return z.object({
    ...filterShape,
    state: z
      .enum(DEAD_LETTER_STATES, { error: `must be one of ${DEAD_LETTER_STATES.join(", ")}` })
      .optional()
      .meta({ description: "pending (not yet replayed: the default), replayed, or all" }),
    after: z
      .string()
      .regex(/^[1-9]\d{0,15}$/, { error: "must be a dead letter id: the previous page's `next`" })
      .transform(Number)
      .optional()
      .meta({ description: "dead letters after this id: the previous page's `next`" }),
    limit: z
      .string()
      .regex(/^\d{1,6}$/, { error: `must be a whole number from 1 to ${config.pageMax}` })
      .transform(Number)
      .refine((n) => n >= 1 && n <= config.pageMax, {
        error: `must be a whole number from 1 to ${config.pageMax} (DEAD_LETTERS_PAGE_MAX)`,
      })
      .optional()
      .meta({ description: "per page (DEAD_LETTERS_PAGE_DEFAULT; at most DEAD_LETTERS_PAGE_MAX)" }),
  });
}

export const deadLetterIdSchema = z
  .string()
  .regex(/^[1-9]\d{0,15}$/, { error: "must be a dead letter id" })
  .transform(Number);

export const deadLetterParamsSchema = z.object({ id: deadLetterIdSchema });

const instant = z.iso.datetime({ offset: true });

export const deadLetterAnswerSchema = z
  .strictObject({
    id: z.string(),
    pollId: z
      .string()
      .nullable()
      .meta({ description: "from its subject; null when not under SUBJECT_PREFIX" }),
    subject: z.string(),
    stream: z.string(),
    streamSeq: z.int(),
    itemIndex: z
      .int()
      .meta({ description: "-1: the whole message; n: the n-th vote of a batch message" }),
    reason: z.enum(DEAD_LETTER_REASONS),
    error: z.string(),
    deliveries: z.int(),
    firstSeen: instant,
    lastSeen: instant,
    replayedAt: instant.nullable(),
    raw: z.string().meta({
      description: `its bytes as UTF-8, the first ${RAW_PREVIEW_CHARS} characters`,
    }),
    rawBytes: z.int(),
  })
  .meta({ id: "DeadLetter" });

export const deadLetterPageAnswerSchema = z.strictObject({
  deadLetters: z.array(deadLetterAnswerSchema),
  next: z.string().nullable().meta({ description: "`after=` of the next page; null: the last" }),
});

export const replayedAnswerSchema = z
  .strictObject({
    id: z.string(),
    seq: z.int().meta({ description: "the stream sequence JetStream stored it at" }),
    duplicate: z.boolean().meta({
      description: "JetStream had this replay already (an earlier replay of the same sighting)",
    }),
    replayedAt: instant,
  })
  .meta({ id: "ReplayedDeadLetter" });

export const replayAllAnswerSchema = z.strictObject({
  replayed: z.array(replayedAnswerSchema),
  more: z.boolean().meta({ description: "others wait (past DEAD_LETTERS_REPLAY_MAX): call again" }),
});
