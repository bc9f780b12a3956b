-- Report 03 · calendar: votes per option per day, week and month, in the poll's time zone.
--
-- Question   How many votes per option each local day, week and month?
--
-- Variables  poll_id   required
--            from, to  optional: votes cast in [from, to) (timestamps; one without an offset
--                      is read in the poll's time zone). Default: every vote.
--            period    optional: day | week | month | all (default all)
-- Output     period, period_start, option_id, label, votes
--            period_start is a local date: the day itself, the Monday of the ISO week, or
--            the first of the month, in polls.time_zone (a Europe/London day starts at local
--            midnight, so 2026-03-29 is 23 hours long and 2026-10-25 is 25 hours long).
--            Zero-filled: every day from the first to the last day of the range (the range
--            given, else the days that have votes) and every option. A week or month cut by
--            the range counts only the days inside it.
-- Source     vote_rollups (fast). A 10-minute bucket is used whole when it lies inside
--            [from, to) and inside one local day (always, for zones whose UTC offset is a
--            multiple of 10 minutes); the few other buckets (cut by from/to, or by local
--            midnight in zones such as Asia/Kathmandu, +05:45) are counted from raw votes.
--            Index-only scans: vote_rollups_poll_bucket_idx, votes_poll_cast_idx.
-- Run        psql -v poll_id=lunch -f sql/reports/03_calendar.sql
--            psql -v poll_id=lunch -v period=week -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/03_calendar.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 03_calendar
\set poll_optional off
\set usage_args ' [-v period=day|week|month|all]'
\ir include/settings.sql
\ir include/poll.sql
\if :{?period} \else \set period all \endif
-- This report's own variables: one query checks them.
select :'period' in ('day', 'week', 'month', 'all') as period_ok \gset
\if :period_ok
\else
  set tallyflow.period = :'period';
  do $$ begin raise exception 'period must be day, week, month or all, not "%"', current_setting('tallyflow.period'); end $$;
\endif
set time zone :'poll_tz';

with rng as (
  select :'from'::timestamptz as lo, :'to'::timestamptz as hi
), r as (
  -- every rollup bucket that overlaps [from, to)
  select r.option_id, r.bucket_start, r.count
  from vote_rollups r, rng
  where r.poll_id = :'poll_id'
    and r.bucket_start > rng.lo - rollup_bucket_width() and r.bucket_start < rng.hi
), span as materialized (
  select case when isfinite(rng.lo) then rng.lo else (select min(bucket_start) from r) end as first_t,
         case when isfinite(rng.hi) then rng.hi
              else (select max(bucket_start) + rollup_bucket_width() from r) end as end_t
  from rng
), grid as (
  -- every 10-minute bucket of the span, with the local day of its first and last instant
  -- inside the span (time zones converted once per bucket, not once per rollup row)
  select g as bucket_start,
         (greatest(g, span.first_t) at time zone :'poll_tz')::date as first_day,
         ((least(g + rollup_bucket_width(), span.end_t) - interval '1 microsecond')
          at time zone :'poll_tz')::date as last_day,
         g >= rng.lo and g + rollup_bucket_width() <= rng.hi as inside
  from span, rng,
       generate_series(rollup_bucket_start(span.first_t),
                       span.end_t - interval '1 microsecond', rollup_bucket_width()) g
), edge as materialized (
  -- the rollup rows of buckets cut by from/to or by local midnight (usually none)
  select r.option_id, r.bucket_start
  from grid g join r using (bucket_start)
  where not (g.inside and g.first_day = g.last_day)
), counted as (
  -- a bucket inside [from, to) and inside one local day: its rollup count
  select r.option_id, g.first_day as day, r.count as votes
  from grid g join r using (bucket_start)
  where g.inside and g.first_day = g.last_day
  union all
  -- any other bucket: its votes inside the range, by local day (one index probe each)
  select e.option_id, v.day, v.votes
  from edge e
  cross join rng
  cross join lateral (
    select (v.cast_at at time zone :'poll_tz')::date as day, count(*) as votes
    from votes v
    where v.poll_id = :'poll_id' and v.option_id = e.option_id
      and v.cast_at >= greatest(e.bucket_start, rng.lo)
      and v.cast_at < least(e.bucket_start + rollup_bucket_width(), rng.hi)
    group by 1
  ) v
), daily as (
  select option_id, day, sum(votes)::bigint as votes from counted group by option_id, day
), bounds as (
  select case when isfinite(rng.lo) then (rng.lo at time zone :'poll_tz')::date
              else (select min(day) from daily) end as first_day,
         case when isfinite(rng.hi)
              then ((rng.hi - interval '1 microsecond') at time zone :'poll_tz')::date
              else (select max(day) from daily) end as last_day
  from rng
), days as (
  select g::date as day
  from bounds, generate_series(bounds.first_day, bounds.last_day, interval '1 day') g
), periods as (
  select 'day' as period, 1 as ord, day as period_start, day from days
  union all
  select 'week', 2, date_trunc('week', day::timestamp)::date, day from days
  union all
  select 'month', 3, date_trunc('month', day::timestamp)::date, day from days
), opts as (
  select o.id as option_id, o.label, o.position
  from poll_options o where o.poll_id = :'poll_id'
  union all
  select distinct d.option_id, d.option_id, null::integer
  from daily d
  where not exists (select 1 from poll_options o where o.poll_id = :'poll_id' and o.id = d.option_id)
)
select p.period, p.period_start, o.option_id, o.label, coalesce(sum(d.votes), 0)::bigint as votes
from periods p
cross join opts o
left join daily d on d.day = p.day and d.option_id = o.option_id
where :'period' in ('all', p.period)
group by p.ord, p.period, p.period_start, o.position, o.option_id, o.label
order by p.ord, p.period_start, o.position nulls last, o.option_id;
