-- 013: two query pieces that several analyst reports share, as SQL functions (one home
-- each instead of copies in the report files). LANGUAGE sql, STABLE and one SELECT each,
-- so Postgres inlines them into the calling query: the plans are those of the copies.
--
-- report_range_counts(poll_id, lo, hi) -> (option_id, bucket_start, votes)
--   The exact votes of a poll per option and 10-minute bucket in the half-open range
--   [lo, hi): a bucket wholly inside comes from vote_rollups; a bucket cut by lo or hi
--   counts its raw votes inside the range (one index probe each). Reports 01 and 04.
-- report_presence(poll_id, tz, lo, hi) -> (voter_id, day)
--   Each (voter, local day in tz) of a poll's check-ins in [lo, hi) once. Report 10.

create function report_range_counts(p_poll_id text, lo timestamptz, hi timestamptz)
returns table (option_id text, bucket_start timestamptz, votes bigint)
language sql stable as $$
  with r as (
    -- every rollup bucket that overlaps [lo, hi)
    select r.option_id, r.bucket_start, r.count,
           r.bucket_start >= lo and r.bucket_start + interval '10 minutes' <= hi as inside
    from vote_rollups r
    where r.poll_id = p_poll_id
      and r.bucket_start > lo - interval '10 minutes' and r.bucket_start < hi
  )
  select option_id, bucket_start, count from r where inside
  union all
  select r.option_id, r.bucket_start, v.votes
  from r, lateral (
    select count(*) as votes from votes v
    where v.poll_id = p_poll_id and v.option_id = r.option_id
      and v.cast_at >= greatest(r.bucket_start, lo)
      and v.cast_at < least(r.bucket_start + interval '10 minutes', hi)
  ) v
  where not r.inside
$$;

create function report_presence(p_poll_id text, tz text, lo timestamptz, hi timestamptz)
returns table (voter_id text, day date)
language sql stable as $$
  -- In index order (voter, cast_at) a voter's local day only moves forward, so keeping the
  -- rows whose day differs from the previous one deduplicates without sorting or hashing
  -- every check-in.
  select voter_id, day
  from (
    select voter_id, day, lag(day) over (partition by voter_id order by cast_at) as prev_day
    from (
      select v.voter_id, v.cast_at, (v.cast_at at time zone tz)::date as day
      from votes v
      where v.poll_id = p_poll_id and v.voter_id is not null
        and v.cast_at >= lo and v.cast_at < hi
    ) c
  ) x
  where prev_day is distinct from day
$$;
