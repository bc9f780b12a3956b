-- Report 01 · totals: votes per option, with share of the total and rank.
--
-- Question   How many votes did each option get, what share of the total, what rank?
--
-- Variables  poll_id   required
--            from, to  optional: votes cast in [from, to). Timestamps; one without an offset
--                      is read in the poll's time zone (from=2026-03-29 is local midnight).
--                      Default: every vote.
-- Output     rank, option_id, label, votes, share_pct
--            One row per listed option (zero if nobody chose it) and per option id that has
--            votes but is no longer listed (label = its id, as the publisher shows it).
--            rank: 1 = most votes, ties share a rank. share_pct: % of the votes counted.
-- Source     vote_rollups (fast: index-only, vote_rollups_poll_bucket_idx, migration 006).
--            Only the 10-minute buckets that from/to cut through are counted from raw votes
--            (a probe of votes_poll_cast_idx each), so any range is exact.
-- Run        psql -v poll_id=lunch -f sql/reports/01_totals.sql
--            psql -v poll_id=lunch -v from=2026-03-29 -v to=2026-03-30 -f sql/reports/01_totals.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); poll_id, from, to and poll_tz
-- (include/poll.sql, which reads the three variables set here).
\set report 01_totals
\set poll_optional off
\set usage_args ''
\ir include/settings.sql
\ir include/poll.sql
set time zone :'poll_tz';

with counted as (
  -- exact votes per option and bucket in [from, to) (migration 013)
  select option_id, votes from report_range_counts(:'poll_id', :'from', :'to')
), totals as (
  select option_id, sum(votes)::bigint as votes from counted group by option_id
), opts as (
  select o.id as option_id, o.label, o.position
  from poll_options o where o.poll_id = :'poll_id'
  union all
  select t.option_id, t.option_id, null
  from totals t
  where not exists (select 1 from poll_options o where o.poll_id = :'poll_id' and o.id = t.option_id)
)
select rank() over (order by coalesce(t.votes, 0) desc) as rank,
       o.option_id,
       o.label,
       coalesce(t.votes, 0) as votes,
       round(100.0 * coalesce(t.votes, 0) / nullif(sum(coalesce(t.votes, 0)) over (), 0), 2)
         as share_pct
from opts o left join totals t using (option_id)
order by rank, o.position nulls last, o.option_id;
