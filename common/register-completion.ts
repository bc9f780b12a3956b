import { z } from "zod";
import { idSchema } from "./vote.ts";

// A lesson register's completion as it travels through JetStream beside the votes
// (`{"v":1,"votes":[],"completions":[…]}` on the register's subject), from the ingest API to
// the batch writer, which records it once (batch-writer/register-upkeep.ts).

const UUID_PATTERN =
  /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const completionIdSchema = z
  .string({ error: "must be a string" })
  .regex(UUID_PATTERN, { error: "must be a UUID" })
  .transform((s) => s.toLowerCase());

const instantSchema = z.iso.datetime({ offset: true, error: "must be an ISO 8601 timestamp" });

export const storedCompletionSchema = z.strictObject({
  completionId: completionIdSchema,
  pollId: idSchema,
  /** The register's incarnation when the API took it: a register deleted since takes nothing. */
  pollIncarnation: z.int().positive(),
  /** When the teacher completed it (the client's, within the API's clock rules). */
  completedAt: instantSchema,
  receivedAt: instantSchema,
  /** The credential that completed it: a teacher's, a kiosk's or an admin's id. */
  by: z.string().min(1).max(64),
});
export type StoredCompletion = z.infer<typeof storedCompletionSchema>;

/** The message id of a completion: resent with the same completionId, JetStream drops it. */
export function completionMessageId(pollId: string, completionId: string): string {
  return `complete:${pollId}:${completionId}`;
}

export function encodeCompletionMessage(completion: StoredCompletion): Uint8Array {
  return Buffer.from(JSON.stringify({ v: 1, votes: [], completions: [completion] }));
}
