// eventId clashes in the writer's staging path (see sql/migrations/008, 047). An event's
// identity is (poll, eventId) (migration 047): the same eventId in another poll is another
// event, stored as a vote of its own poll. A staged vote whose (poll, eventId) is already
// stored is a duplicate only when the stored vote has the same identity (kiosk, option,
// voter; castAt is not part of it, ingest-api/votes/message-id.ts says why). Otherwise it
// is a conflict: kept in conflicting_votes, never counted, never a duplicate, and it claims
// no ballot (a clash must not use up another voter's vote).

// Correlated scalar subqueries on purpose: each is one primary-key probe per row, so a
// batch costs the same however many votes are stored. Written as EXISTS, the planner may
// turn them into a hash join that reads all of `votes` for every batch (ten times slower
// with 500k votes stored). Each names the poll (the key is (poll_id, event_id), migration
// 047: one probe of it) and the partition key (migration 033): the probe then runs in the
// one partition the event id's time names, not in every month's.
/** SQL: whether the vote stored under staging row `s`'s poll and event_id has its identity (null: none). */
export const STORED_IDENTITY_EQUALS = `(
  select (v.kiosk_id, v.option_id, v.voter_id)
         is not distinct from (s.kiosk_id, s.option_id, s.voter_id)
  from votes v
  where v.poll_id = s.poll_id and v.event_id = s.event_id
    and event_id_time(v.event_id) = event_id_time(s.event_id))`;

/** SQL condition on staging row `s`: a vote of its poll with its event_id and another identity is stored. */
export const CLASHES_WITH_STORED = `coalesce(not ${STORED_IDENTITY_EQUALS}, false)`;

/** SQL condition on staging row `s`: this very vote (same identity) is already stored. */
export const SAME_VOTE_STORED = `coalesce(${STORED_IDENTITY_EQUALS}, false)`;

// Run after the insert, so a clash between two votes of the same batch is found too (the
// first one stored wins). Counts every clashing row, recorded before or not, so that each
// staged row has exactly one outcome; a redelivered clash is recorded once. Two new votes
// of one batch sharing an eventId may both have claimed a ballot: the one not stored
// gives its ballot back (a ballot whose vote is stored is never touched).
export const RECORD_CONFLICTS = `
  with clashing as (
    select s.* from vote_staging s where ${CLASHES_WITH_STORED}
  ), released as (
    delete from voter_ballots b using clashing c
    where b.event_id = c.event_id and b.poll_id = c.poll_id and b.voter_id = c.voter_id
      and not exists (
        select 1 from votes v
        where v.poll_id = b.poll_id and v.event_id = b.event_id
          and event_id_time(v.event_id) = event_id_time(b.event_id) and v.voter_id = b.voter_id)
    returning 1
  ), recorded as (
    insert into conflicting_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                                   received_at, stream_seq)
    select event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq
    from clashing
    -- No target: the keys are each partition's unique indexes (migrations 044, 047).
    on conflict do nothing
    returning 1
  )
  select (select count(*) from clashing)::int as conflicts,
         (select count(*) from recorded)::int as recorded`;
