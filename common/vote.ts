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
const VOTER_ID_PATTERN = /^[^\u0000-\u001f\u007f\\]*$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the point is to exclude them
const UNNORMALISED_VOTER_ID_PATTERN = /^[^\u0000-\u001f\u007f\\]{1,128}$/;
/** Longest voter id, in UTF-16 code units, after normalisation. */
export const VOTER_ID_MAX_LENGTH = 128;

export const idSchema = z
  .string({ error: "must be a string" })
  .regex(ID_PATTERN, { error: 'must be 1-64 letters, digits, "-" or "_"' });

const uuidSchema = z
  .string({ error: "must be a string" })
  .regex(UUID_PATTERN, { error: "must be a UUID" })
  .transform((s) => s.toLowerCase());

/**
 * The one place a voter id is normalised, so the one-vote-per-voter guard, the message,
 * voter_ballots and the reports all see the same id: surrounding white space is trimmed
 * (a kiosk's keyboard or scanner adds it) and the text is put in Unicode NFC (an accent
 * typed as a separate combining mark is the same letter). Case is kept: badge and member
 * numbers are often case-sensitive, and folding case (which also depends on the language,
 * Turkish i) could make two voters one and refuse the second's only vote. A roster's
 * person ids (ingest-api/people/) are this same normal form, so a kiosk's voterId is the id.
 */
export const voterIdSchema = z
  .string({ error: "must be a string" })
  .trim()
  .normalize("NFC")
  .min(1, { error: "must not be empty" })
  .max(VOTER_ID_MAX_LENGTH, { error: `must be at most ${VOTER_ID_MAX_LENGTH} characters` })
  .regex(VOTER_ID_PATTERN, { error: "must not contain control characters or backslash" })
  .refine(isWellFormedText, {
    error: "must be valid UTF-8 text (no lone surrogate, no U+FFFD replacement character)",
  });

/**
 * False for text Postgres would not store as sent: a lone surrogate (`"\ud800"` in JSON)
 * becomes U+FFFD on its way to UTF-8, and so does every invalid byte of a body that was
 * not UTF-8. Two different ids would then be stored as one voter (and the second refused
 * as already voted), so an id holding either is refused instead of silently rewritten.
 */
function isWellFormedText(value: string): boolean {
  return value.isWellFormed() && !value.includes("\ufffd");
}

/**
 * A voter id in a message. The API publishes the normal form; a message published before
 * the API normalised (still in the stream across a deploy) is held to the check it passed
 * then and normalised here, so voter_ballots sees one form, and it is stored rather than
 * dead-lettered (an id that trims to nothing keeps its raw text).
 */
const storedVoterIdSchema = z
  .string({ error: "must be a string" })
  .regex(UNNORMALISED_VOTER_ID_PATTERN, {
    error: "must be 1-128 printable characters without backslash",
  })
  .transform((raw) => raw.trim().normalize("NFC") || raw);

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

/**
 * A temperature in °C with at most one decimal (what a door thermometer shows). Its range
 * is the school's (schools.temperature_min_c … max_c), checked by the API, which knows it;
 * here only what any school could accept: a plain number that Postgres numeric(4,1) holds.
 */
export const temperatureSchema = z
  .number({ error: "must be a number of degrees Celsius" })
  .refine((t) => Number.isFinite(t) && Math.abs(t) < 1000, {
    error: "must be a number of degrees Celsius",
  })
  .refine((t) => Math.round(t * 10) / 10 === t, { error: "must have at most one decimal" });

/** What a kiosk sends for one vote. Unknown fields are refused so typos are not ignored. */
export const voteInputSchema = z.strictObject({
  eventId: uuidSchema.optional(),
  pollId: idSchema,
  optionId: idSchema,
  voterId: voterIdSchema.optional(),
  castAt: timestampSchema.optional(),
  /** A check-in's or check-out's temperature (attendance registers only). */
  temperatureC: temperatureSchema.optional(),
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
  voterId: storedVoterIdSchema.optional(),
  castAt: timestampSchema,
  receivedAt: timestampSchema,
  pollIncarnation: z
    .int({ error: "must be a positive integer" })
    .positive({ error: "must be a positive integer" })
    .optional(),
  temperatureC: temperatureSchema.optional(),
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

// Unknown fields are named back to the client, but only a few and each cut short: an
// error must not echo a request's bulk (a rejected batch item is one line of the answer).
const ECHOED_UNKNOWN_KEYS = 3;
const ECHOED_KEY_MAX_LENGTH = 64;

/** Zod issues as `{field, message}` with dotted paths (`votes.3.castAt`). */
export function toFieldIssues(error: z.ZodError, prefix = ""): FieldIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      const base = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
      const named = issue.keys.slice(0, ECHOED_UNKNOWN_KEYS).map((key) => {
        const k =
          key.length > ECHOED_KEY_MAX_LENGTH ? `${key.slice(0, ECHOED_KEY_MAX_LENGTH)}…` : key;
        return base ? `${base}.${k}` : k;
      });
      const more = issue.keys.length - named.length;
      return {
        field: named.join(", ") + (more > 0 ? ` (and ${more} more)` : ""),
        message: "is not a known field",
      };
    }
    const field = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "body";
    const message =
      issue.code === "invalid_type" && issue.input === undefined ? "is required" : issue.message;
    return { field, message };
  });
}
