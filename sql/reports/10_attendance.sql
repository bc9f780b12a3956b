-- Report 10 · attendance: a check-in poll read as presence, per day and per voter.
--
-- Question   Of the people who check in, what share is present each day, and who is
--            present on at least 80% of the days?
--
-- Check-in polls: a poll is read as check-ins when one_vote_per_voter is false (a voter may
-- come back every day) and its votes carry voter_id (the kiosk identifies who checks in;
-- the option chosen does not matter). The report refuses any other poll: in a
-- one-vote-per-voter poll a voter can only ever be present once, and anonymous votes say
-- nothing about who was there. Votes without voter_id in a check-in poll are ignored.
--
-- Variables  poll_id    required: a check-in poll
--            from, to   optional: check-ins cast in [from, to) (timestamps; one without an
--                       offset is read in the poll's time zone). Default: every check-in.
--            part       optional: days (default) | voters
--            min_share  optional, part=voters: minimum % of session days present (default 80)
-- Output     part=days: day, weekday, present, voters, share_pct, session_day
--              One row per local day (polls.time_zone) from the first to the last day of
--              the range (the range given, else the days with check-ins), zero-filled.
--              present: distinct voters who checked in that day (several check-ins count
--              once); voters: distinct voters who checked in at all in the range;
--              share_pct = present / voters. session_day: the day had any check-in.
--            part=voters: voter_id, days_present, session_days, share_pct, first_day, last_day
--              Voters present on at least min_share % of the session days: the local days
--              in the range on which anybody checked in (weekends and holidays without
--              check-ins do not count against anyone). Most present first.
-- Source     raw votes (the rollups have no voter), through the partial index
--            votes_poll_voter_cast_idx (poll_id, voter_id, cast_at) where voter_id is not null.
-- Run        psql -v poll_id=checkin -f sql/reports/10_attendance.sql
--            psql -v poll_id=checkin -v part=voters -v from=2026-10-01 -v to=2026-11-01 -f sql/reports/10_attendance.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 10_attendance
\set poll_optional off
\set usage_args ' [-v part=days|voters] [-v min_share=80]'
\ir include/settings.sql
-- sorts and hashes over a poll's (or every) vote stay in memory
set work_mem = '64MB';
\ir include/poll.sql
\if :{?part} \else \set part days \endif
\if :{?min_share} \else \set min_share 80 \endif
-- This report's own variables: one query checks them.
select :'part' in ('days', 'voters') as part_ok,
       :'part' = 'voters' as part_voters,
       coalesce((select one_vote_per_voter from polls where id = :'poll_id'), false)
         as one_vote_per_voter,
       exists (select 1 from votes where poll_id = :'poll_id' and voter_id is not null)
         as has_voter_ids \gset
\if :part_ok
\else
  set tallyflow.part = :'part';
  do $$ begin raise exception 'part must be days or voters, not "%"', current_setting('tallyflow.part'); end $$;
\endif
\if :one_vote_per_voter
  set tallyflow.poll_id = :'poll_id';
  do $$ begin raise exception 'poll "%" is not a check-in poll: it allows one vote per voter',
    current_setting('tallyflow.poll_id'); end $$;
\endif
\if :has_voter_ids
\else
  set tallyflow.poll_id = :'poll_id';
  do $$ begin raise exception 'poll "%" is not a check-in poll: its votes carry no voter_id',
    current_setting('tallyflow.poll_id'); end $$;
\endif
set time zone :'poll_tz';

\if :part_voters
with presence as materialized (
  -- (voter, local day) once each (migration 013)
  select voter_id, day from report_presence(:'poll_id', :'poll_tz', :'from', :'to')
), sessions as (
  select count(*) as session_days from (select day from presence group by day) d
)
select p.voter_id,
       count(*) as days_present,
       s.session_days,
       round(100.0 * count(*) / s.session_days, 2) as share_pct,
       min(p.day) as first_day,
       max(p.day) as last_day
from presence p, sessions s
group by p.voter_id, s.session_days
having 100.0 * count(*) >= (:'min_share')::numeric * s.session_days
order by days_present desc, p.voter_id;
\else
with presence as materialized (
  -- (voter, local day) once each, as in part=voters
  select voter_id, day from report_presence(:'poll_id', :'poll_tz', :'from', :'to')
), daily as (
  select day, count(*) as present from presence group by day
), voters as (
  select count(*) as voters from (select voter_id from presence group by voter_id) v
), bounds as (
  select case when isfinite(:'from'::timestamptz)
              then (:'from'::timestamptz at time zone :'poll_tz')::date
              else (select min(day) from daily) end as first_day,
         case when isfinite(:'to'::timestamptz)
              then ((:'to'::timestamptz - interval '1 microsecond') at time zone :'poll_tz')::date
              else (select max(day) from daily) end as last_day
), days as (
  select g::date as day
  from bounds, generate_series(bounds.first_day, bounds.last_day, interval '1 day') g
)
select d.day,
       to_char(d.day, 'Dy') as weekday,
       coalesce(p.present, 0) as present,
       v.voters,
       round(100.0 * coalesce(p.present, 0) / nullif(v.voters, 0), 2) as share_pct,
       p.present is not null as session_day
from days d
cross join voters v
left join daily p using (day)
order by d.day;
\endif
