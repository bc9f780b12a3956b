-- Report 02 · distribution: votes per option per 10-minute bucket, as the publisher shows them.
--
-- Question   How were the votes spread over time, bucket by bucket, exactly as the result
--            publisher shows it (result-publisher/results.ts visibleResults)?
--
-- Variables  poll_id   required
--            from, to  optional: buckets whose start lies in [from, to) (timestamps; one
--                      without an offset is read in the poll's time zone). Default: all.
-- Output     bucket_start, option_id, label, votes
--            One row per bucket and option (listed options in their order, then ids that
--            have votes but are no longer listed). Buckets run, like the publisher's, from
--            the first vote's bucket to the bucket of poll_changes.changed_at (the
--            publication's asOf), zero-filled; from/to only narrow that span. Buckets are
--            10-minute UTC-aligned (as the rollups); bucket_start is shown in the poll's
--            time zone. Counts are shown even when an after_close poll hides them publicly.
-- Source     vote_rollups only: index-only, vote_rollups_poll_bucket_idx (migration 006).
-- Run        psql -v poll_id=lunch -f sql/reports/02_distribution.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 02_distribution
\set poll_optional off
\set usage_args ''
\ir include/settings.sql
\ir include/poll.sql
set time zone :'poll_tz';

with r as (
  select option_id, bucket_start, count from vote_rollups where poll_id = :'poll_id'
), span as (
  -- publisher: first bucket .. max(last bucket, bucket of asOf)
  select min(r.bucket_start) as first_bucket,
         greatest(max(r.bucket_start),
                  (select rollup_bucket_start(c.changed_at)
                   from poll_changes c where c.poll_id = :'poll_id')) as last_bucket
  from r
), buckets as (
  -- zero-filled; from/to only narrow the span
  select g as bucket_start
  from span, generate_series(span.first_bucket, span.last_bucket, rollup_bucket_width()) g
  where g >= :'from'::timestamptz and g < :'to'::timestamptz
), seen as (
  -- the option ids that have rollups: a loose scan of the primary key, one probe each
  with recursive s(option_id) as (
    select min(option_id) from vote_rollups where poll_id = :'poll_id'
    union all
    select (select min(v.option_id) from vote_rollups v
            where v.poll_id = :'poll_id' and v.option_id > s.option_id)
    from s where s.option_id is not null
  )
  select option_id from s where option_id is not null
), opts as materialized (
  -- listed options in their order, then ids with votes that are no longer listed (by id)
  select option_id, label, row_number() over (order by position nulls last, option_id) as ord
  from (
    select o.id as option_id, o.label, o.position
    from poll_options o where o.poll_id = :'poll_id'
    union all
    select s.option_id, s.option_id, null::integer
    from seen s
    where not exists (select 1 from poll_options o
                      where o.poll_id = :'poll_id' and o.id = s.option_id)
  ) listed
), counts as (
  -- the rollup rows, keyed by the option's place (integer sort and merge, no text sort)
  select r.bucket_start, o.ord, r.count from r join opts o using (option_id)
)
select b.bucket_start, o.option_id, o.label, coalesce(c.count, 0) as votes
from buckets b
cross join opts o
left join counts c on c.ord = o.ord and c.bucket_start = b.bucket_start
order by b.bucket_start, o.ord;
