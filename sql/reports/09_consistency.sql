-- Report 09 · consistency: rollup counts against raw vote counts, every bucket.
--
-- Question   Do the rollups (what results are built from) agree with the raw votes?
--
-- Variables  poll_id   optional: one poll (default: every poll)
--            from, to  optional: buckets whose start lies in [from, to) (timestamps; one
--                      without an offset is read in the poll's time zone, or UTC without
--                      poll_id). Default: every bucket.
-- Output     result, poll_id, option_id, bucket_start, rollup_count, votes_count,
--            difference, detail
--            One row per (poll, option, 10-minute bucket) whose vote_rollups count differs
--            from the number of votes rows in that bucket (result = mismatch; a bucket
--            missing on one side counts as 0 there; difference = votes - rollup), then one
--            summary row (result = summary; totals over the checked buckets). When they
--            agree, the summary row is all that is printed: detail = 'ok: all N buckets
--            agree'. Otherwise detail = 'M of N buckets differ'.
-- Source     both, on purpose: vote_rollups against votes grouped by
--            rollup_bucket_start(cast_at) (migration 014), the writer's own bucketing:
--            an index-only scan of votes_poll_cast_idx for one poll; every poll is a
--            parallel scan of all votes (statistics votes_bucket_stats, migration 006).
-- Retention  with VOTES_RETENTION_DAYS (migration 035) the raw votes of dropped months are
--            gone and their rollups stay: pass from = the start of the oldest votes_pYYYY_MM
--            partition (README, "09 consistency"), or those months show as mismatches.
-- Run        psql -v poll_id=lunch -f sql/reports/09_consistency.sql
--            psql -f sql/reports/09_consistency.sql     (every poll: reads all votes)

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads poll_optional).
\set poll_optional on
\ir include/settings.sql
-- sorts and hashes over a poll's (or every) vote stay in memory
set work_mem = '64MB';
\ir include/poll.sql
set time zone :'poll_tz';

-- The votes of the buckets starting in [from, to) are those cast in [vlo, vhi): from and to
-- rounded up to a bucket boundary. Literals, not a CTE, so the planner sees the bounds.
select case when rollup_bucket_start(f) = f then f
            else rollup_bucket_start(f) + rollup_bucket_width() end as vlo,
       case when rollup_bucket_start(t) = t then t
            else rollup_bucket_start(t) + rollup_bucket_width() end as vhi
from (select :'from'::timestamptz as f, :'to'::timestamptz as t) given \gset

with r as (
  select r.poll_id, r.option_id, r.bucket_start, r.count
  from vote_rollups r
  where (:'poll_id' = '' or r.poll_id = :'poll_id')
    and r.bucket_start >= :'from'::timestamptz and r.bucket_start < :'to'::timestamptz
), v as (
  select v.poll_id, v.option_id,
         rollup_bucket_start(v.cast_at) as bucket_start,
         count(*) as count
  from votes v
  where (:'poll_id' = '' or v.poll_id = :'poll_id')
    and v.cast_at >= :'vlo'::timestamptz and v.cast_at < :'vhi'::timestamptz
    -- A deleted poll's votes wait for the background purge (migration 031), its rollups do not.
    and not exists (select 1 from poll_purges pp where pp.poll_id = v.poll_id)
  group by 1, 2, 3
), cmp as (
  select poll_id, option_id, bucket_start,
         coalesce(r.count, 0) as rollup_count, coalesce(v.count, 0) as votes_count
  from r full join v using (poll_id, option_id, bucket_start)
), report as (
  select 'mismatch' as result, poll_id, option_id, bucket_start, rollup_count, votes_count,
         votes_count - rollup_count as difference, null::text as detail
  from cmp
  where rollup_count <> votes_count
  union all
  select 'summary',
         case when :'poll_id' = '' then '(all polls)' else :'poll_id' end,
         null, null,
         coalesce(sum(rollup_count), 0)::bigint,
         coalesce(sum(votes_count), 0)::bigint,
         (coalesce(sum(votes_count), 0) - coalesce(sum(rollup_count), 0))::bigint,
         case when count(*) filter (where rollup_count <> votes_count) = 0
              then format('ok: all %s buckets agree', count(*))
              else format('%s of %s buckets differ',
                          count(*) filter (where rollup_count <> votes_count), count(*)) end
  from cmp
)
select * from report
order by result = 'summary', poll_id, option_id, bucket_start;
