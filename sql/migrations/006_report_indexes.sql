-- 006: indexes for the analyst reports (sql/reports), each justified by the reports that
-- need it. What they cost the writer is measured in BENCHMARKS.md ("Analyst reports").
--
-- 01_totals, 02_distribution, 03_calendar, 04_turnout, 09_consistency: one poll's rollup
-- rows in time order, within [from, to). The primary key (poll_id, option_id, bucket_start)
-- finds them too, but then every row costs a heap visit, and a poll's rows are spread over
-- the whole table (rollups are written as buckets fill, all polls interleaved). Covering
-- option_id and count makes it an index-only scan, about 1 MB per poll-month, which keeps
-- these reports under 100 ms. The writer's rollup upsert already rewrites an indexed column
-- (tx_id, migration 005), so this adds an index entry per (poll, option, bucket) a batch
-- touches, not per vote.
create index vote_rollups_poll_bucket_idx on vote_rollups (poll_id, bucket_start)
  include (option_id, count);

-- 05_kiosks, 06_bursts, 07_late_arrivals: one poll's votes within [from, to), with the
-- columns these reports read (kiosk, option, both arrival times), as an index-only scan.
-- Without it they read every page of `votes`: a poll's rows are spread over the whole table,
-- interleaved with the other polls' in arrival order (2-6 times slower at 10 million votes).
-- 04_turnout also counts the buckets a local hour cuts (every bucket, in a +05:45 zone)
-- through it: one short range per bucket, where the (poll, option, cast) index needs one per
-- option (18 s instead of 0.07 s for Asia/Kathmandu without it). Keyed on (poll_id, cast_at), not on
-- the kiosk: new votes append at the end of each poll's range (as they do in
-- votes_poll_option_cast_idx), where a kiosk-first key would put every insert on a random
-- page of a large index and double the writer's cost (measured).
create index votes_poll_cast_idx on votes (poll_id, cast_at)
  include (kiosk_id, option_id, received_at, stored_at);

-- 10_attendance: a check-in poll's (voter, local day) pairs, in voter order, and the check
-- that a poll's votes carry voter ids at all. Partial: anonymous votes (most polls) are not
-- in it, so it costs them nothing.
create index votes_poll_voter_cast_idx on votes (poll_id, voter_id, cast_at)
  where voter_id is not null;

-- 09_consistency over every poll groups 10 million votes by (poll, option, bucket). Without
-- these statistics the planner expects one group per vote and will not split the work
-- between parallel workers; with them (ANALYZE fills them) it does, about 40% faster.
create statistics votes_bucket_stats (ndistinct)
  on poll_id, option_id, date_bin('10 minutes', cast_at, timestamptz '2000-01-01 00:00:00+00')
  from votes;
