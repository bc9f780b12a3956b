import type { PoolClient } from "../common/postgres.ts";
import type { DecodedVote } from "./decode.ts";

// VOTES_RETENTION_DAYS (migration 035): the partitions of months past retention are
// dropped, so a vote whose event id time is older than the horizon could no longer be
// recognised as already stored (a resend of a dropped month, a kiosk's very old vote): it
// would land in the default partition and be counted twice. The writer refuses such votes
// before either store path, into rejected_votes (reason past_retention), in the batch's
// transaction: nothing vanishes unseen, nothing is counted again. The horizon is on the
// writer's clock; migration 035 drops a month only a day after it passed it.
// Ids without a v7 time (the legacy partition, never dropped) are stored as before.

const DAY_MS = 86_400_000;

/**
 * The instant a UUIDv7 carries (its first 48 bits, milliseconds since 1970), as
 * event_id_time() reads it in Postgres (migration 033); undefined for any other UUID.
 */
export function eventIdTimeMs(eventId: string): number | undefined {
  if (eventId[14] !== "7") return undefined;
  return Number.parseInt(eventId.slice(0, 8) + eventId.slice(9, 13), 16);
}

/** The votes to store, and those older than `keepDays` (none when keepDays is undefined). */
export function splitByRetention(
  votes: readonly DecodedVote[],
  keepDays: number | undefined,
  nowMs = Date.now(),
): { kept: readonly DecodedVote[]; expired: readonly DecodedVote[] } {
  if (keepDays === undefined) return { kept: votes, expired: [] };
  const horizon = nowMs - keepDays * DAY_MS;
  const isExpired = (v: DecodedVote) => {
    const at = eventIdTimeMs(v.eventId);
    return at !== undefined && at < horizon;
  };
  if (!votes.some(isExpired)) return { kept: votes, expired: [] };
  return { kept: votes.filter((v) => !isExpired(v)), expired: votes.filter(isExpired) };
}

const REJECT_PAST_RETENTION = `
  insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                              received_at, stream_seq, reason)
  select e, p, o, k, v, c, r, s, 'past_retention'
  from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
              $6::timestamptz[], $7::timestamptz[], $8::bigint[]) as u(e, p, o, k, v, c, r, s)
  -- No target: rejected_votes' key is each partition's index on (poll_id, event_id) (047).
  on conflict do nothing`;

/** Keeps the refused votes in rejected_votes (reason past_retention), not counted. */
export async function rejectPastRetention(
  client: PoolClient,
  expired: readonly DecodedVote[],
): Promise<void> {
  if (expired.length === 0) return;
  await client.query(REJECT_PAST_RETENTION, [
    expired.map((v) => v.eventId),
    expired.map((v) => v.pollId),
    expired.map((v) => v.optionId),
    expired.map((v) => v.kioskId),
    expired.map((v) => v.voterId ?? null),
    expired.map((v) => v.castAt),
    expired.map((v) => v.receivedAt),
    expired.map((v) => v.streamSeq),
  ]);
}
