-- Report 08 · refusals: the duplicates, eventId conflicts, second votes and dead letters that
-- reached Postgres, by reason and kiosk.
--
-- Question   Which votes that reached the writer were not counted, why, and from which kiosk?
--
-- Counts     Only what the batch writer recorded in Postgres:
--            - duplicates the writer found already stored (a JetStream redelivery, or a
--              resend in another shape or after the duplicate window), per kiosk and UTC day;
--            - conflicts: votes that reused a stored vote's eventId for another kiosk, poll,
--              option or voter (a kiosk bug or a copied id, never a retry), each kept once;
--            - second votes in one-vote-per-voter polls that got past the API's Redis check
--              (the voter's entry there had expired or was lost) and that voter_ballots
--              refused;
--            - dead letters: messages or single votes that could not be decoded or stored.
-- Cannot see Refusals at the API, which never reach Postgres: a resend that JetStream drops
--            inside its duplicate window (the API answers 202 "duplicate"), an eventId repeated
--            for another vote inside one batch (409 event_id_conflict), a second vote that
--            Redis refuses (409 already_voted), and every other vote the API refuses (4xx:
--            invalid, unknown poll or option, poll closed...). So the duplicate and rejected
--            counts here are lower bounds: most resends and second votes stop at the API.
--            The API counts those only in the Prometheus counter tallyflow_votes_total on
--            its GET /metrics, {status="duplicate"}, {status="conflict"} and
--            {status="refused"} (refused lumps already_voted with every other 4xx vote): per
--            API process since it started, with no poll, kiosk, day or reason label, so it
--            cannot be split as here.
-- Variables  poll_id   optional: one poll (default: every poll)
--            from, to  optional: refusals recorded in [from, to) (timestamps; one without
--                      an offset is read in the poll's time zone, or UTC without poll_id).
--                      Duplicates are only counted per UTC day (duplicate_counts.day): a
--                      day is included when its UTC midnight lies in [from, to).
-- Output     poll_id, kind, reason, kiosk_id, refusals, first_day, last_day
--            kind = duplicate   (reason: already stored; duplicate_counts)
--                 | conflict    (reason: event_id_conflict; conflicting_votes, by the
--                                conflicting vote's own poll and kiosk)
--                 | rejected    (reason from rejected_votes: voter_already_voted,
--                                poll_deleted, past_retention: VOTES_RETENTION_DAYS)
--                 | dead_letter (reason = the decoding or storage error; dead_letters)
--            A dead letter's poll is the last token of its subject (<prefix>.<pollId>); its
--            kiosk is the kioskId inside a single dead vote (item_index >= 0), and empty for
--            a whole message that could not be decoded. first_day/last_day: UTC dates when
--            the refusals were recorded (rejected_at, recorded_at, first_seen).
-- Source     duplicate_counts, conflicting_votes, rejected_votes, dead_letters (all small;
--            no index needed).
-- Run        psql -f sql/reports/08_refusals.sql
--            psql -v poll_id=lunch -v from=2026-03-01 -f sql/reports/08_refusals.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads poll_optional).
\set poll_optional on
\ir include/settings.sql
\ir include/poll.sql
set time zone :'poll_tz';

with rng as (
  select :'from'::timestamptz as lo, :'to'::timestamptz as hi
), refusals as (
  select d.poll_id, 'duplicate' as kind, 'already stored' as reason, d.kiosk_id,
         d.count as n, d.day
  from duplicate_counts d, rng
  where (:'poll_id' = '' or d.poll_id = :'poll_id')
    and d.day::timestamp at time zone 'UTC' >= rng.lo
    and d.day::timestamp at time zone 'UTC' < rng.hi
  union all
  select c.poll_id, 'conflict', 'event_id_conflict', c.kiosk_id, 1,
         (c.recorded_at at time zone 'UTC')::date
  from conflicting_votes c, rng
  where (:'poll_id' = '' or c.poll_id = :'poll_id')
    and c.recorded_at >= rng.lo and c.recorded_at < rng.hi
  union all
  select r.poll_id, 'rejected', r.reason, r.kiosk_id, 1, (r.rejected_at at time zone 'UTC')::date
  from rejected_votes r, rng
  where (:'poll_id' = '' or r.poll_id = :'poll_id')
    and r.rejected_at >= rng.lo and r.rejected_at < rng.hi
  union all
  select l.poll_id, 'dead_letter', l.error, l.kiosk_id, 1, (l.first_seen at time zone 'UTC')::date
  from (
    select regexp_replace(dl.subject, '^.*\.', '') as poll_id, dl.error, dl.first_seen,
           case when dl.item_index >= 0
                then substring(convert_from(dl.raw, 'UTF8') from '"kioskId"\s*:\s*"([^"\\]*)"')
           end as kiosk_id
    from dead_letters dl
  ) l, rng
  where (:'poll_id' = '' or l.poll_id = :'poll_id')
    and l.first_seen >= rng.lo and l.first_seen < rng.hi
)
select poll_id, kind, reason, kiosk_id, sum(n)::bigint as refusals,
       min(day) as first_day, max(day) as last_day
from refusals
group by poll_id, kind, reason, kiosk_id
order by poll_id, kind, refusals desc, reason, kiosk_id nulls last;
