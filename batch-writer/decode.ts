import { type StoredCompletion, storedCompletionSchema } from "../common/register-completion.ts";
import { type StoredVote, storedVoteSchema } from "../common/vote.ts";

/** A vote ready for COPY, tagged with the stream sequence of the message that carried it. */
export interface DecodedVote extends StoredVote {
  streamSeq: number;
}

/**
 * Why a dead letter is there (dead_letters.reason, migration 007): "invalid" for data that
 * cannot be decoded or that Postgres refused (SQLSTATE 22/23), "store_failed" for a message
 * a non-data error kept failing, "max_deliveries" for one JetStream gave up delivering.
 */
export type DeadLetterReason = "invalid" | "store_failed" | "max_deliveries";

/** Something that cannot be stored: a whole message (itemIndex -1) or one vote inside it. */
export interface Poison {
  itemIndex: number;
  raw: Uint8Array;
  error: string;
  /** @defaultValue "invalid" */
  reason?: DeadLetterReason;
}

export interface DecodedMessage {
  votes: DecodedVote[];
  /** Lesson registers' completions (common/register-completion.ts). */
  completions: StoredCompletion[];
  poison: Poison[];
}

/**
 * Decodes one JetStream message: `{"v":1,"votes":[...]}`. A message that is not that
 * shape is poison as a whole; a vote inside it that fails validation is poison alone and
 * its neighbours are kept.
 */
export function decodeVoteMessage(data: Uint8Array, streamSeq: number): DecodedMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(
      Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString("utf8"),
    );
  } catch (err) {
    return whole(data, `not JSON: ${(err as Error).message}`);
  }
  if (
    typeof parsed !== "object" ||
    parsed === null ||
    !("votes" in parsed) ||
    !Array.isArray(parsed.votes)
  )
    return whole(data, 'not a vote message: expected {"v":1,"votes":[...]}');
  if (!("v" in parsed) || parsed.v !== 1)
    return whole(
      data,
      `unsupported message version ${JSON.stringify((parsed as { v?: unknown }).v)}`,
    );

  const votes: DecodedVote[] = [];
  const poison: Poison[] = [];
  parsed.votes.forEach((item: unknown, itemIndex: number) => {
    const result = storedVoteSchema.safeParse(item);
    if (result.success) {
      votes.push({ ...result.data, streamSeq });
    } else {
      const error = result.error.issues
        .map((i) => `${i.path.join(".") || "vote"}: ${i.message}`)
        .join("; ");
      poison.push({ itemIndex, raw: Buffer.from(JSON.stringify(item) ?? "null"), error });
    }
  });
  const completions: StoredCompletion[] = [];
  const voteCount = parsed.votes.length;
  if ("completions" in parsed && Array.isArray(parsed.completions))
    // Numbered after the votes: a dead letter is keyed by its message and item index.
    parsed.completions.forEach((item: unknown, i: number) => {
      const result = storedCompletionSchema.safeParse(item);
      if (result.success) completions.push(result.data);
      else
        poison.push({
          itemIndex: voteCount + i,
          raw: Buffer.from(JSON.stringify(item) ?? "null"),
          error: result.error.issues
            .map((e) => `${e.path.join(".") || "completion"}: ${e.message}`)
            .join("; "),
        });
    });
  return { votes, completions, poison };
}

function whole(data: Uint8Array, error: string): DecodedMessage {
  return { votes: [], completions: [], poison: [{ itemIndex: -1, raw: data, error }] };
}
