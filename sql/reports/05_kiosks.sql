-- Report 05 · kiosks: activity per kiosk, and kiosks silent while the poll was open.
--
-- Question   Which kiosks collected how many votes, when, and which went quiet for long?
--
-- Variables  poll_id   required
--            from, to  optional: votes cast in [from, to) (timestamps; one without an offset
--                      is read in the poll's time zone). Default: every vote.
--            part      optional: activity (default) | silences
--            gap       optional, part=silences: report silences longer than this interval
--                      (default '1 hour')
-- Output     part=activity: kiosk_id, kiosk_name, votes, first_vote_at, last_vote_at,
--              share_pct, rank
--              Every kiosk with votes in the range; share_pct: % of the poll's votes in the
--              range. Most active first.
--            part=silences: kiosk_id, kiosk_name, silent_from, silent_until, silence, note
--              Every stretch longer than gap in which a kiosk cast no vote, within the window
--              the poll was open: [greatest(opens_at, from), least(closes_at, to)); where
--              those are unset, the poll's first and last vote in the range bound it, and
--              both are inside the window (a kiosk whose only vote is the last one is silent
--              from the window's start to that vote, not "no vote in the window"). Kiosks
--              considered: every kiosk that ever voted in the poll. note says whether the
--              stretch runs from the window's start, to its end, or covers all of it.
-- Source     raw votes (the rollups have no kiosk): an index-only scan of one poll's votes,
--            votes_poll_cast_idx (poll_id, cast_at) include (kiosk_id, ...) from migration 006.
-- Run        psql -v poll_id=lunch -f sql/reports/05_kiosks.sql
--            psql -v poll_id=lunch -v part=silences -v gap='2 hours' -f sql/reports/05_kiosks.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 05_kiosks
\set poll_optional off
\set usage_args ' [-v part=activity|silences] [-v gap=INTERVAL]'
\ir include/settings.sql
-- sorts and hashes over a poll's (or every) vote stay in memory
set work_mem = '64MB';
\ir include/poll.sql
\if :{?part} \else \set part activity \endif
\if :{?gap} \else \set gap '1 hour' \endif
-- This report's own variables: one query checks them.
select :'part' in ('activity', 'silences') as part_ok,
       :'part' = 'silences' as part_silences \gset
\if :part_ok
\else
  set tallyflow.part = :'part';
  do $$ begin raise exception 'part must be activity or silences, not "%"', current_setting('tallyflow.part'); end $$;
\endif
set time zone :'poll_tz';

\if :part_silences
-- The window the poll was open in the range (literals, so the planner sees them). With no
-- vote to bound it, an empty window. Votes count in it when ws <= cast_at < vhi: vhi is we
-- when closes_at or to ends the window, and just after we when the poll's last vote does,
-- or that last vote would fall outside the window it ends.
select coalesce(nullif(greatest(p.opens_at, r.lo), '-infinity'), f.first_vote, 'infinity') as ws,
       coalesce(nullif(least(p.closes_at, r.hi), 'infinity'), f.last_vote, '-infinity') as we,
       coalesce(nullif(least(p.closes_at, r.hi), 'infinity'),
                f.last_vote + interval '1 microsecond', '-infinity') as vhi
from polls p
cross join (select :'from'::timestamptz as lo, :'to'::timestamptz as hi) r
cross join lateral (
  select min(v.cast_at) as first_vote, max(v.cast_at) as last_vote
  from votes v
  where v.poll_id = p.id and v.cast_at >= r.lo and v.cast_at < r.hi
) f
where p.id = :'poll_id' \gset

with kiosks_of_poll as (
  select distinct kiosk_id from votes where poll_id = :'poll_id'
), between_votes as (
  -- consecutive votes of a kiosk
  select kiosk_id, prev as silent_from, cast_at as silent_until, '' as note
  from (
    select v.kiosk_id, v.cast_at, lag(v.cast_at) over (partition by v.kiosk_id order by v.cast_at) as prev
    from votes v
    where v.poll_id = :'poll_id'
      and v.cast_at >= :'ws'::timestamptz and v.cast_at < :'vhi'::timestamptz
  ) x
  where prev is not null and cast_at - prev > (:'gap')::interval
), ends as (
  -- each kiosk's first and last vote in the window (none: both empty)
  select k.kiosk_id, e.first_vote, e.last_vote
  from kiosks_of_poll k
  left join (
    select v.kiosk_id, min(v.cast_at) as first_vote, max(v.cast_at) as last_vote
    from votes v
    where v.poll_id = :'poll_id'
      and v.cast_at >= :'ws'::timestamptz and v.cast_at < :'vhi'::timestamptz
    group by v.kiosk_id
  ) e using (kiosk_id)
), silences as (
  select kiosk_id, silent_from, silent_until, note from between_votes
  union all
  select kiosk_id, :'ws'::timestamptz, coalesce(first_vote, :'we'::timestamptz),
         case when first_vote is null then 'no vote in the window'
              else 'from the window''s start' end
  from ends
  union all
  select kiosk_id, last_vote, :'we'::timestamptz, 'to the window''s end'
  from ends where last_vote is not null
)
select s.kiosk_id,
       k.name as kiosk_name,
       s.silent_from,
       s.silent_until,
       s.silent_until - s.silent_from as silence,
       s.note
from silences s
left join kiosks k on k.id = s.kiosk_id
where s.silent_until - s.silent_from > (:'gap')::interval
order by s.kiosk_id, s.silent_from;
\else
with rng as (
  select :'from'::timestamptz as lo, :'to'::timestamptz as hi
), per_kiosk as (
  select v.kiosk_id, count(*) as votes, min(v.cast_at) as first_vote_at,
         max(v.cast_at) as last_vote_at
  from votes v, rng
  where v.poll_id = :'poll_id' and v.cast_at >= rng.lo and v.cast_at < rng.hi
  group by v.kiosk_id
)
select p.kiosk_id,
       k.name as kiosk_name,
       p.votes,
       p.first_vote_at,
       p.last_vote_at,
       round(100.0 * p.votes / sum(p.votes) over (), 2) as share_pct,
       rank() over (order by p.votes desc) as rank
from per_kiosk p
left join kiosks k on k.id = p.kiosk_id
order by p.votes desc, p.kiosk_id;
\endif
