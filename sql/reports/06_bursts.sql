-- Report 06 · bursts: kiosk x 10-minute buckets far above the kiosk's own norm.
--
-- Question   Where did a kiosk suddenly record far more votes than it usually does (the
--            classic sign of a stuck button or ballot stuffing)?
--
-- Variables  poll_id        required
--            from, to       optional: votes cast in [from, to) (timestamps; one without an
--                           offset is read in the poll's time zone). Default: every vote.
--            z_score        optional: flag when the bucket's z-score is above this (default 3)
--            median_factor  optional: ... or when it is above this × the median (default 5)
--            min_votes      optional: ... and only buckets with at least this many votes
--                           (default 10), so that 3 votes against a median of 0.5 is no alarm
-- Output     kiosk_id, bucket_start, votes, active_buckets, median, mean, stddev, z_score,
--            ratio_to_median, top_option_id, top_option_votes
--            A kiosk's norm is taken over its active buckets (10-minute buckets, UTC-aligned,
--            with at least one vote in the range): empty buckets are nights and breaks, not
--            its normal pace. stddev is the population standard deviation; z_score =
--            (votes - mean) / stddev (empty when stddev is 0). top_option_*: the option
--            chosen most in that bucket (a stuck button repeats one option). Strongest
--            bursts first.
-- Source     raw votes (the rollups have no kiosk): an index-only scan of one poll's votes,
--            votes_poll_cast_idx (poll_id, cast_at) include (kiosk_id, option_id, ...) from
--            migration 006; the top option probes only the flagged buckets.
-- Run        psql -v poll_id=lunch -f sql/reports/06_bursts.sql
--            psql -v poll_id=lunch -v z_score=4 -v min_votes=20 -f sql/reports/06_bursts.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 06_bursts
\set poll_optional off
\set usage_args ' [-v z_score=3] [-v median_factor=5] [-v min_votes=10]'
\ir include/settings.sql
-- sorts and hashes over a poll's (or every) vote stay in memory
set work_mem = '64MB';
\ir include/poll.sql
\if :{?z_score} \else \set z_score 3 \endif
\if :{?median_factor} \else \set median_factor 5 \endif
\if :{?min_votes} \else \set min_votes 10 \endif
set time zone :'poll_tz';

with buckets as (
  -- votes per kiosk and bucket, straight from the index
  select v.kiosk_id,
         rollup_bucket_start(v.cast_at) as bucket_start,
         count(*) as votes
  from votes v
  where v.poll_id = :'poll_id'
    and v.cast_at >= :'from'::timestamptz and v.cast_at < :'to'::timestamptz
  group by 1, 2
), norms as (
  select kiosk_id,
         count(*) as active_buckets,
         percentile_cont(0.5) within group (order by votes) as median,
         avg(votes) as mean,
         stddev_pop(votes) as stddev
  from buckets group by kiosk_id
), flagged as (
  select b.kiosk_id, b.bucket_start, b.votes, n.active_buckets, n.median, n.mean, n.stddev,
         (b.votes - n.mean) / nullif(n.stddev, 0) as z,
         b.votes / nullif(n.median, 0) as ratio
  from buckets b join norms n using (kiosk_id)
  where b.votes >= (:'min_votes')::numeric
    and ((b.votes - n.mean) / nullif(n.stddev, 0) > (:'z_score')::numeric
         or b.votes > (:'median_factor')::numeric * n.median)
)
select f.kiosk_id,
       f.bucket_start,
       f.votes,
       f.active_buckets,
       round(f.median::numeric, 2) as median,
       round(f.mean, 2) as mean,
       round(f.stddev, 2) as stddev,
       round(f.z, 2) as z_score,
       round(f.ratio::numeric, 2) as ratio_to_median,
       t.option_id as top_option_id,
       t.votes as top_option_votes
from flagged f
cross join lateral (
  -- the option chosen most in the flagged bucket (an index probe; ties: first id)
  select v.option_id, count(*) as votes
  from votes v
  where v.poll_id = :'poll_id' and v.kiosk_id = f.kiosk_id
    and v.cast_at >= greatest(f.bucket_start, :'from'::timestamptz)
    and v.cast_at < least(f.bucket_start + rollup_bucket_width(), :'to'::timestamptz)
  group by v.option_id
  order by count(*) desc, v.option_id
  limit 1
) t
order by f.z desc nulls last, f.ratio desc nulls last, f.kiosk_id, f.bucket_start;
