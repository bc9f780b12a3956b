import { OutboxError } from "./errors.ts";
import { isUuid, newEventId } from "./event-id.ts";
import type { OutboxEntry, VoteInput } from "./types.ts";

// What enqueue writes: a vote checked and completed (eventId, castAt) before it is stored,
// so that a vote the server could never accept is refused to the caller at once instead of
// waiting in the queue. Browser-safe.

function invalid(field: string, message: string): OutboxError {
  return new OutboxError("invalid_vote", `${field} ${message}`);
}

function isTemperature(t: unknown): boolean {
  return (
    typeof t === "number" &&
    Number.isFinite(t) &&
    Math.abs(t) < 1000 &&
    Math.round(t * 10) / 10 === t
  );
}

/**
 * The entry a vote is queued as, at `now` by the device's clock, its castAt corrected by
 * the server clock offset when one is known; throws `invalid_vote` naming the field.
 */
export function toEntry(vote: VoteInput, now: number, clockOffsetMs?: number): OutboxEntry {
  for (const field of ["pollId", "optionId"] as const)
    if (typeof vote[field] !== "string" || vote[field].length === 0)
      throw invalid(field, "must be a non-empty string");
  if (vote.voterId !== undefined && typeof vote.voterId !== "string")
    throw invalid("voterId", "must be a string");
  if (vote.eventId !== undefined && !(typeof vote.eventId === "string" && isUuid(vote.eventId)))
    throw invalid("eventId", "must be a UUID");
  // Only what any school could take (the API's temperatureSchema); the range is the school's.
  if (vote.temperatureC !== undefined && !isTemperature(vote.temperatureC))
    throw invalid("temperatureC", "must be a number of degrees Celsius with at most one decimal");
  let castAt = new Date(now + (clockOffsetMs ?? 0)).toISOString();
  if (vote.castAt !== undefined) {
    const at = typeof vote.castAt === "string" ? Date.parse(vote.castAt) : Number.NaN;
    if (Number.isNaN(at)) throw invalid("castAt", "must be an ISO 8601 time");
    castAt = new Date(at).toISOString();
  }
  const entry: OutboxEntry = {
    eventId: vote.eventId ?? newEventId(),
    pollId: vote.pollId,
    optionId: vote.optionId,
    castAt,
    enqueuedAt: now,
  };
  if (vote.voterId !== undefined) entry.voterId = vote.voterId;
  if (vote.temperatureC !== undefined) entry.temperatureC = vote.temperatureC;
  if (vote.castAt === undefined) {
    entry.deviceCastAt = new Date(now).toISOString();
    if (clockOffsetMs !== undefined) entry.clockOffsetMs = clockOffsetMs;
  }
  return entry;
}
