import type { DecodedVote } from "./decode.ts";

// COPY text format. Ids are restricted to [A-Za-z0-9_-] and voter ids exclude control
// characters and backslash (common/vote.ts), so no field needs escaping; the check below
// keeps that assumption honest.
const NEEDS_ESCAPE = /[\\\t\n\r]/;

export const STAGING_COLUMNS =
  "event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq, temperature_c";

/** A text field as COPY text: refused (a bug upstream) if it would need escaping. */
export function field(value: string): string {
  if (NEEDS_ESCAPE.test(value)) throw new Error(`unescaped COPY field: ${JSON.stringify(value)}`);
  return value;
}

/** Rows as COPY text, in chunks of `rowsPerChunk` (one stream write per chunk, not per row). */
export function* copyChunks(
  votes: readonly DecodedVote[],
  rowsPerChunk = 2_000,
): Generator<string> {
  for (let start = 0; start < votes.length; start += rowsPerChunk) {
    let chunk = "";
    const end = Math.min(start + rowsPerChunk, votes.length);
    for (let i = start; i < end; i++) {
      const v = votes[i]!;
      chunk += `${v.eventId}\t${v.pollId}\t${v.optionId}\t${v.kioskId}\t${
        v.voterId === undefined ? "\\N" : field(v.voterId)
      }\t${v.castAt}\t${v.receivedAt}\t${v.streamSeq}\t${
        // A number with at most one decimal (common/vote.ts): its JavaScript text is a
        // numeric Postgres reads as is ("36.6", "-2", never an exponent at that size).
        v.temperatureC === undefined ? "\\N" : v.temperatureC
      }\n`;
    }
    yield chunk;
  }
}
