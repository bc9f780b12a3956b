import type { PoolClient } from "../common/postgres.ts";
import type { DecodedVote } from "./decode.ts";

// Votes outlive their poll in the stream: a poll archived and deleted while its votes wait
// for a writer would get them back as orphans, counted again should the id be created
// anew. So a vote is stored only while its poll exists with the incarnation the ingest API
// stamped on it (migration 007). A vote from before incarnations (no pollIncarnation) is
// judged by its poll's existence alone.

// FOR KEY SHARE, first thing in the batch's transaction: a poll delete (SELECT … FOR
// UPDATE, then deleting the poll's votes) waits for this batch to commit and then deletes
// what it stored, or this lookup waits for the delete and no longer finds the poll. Batches
// do not block each other (key-share locks are compatible), nor ordinary poll updates.
// The same lookup tells which polls are attendance registers, with their school and its
// time zone (presence-upkeep.ts). Only the polls are locked, not their schools. Through
// writer_live_polls() (migration 020): a row lock asks for UPDATE rights, which the writer's
// role has not on the registry; the function takes it with its owner's.
const LIVE_POLLS = "select * from writer_live_polls($1)";

/** An attendance register's school and the school's time zone. */
export interface RegisterSchool {
  schoolId: string;
  timeZone: string;
}

const REJECT_DELETED_POLL_VOTES = `
  insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                              received_at, stream_seq, reason)
  select e, p, o, k, v, c, r, s, 'poll_deleted'
  from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
              $6::timestamptz[], $7::timestamptz[], $8::bigint[]) as u(e, p, o, k, v, c, r, s)
  -- No target: rejected_votes' key is each partition's index on (poll_id, event_id) (047).
  on conflict do nothing`;

export interface SortedVotes {
  kept: readonly DecodedVote[];
  /** Votes for a poll that was deleted (or deleted and created anew) since they were cast. */
  deleted: readonly DecodedVote[];
  /** The batch's live polls that are attendance registers (their events keep presence state). */
  registers: ReadonlyMap<string, RegisterSchool>;
}

const NONE: ReadonlyMap<string, RegisterSchool> = new Map();

/** One lookup per batch, of its distinct polls. */
export async function sortByPollIncarnation(
  client: PoolClient,
  votes: readonly DecodedVote[],
): Promise<SortedVotes> {
  if (votes.length === 0) return { kept: votes, deleted: [], registers: NONE };
  const ids = new Set<string>();
  for (const v of votes) ids.add(v.pollId);
  const { rows } = await client.query<{
    id: string;
    incarnation: number;
    register: boolean;
    school_id: string;
    time_zone: string;
  }>(LIVE_POLLS, [[...ids]]);
  const live = new Map(rows.map((r) => [r.id, r.incarnation]));
  const registers = rows.some((r) => r.register)
    ? new Map(
        rows
          .filter((r) => r.register)
          .map((r) => [r.id, { schoolId: r.school_id, timeZone: r.time_zone }]),
      )
    : NONE;
  const belongs = (v: DecodedVote) => {
    const incarnation = live.get(v.pollId);
    return (
      incarnation !== undefined &&
      (v.pollIncarnation === undefined || v.pollIncarnation === incarnation)
    );
  };
  if (votes.every(belongs)) return { kept: votes, deleted: [], registers };
  return { kept: votes.filter(belongs), deleted: votes.filter((v) => !belongs(v)), registers };
}

/** Keeps the dropped votes in rejected_votes (reason poll_deleted): nothing vanishes unseen. */
export async function rejectDeletedPollVotes(
  client: PoolClient,
  deleted: readonly DecodedVote[],
): Promise<void> {
  if (deleted.length === 0) return;
  await client.query(REJECT_DELETED_POLL_VOTES, [
    deleted.map((v) => v.eventId),
    deleted.map((v) => v.pollId),
    deleted.map((v) => v.optionId),
    deleted.map((v) => v.kioskId),
    deleted.map((v) => v.voterId ?? null),
    deleted.map((v) => v.castAt),
    deleted.map((v) => v.receivedAt),
    deleted.map((v) => v.streamSeq),
  ]);
}
