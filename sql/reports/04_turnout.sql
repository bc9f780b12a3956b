-- Report 04 · turnout: cumulative turnout per hour, and the peak 10-minute bucket.
--
-- Question   How did turnout build up hour by hour, and when was the busiest 10 minutes?
--
-- Variables  poll_id   required
--            from, to  optional: votes cast in [from, to) (timestamps; one without an offset
--                      is read in the poll's time zone). Default: every vote.
--            part      optional: turnout (default) | peak
--            top       optional, part=peak: how many of the busiest buckets (default 1)
-- Output     part=turnout: hour_start, votes, cumulative_votes, cumulative_pct
--              One row per local hour, zero-filled, from the first to the last hour of the
--              range (the range given, else the hours that have votes). Hours are the
--              poll's local clock hours: on a day the clocks go back (Europe/London,
--              2026-10-25) the hour 01:00 happens twice and appears twice, with its UTC
--              offset (01:00+01 and 01:00+00); on the day they go forward it is missing.
--              cumulative_pct: % of all votes in the range cast up to the end of the hour.
--            part=peak: rank, bucket_start, bucket_end, votes, share_pct
--              The busiest 10-minute bucket (UTC-aligned, as the publisher's distribution),
--              all options together; ties go to the earlier bucket. share_pct: % of the
--              votes in the range.
-- Source     vote_rollups (fast). A bucket is used whole when it lies inside [from, to)
--            (and, for turnout, inside one local hour, which fails only in zones whose
--            offset is not a multiple of 10 minutes, such as Asia/Kathmandu, +05:45); the
--            other buckets come from raw votes. Index-only scans: vote_rollups_poll_bucket_idx,
--            votes_poll_cast_idx.
-- Run        psql -v poll_id=lunch -f sql/reports/04_turnout.sql
--            psql -v poll_id=lunch -v part=peak -v top=5 -f sql/reports/04_turnout.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 04_turnout
\set poll_optional off
\set usage_args ' [-v part=turnout|peak] [-v top=N]'
\ir include/settings.sql
\ir include/poll.sql
\if :{?part} \else \set part turnout \endif
\if :{?top} \else \set top 1 \endif
-- This report's own variables: one query checks them.
select :'part' in ('turnout', 'peak') as part_ok,
       :'part' = 'peak' as part_peak \gset
\if :part_ok
\else
  set tallyflow.part = :'part';
  do $$ begin raise exception 'part must be turnout or peak, not "%"', current_setting('tallyflow.part'); end $$;
\endif
set time zone :'poll_tz';

\if :part_peak
with counted as (
  -- exact votes per option and bucket in [from, to) (migration 013)
  select bucket_start, votes from report_range_counts(:'poll_id', :'from', :'to')
), buckets as (
  select bucket_start, sum(votes)::bigint as votes from counted group by bucket_start
)
select rank() over (order by votes desc) as rank,
       bucket_start,
       bucket_start + rollup_bucket_width() as bucket_end,
       votes,
       round(100.0 * votes / nullif(sum(votes) over (), 0), 2) as share_pct
from buckets
order by votes desc, bucket_start
limit (:'top')::integer;
\else
with b as (
  -- the rollups per bucket (all options together), every bucket overlapping [from, to)
  select r.bucket_start, sum(r.count)::bigint as votes
  from vote_rollups r
  where r.poll_id = :'poll_id'
    and r.bucket_start > :'from'::timestamptz - rollup_bucket_width()
    and r.bucket_start < :'to'::timestamptz
  group by r.bucket_start
), bounds as materialized (
  select case when isfinite(:'from'::timestamptz) then :'from'::timestamptz
              else (select min(bucket_start) from b) end as first_t,
         case when isfinite(:'to'::timestamptz) then :'to'::timestamptz
              else (select max(bucket_start) + rollup_bucket_width() from b) end as end_t
), grid as (
  -- Every 10-minute bucket of the span, with the local hour of its first and last instant
  -- inside the span. hour(t) = t - (local time of t - its local hour): the instant the
  -- local clock last showed hh:00, so the two 01:00 hours of a fall-back day stay apart.
  -- Time zones are converted once per bucket, not once per rollup row or vote.
  select g as bucket_start,
         e.ts - ((e.ts at time zone :'poll_tz') - date_trunc('hour', e.ts at time zone :'poll_tz'))
           as first_hour,
         e.te - ((e.te at time zone :'poll_tz') - date_trunc('hour', e.te at time zone :'poll_tz'))
           as last_hour,
         g >= :'from'::timestamptz and g + rollup_bucket_width() <= :'to'::timestamptz as inside
  from bounds,
       generate_series(rollup_bucket_start(bounds.first_t),
                       bounds.end_t - interval '1 microsecond', rollup_bucket_width()) g,
       lateral (select greatest(g, bounds.first_t) as ts,
                       least(g + rollup_bucket_width(), bounds.end_t) - interval '1 microsecond'
                         as te) e
), edge as materialized (
  -- Buckets cut by from/to or by the start of a local hour (every bucket holding hh:45 UTC
  -- in Asia/Kathmandu, none in whole- or half-hour zones): counted from raw votes, the part
  -- before the hour starts (split) and the part after, one index-only probe per bucket.
  select g.first_hour, g.last_hour, c.before_split, c.after_split
  from grid g
  join b using (bucket_start)
  cross join lateral (
    select count(*) filter (where g.first_hour = g.last_hour or v.cast_at < g.last_hour)
             as before_split,
           count(*) filter (where g.first_hour <> g.last_hour and v.cast_at >= g.last_hour)
             as after_split
    from votes v
    where v.poll_id = :'poll_id'
      and v.cast_at >= greatest(g.bucket_start, :'from'::timestamptz)
      and v.cast_at < least(g.bucket_start + rollup_bucket_width(), :'to'::timestamptz)
  ) c
  where not (g.inside and g.first_hour = g.last_hour)
), counted as (
  -- a bucket inside [from, to) and inside one local hour: its rollup count
  select g.first_hour as hour_start, b.votes
  from grid g join b using (bucket_start)
  where g.inside and g.first_hour = g.last_hour
  union all
  select first_hour, before_split from edge
  union all
  select last_hour, after_split from edge where after_split > 0
), hourly as (
  select hour_start, sum(votes)::bigint as votes from counted group by hour_start
), hours as (
  select first_hour as hour_start from grid
  union
  select last_hour from grid
), filled as (
  select h.hour_start, coalesce(x.votes, 0) as votes
  from hours h left join hourly x using (hour_start)
)
select hour_start,
       votes,
       sum(votes) over (order by hour_start)::bigint as cumulative_votes,
       round(100.0 * sum(votes) over (order by hour_start)
             / nullif(sum(votes) over (), 0), 2) as cumulative_pct
from filled
order by hour_start;
\endif
