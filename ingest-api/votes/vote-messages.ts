import { ConfigError } from "../../common/errors.ts";
import { encodeVoteMessage, type StoredVote, VOTER_ID_MAX_LENGTH } from "../../common/vote.ts";

// A batch's votes for one poll travel as as many JetStream messages as it takes to stay
// under the server's max_payload: a batch the API accepted as valid must never fail for
// its size downstream (one message per poll made a 1,000-vote batch of long voter ids a
// 503 on every resend). The bytes are exactly encodeVoteMessage's; a group too large for
// one message is built from each vote's JSON, serialised once.

const HEAD = '{"v":1,"votes":[';
const TAIL = "]}";

/** What NATS counts besides the payload: the headers (Nats-Msg-Id and any others). */
export const HEADER_ALLOWANCE_BYTES = 4_096;

/** NATS's own default max_payload, for a connection that has not reported its server's. */
const NATS_DEFAULT_MAX_PAYLOAD = 1_048_576;

/** One message of a split: votes[start, end) of the input, and their encoding. */
export interface VoteMessageChunk {
  start: number;
  end: number;
  data: Uint8Array;
}

/**
 * Splits votes, in input order, into messages of at most `maxBytes` each. Boundaries depend
 * only on the votes' bytes, whose timestamps always have the same length (canonical ISO
 * text): a resend of the same batch is cut the same way, so each chunk's message id (a
 * function of its votes) repeats and JetStream drops the chunk as a duplicate.
 */
export function splitVoteMessages(votes: StoredVote[], maxBytes: number): VoteMessageChunk[] {
  if (votes.length === 0) return [];
  // The common case, at the cost of one encoding: the whole group fits in one message.
  const whole = encodeVoteMessage(votes);
  if (whole.length <= maxBytes) return [{ start: 0, end: votes.length, data: whole }];
  const pieces = votes.map((v) => JSON.stringify(v));
  const chunks: VoteMessageChunk[] = [];
  let start = 0;
  let size = HEAD.length + TAIL.length;
  for (let i = 0; i < pieces.length; i++) {
    const bytes = Buffer.byteLength(pieces[i]!) + (i > start ? 1 : 0); // the comma
    if (i > start && size + bytes > maxBytes) {
      chunks.push(chunkOf(pieces, start, i));
      start = i;
      size = HEAD.length + TAIL.length + bytes - 1;
    } else size += bytes;
  }
  if (pieces.length > start) chunks.push(chunkOf(pieces, start, pieces.length));
  return chunks;
}

function chunkOf(pieces: string[], start: number, end: number): VoteMessageChunk {
  return { start, end, data: Buffer.from(HEAD + pieces.slice(start, end).join(",") + TAIL) };
}

/**
 * The bytes of a message holding one vote as large as the schema allows: every id at its
 * longest and a voter id of lone surrogates, which JSON writes as 6 bytes each (`\ud800`).
 * No message limit may be smaller, or a valid vote could not be sent at all.
 */
export function largestVoteMessageBytes(): number {
  const id = "x".repeat(64);
  const instant = "2026-01-01T00:00:00.000Z";
  return encodeVoteMessage([
    {
      eventId: "00000000-0000-0000-0000-000000000000",
      pollId: id,
      optionId: id,
      kioskId: id,
      voterId: "\ud800".repeat(VOTER_ID_MAX_LENGTH),
      castAt: instant,
      receivedAt: instant,
    },
  ]).length;
}

/**
 * The message limit in force: MAX_MESSAGE_BYTES if set (0 = unset), else the server's
 * max_payload less the header allowance. Refuses, naming the variable, a limit the server
 * would not take or one too small for a single vote.
 */
export function resolveMaxMessageBytes(
  configured: number,
  serverMaxPayload: number | undefined,
): number {
  const payload = serverMaxPayload ?? NATS_DEFAULT_MAX_PAYLOAD;
  const ceiling = payload - HEADER_ALLOWANCE_BYTES;
  const floor = largestVoteMessageBytes();
  if (configured !== 0 && configured > ceiling)
    throw new ConfigError(
      "MAX_MESSAGE_BYTES",
      `must be at most ${ceiling} (the NATS server's max_payload ${payload} less ${HEADER_ALLOWANCE_BYTES} for headers), got ${configured}`,
    );
  const limit = configured === 0 ? ceiling : configured;
  if (limit < floor)
    throw new ConfigError(
      "MAX_MESSAGE_BYTES",
      `must be at least ${floor} (one vote at its largest), got ${limit}${configured === 0 ? ` from the NATS server's max_payload ${payload}` : ""}`,
    );
  return limit;
}
