import type { ApiVote } from "./api-shapes.ts";
import type { OutboxEntry } from "./types.ts";

// What one POST /v1/votes/batch carries: the leading pending entries that fit the byte
// budget, serialized once. Browser-safe.

const encoder = new TextEncoder();

/**
 * The castAt sent for an entry: as stamped, or, for one stamped before any server clock
 * offset was known, the device's time corrected by the offset learned since.
 */
export function sentCastAt(e: OutboxEntry, clockOffsetMs: number | undefined): string {
  if (e.clockOffsetMs !== undefined || e.deviceCastAt === undefined || !clockOffsetMs)
    return e.castAt;
  return new Date(Date.parse(e.deviceCastAt) + clockOffsetMs).toISOString();
}

/** The serialized votes of entries, in order, and each one's size in bytes. */
export function serializeEntries(
  entries: OutboxEntry[],
  clockOffsetMs?: number,
): { json: string; bytes: number }[] {
  return entries.map((e) => {
    const vote: ApiVote = {
      eventId: e.eventId,
      pollId: e.pollId,
      optionId: e.optionId,
      castAt: sentCastAt(e, clockOffsetMs),
    };
    if (e.voterId !== undefined) vote.voterId = e.voterId;
    if (e.temperatureC !== undefined) vote.temperatureC = e.temperatureC;
    const json = JSON.stringify(vote);
    return { json, bytes: encoder.encode(json).length };
  });
}

/** How many of the leading items fit a `{"votes":[…]}` body of maxBytes (at least one). */
export function fitBytes(items: { bytes: number }[], maxBytes: number): number {
  let total = '{"votes":[]}'.length;
  let n = 0;
  for (const item of items) {
    total += item.bytes + (n > 0 ? 1 : 0);
    if (total > maxBytes && n > 0) break;
    n++;
  }
  return n;
}

/** The next batch out of `pending` (at least one entry) and its request body. */
export function batchBody(
  pending: OutboxEntry[],
  maxBytes: number,
  clockOffsetMs?: number,
): { batch: OutboxEntry[]; body: string } {
  const items = serializeEntries(pending, clockOffsetMs);
  const n = fitBytes(items, maxBytes);
  const votes = items
    .slice(0, n)
    .map((i) => i.json)
    .join(",");
  return { batch: pending.slice(0, n), body: `{"votes":[${votes}]}` };
}
