-- 014: the rollup bucket, one home in SQL. The writer, the reports and the checks call
-- these functions instead of writing the width; JavaScript has its own one home,
-- common/browser/bucket-width.js, and common/rollup-buckets.test.ts checks that both agree
-- (and that no other copy of the width appears).
--
-- rollup_bucket_width() -> interval
--   The width of a vote_rollups bucket.
-- rollup_bucket_start(ts timestamptz) -> timestamptz
--   The start of the bucket holding ts. Buckets are aligned to UTC: date_bin from
--   2000-01-01 00:00 UTC lands on the same instants as flooring epoch milliseconds by the
--   width, as the JavaScript side does.
--
-- LANGUAGE sql, IMMUTABLE, one SELECT each: Postgres inlines them into the calling query and
-- folds the width into a constant, so the plans are those of the literal they replace (the
-- statistics votes_bucket_stats of migration 006, written with the literal, still match
-- rollup_bucket_start(cast_at)).

create function rollup_bucket_width() returns interval
language sql immutable parallel safe as $$
  select interval '10 minutes'
$$;

create function rollup_bucket_start(ts timestamptz) returns timestamptz
language sql immutable parallel safe as $$
  select date_bin(rollup_bucket_width(), ts, timestamptz '2000-01-01 00:00:00+00')
$$;

-- Migration 013's function, calling the width instead of writing it; same result.
create or replace function report_range_counts(p_poll_id text, lo timestamptz, hi timestamptz)
returns table (option_id text, bucket_start timestamptz, votes bigint)
language sql stable as $$
  with r as (
    -- every rollup bucket that overlaps [lo, hi)
    select r.option_id, r.bucket_start, r.count,
           r.bucket_start >= lo and r.bucket_start + rollup_bucket_width() <= hi as inside
    from vote_rollups r
    where r.poll_id = p_poll_id
      and r.bucket_start > lo - rollup_bucket_width() and r.bucket_start < hi
  )
  select option_id, bucket_start, count from r where inside
  union all
  select r.option_id, r.bucket_start, v.votes
  from r, lateral (
    select count(*) as votes from votes v
    where v.poll_id = p_poll_id and v.option_id = r.option_id
      and v.cast_at >= greatest(r.bucket_start, lo)
      and v.cast_at < least(r.bucket_start + rollup_bucket_width(), hi)
  ) v
  where not r.inside
$$;
