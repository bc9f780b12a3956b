import { z } from "zod";
import type { FieldIssue } from "./errors.ts";

// The vote schema shared by the ingest API (what a kiosk sends) and the batch writer
// (what travels through JetStream). Ids are restricted so they are safe as NATS subject
// tokens and need no escaping in COPY text.

export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const UUID_PATTERN =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// Printable text only: a voter id never contains control characters (COPY-safe, log-safe).
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to exclude them
const VOTER_ID_PATTERN = /^[^\u0000-\u001f\u007f\\]{1,128}$/;

export const idSchema = z
  .string({ error: "must be a string" })
  .regex(ID_PATTERN, { error: 'must be 1-64 letters, digits, "-" or "_"' });

const uuidSchema = z
  .string({ error: "must be a string" })
  .regex(UUID_PATTERN, { error: "must be a UUID" })
  .transform((s) => s.toLowerCase());

const voterIdSchema = z
  .string({ error: "must be a string" })
  .regex(VOTER_ID_PATTERN, { error: "must be 1-128 printable characters without backslash" });

// Instants Postgres can store and JavaScript prints back in the same ISO form (years
// 0001-9999 in UTC): zod's format alone accepts year 0000, which Postgres refuses.
const MIN_INSTANT_MS = Date.parse("0001-01-01T00:00:00Z");
const MAX_INSTANT_MS = Date.parse("9999-12-31T23:59:59.999Z");

/** False for an ISO timestamp outside the years 0001-9999 (unparsable text is left to the format check). */
export function isStorableInstant(value: string): boolean {
  const ms = Date.parse(value);
  return !(ms < MIN_INSTANT_MS || ms > MAX_INSTANT_MS);
}

/**
 * False for a UTC offset of 16 hours or more: zod's format accepts up to ±23:59, Postgres
 * refuses beyond ±15:59 (SQLSTATE 22009), so such a vote could never be stored.
 */
export function hasStorableOffset(value: string): boolean {
  const hours = /[+-](\d\d):?\d\d$/.exec(value)?.[1];
  return hours === undefined || Number(hours) < 16;
}

const timestampSchema = z.iso
  .datetime({
    offset: true,
    error: "must be an ISO 8601 timestamp with a time zone, e.g. 2026-05-01T12:00:00Z",
  })
  .refine(isStorableInstant, { error: "must be between the years 0001 and 9999 (UTC)" })
  .refine(hasStorableOffset, { error: "must have a UTC offset between -15:59 and +15:59" });

/** What a kiosk sends for one vote. Unknown fields are refused so typos are not ignored. */
export const voteInputSchema = z.strictObject({
  eventId: uuidSchema.optional(),
  pollId: idSchema,
  optionId: idSchema,
  voterId: voterIdSchema.optional(),
  castAt: timestampSchema.optional(),
});
export type VoteInput = z.infer<typeof voteInputSchema>;

/**
 * A vote as published to JetStream: complete, with the kiosk and both clocks.
 * `pollIncarnation` is the poll row's incarnation when the API accepted the vote (the
 * writer drops the vote if the poll has since been deleted, or deleted and re-created).
 * Optional: messages published before it existed still decode.
 */
export const storedVoteSchema = z.strictObject({
  eventId: uuidSchema,
  pollId: idSchema,
  optionId: idSchema,
  kioskId: idSchema,
  voterId: voterIdSchema.optional(),
  castAt: timestampSchema,
  receivedAt: timestampSchema,
  pollIncarnation: z
    .int({ error: "must be a positive integer" })
    .positive({ error: "must be a positive integer" })
    .optional(),
});
export type StoredVote = z.infer<typeof storedVoteSchema>;

/** Wire format of one JetStream message: one vote, or every vote of one poll from a batch. */
export interface VoteMessage {
  v: 1;
  votes: StoredVote[];
}

export function encodeVoteMessage(votes: StoredVote[]): Uint8Array {
  const message: VoteMessage = { v: 1, votes };
  return Buffer.from(JSON.stringify(message));
}

/** Zod issues as `{field, message}` with dotted paths (`votes.3.castAt`). */
export function toFieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const base = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
      return {
        field: issue.keys.map((k) => (base ? `${base}.${k}` : k)).join(", "),
        message: "is not a known field",
      };
    }
    const field = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "body";
    const message =
      issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
    return { field, message };
  });
}
