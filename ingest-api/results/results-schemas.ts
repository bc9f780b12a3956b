import { z } from "zod";
import { pollKindAnswerSchema } from "../registry/registry-schemas.ts";

// What the public read routes answer: a poll as anyone may see it, and the results
// document (the publisher's, result-publisher/results.ts; its Redis contract:
// common/results-contract.ts), served as the bytes the publisher wrote.

const instant = z.iso.datetime({ offset: true });
const phaseSchema = z.enum(["not_open", "open", "closed"]);

export const publicPollAnswerSchema = z
  .strictObject({
    id: z.string(),
    schoolId: z.string(),
    kind: pollKindAnswerSchema,
    title: z.string(),
    status: phaseSchema,
    timeZone: z.string(),
    opensAt: instant.nullable(),
    closesAt: instant.nullable(),
    resultsVisibility: z.enum(["live", "after_close"]),
    archived: z.boolean(),
    options: z.array(z.strictObject({ id: z.string(), label: z.string() })),
    oneVotePerVoter: z.boolean(),
    voters: z.enum(["any", "roster"]),
    voteCooldownMs: z.int(),
  })
  .meta({ id: "PublicPoll" });

export const publicPollListAnswerSchema = z.strictObject({
  school: z.strictObject({ id: z.string(), name: z.string() }),
  polls: z.array(publicPollAnswerSchema),
});

const resultsBase = {
  pollId: z.string(),
  title: z.string(),
  timeZone: z.string(),
  opensAt: instant.nullable(),
  closesAt: instant.nullable(),
  status: phaseSchema,
  version: z.string().meta({ description: "the ETag's value" }),
  asOf: instant.nullable(),
  publishedAt: instant,
};

export const resultsAnswerSchema = z
  .union([
    z.strictObject({
      ...resultsBase,
      hidden: z.literal(false),
      totalVotes: z.int(),
      options: z.array(
        z.strictObject({ id: z.string(), label: z.string(), count: z.int(), share: z.number() }),
      ),
      distribution: z.strictObject({
        bucketMinutes: z.int(),
        start: instant.nullable(),
        buckets: z.int(),
        windowHours: z.number(),
        series: z.array(
          z.strictObject({ optionId: z.string(), counts: z.array(z.int()), before: z.int() }),
        ),
      }),
      chart: z.strictObject({ width: z.int(), height: z.int() }).nullable(),
    }),
    z.strictObject({
      ...resultsBase,
      hidden: z.literal(true),
      resultsVisibility: z.literal("after_close"),
      message: z.string(),
    }),
  ])
  .meta({ id: "Results" });
