-- 035 (owned by the batch writer): VOTES_RETENTION_DAYS (issue #29, "Years of votes"):
-- the monthly partitions of `votes` (migration 033) whose whole month is past retention
-- are detached and dropped by the writers' partition maintenance
-- (batch-writer/votes-partitions.ts).
--
-- Only raw rows go: vote_rollups, poll_changes, voter_ballots and the refusals stay, so the
-- published totals and the reports over rollups keep counting the dropped votes.
--
-- The dedupe horizon, for ever by event id until now, becomes "the retention": a resend of
-- a vote of a dropped month would find no stored copy. So the writer refuses, before either
-- store path, every vote whose event id time (a UUIDv7's) is older than now − retention,
-- into rejected_votes with reason past_retention (batch-writer/votes-retention.ts). A month
-- is dropped only once it ended a day before that horizon: the writer computes the horizon
-- on its own clock, and the day keeps a writer whose clock lags Postgres's (by under a
-- day) from storing a vote of a month just dropped (it would land in the default
-- partition and be counted again).
--
-- Never dropped: votes_legacy (non-v7 ids: their time says nothing of their age) and
-- votes_default; only partitions named votes_pYYYY_MM, the ones votes_ensure_partitions
-- creates, are considered (one attached by hand under another name is left alone).
--
-- Locks: dropping a partition takes ACCESS EXCLUSIVE on it and on `votes`. Each is waited
-- for at most lock_timeout 1 s: a queued exclusive request holds up every query over votes
-- behind it, so behind a long report or an open transaction on the partition the pass
-- stops there (the partitions dropped before it stay dropped, each in a subtransaction)
-- and the next maintenance interval tries again.
create function votes_drop_expired_partitions(
  p_keep interval,
  p_now timestamptz default now()
) returns table (partition_name text)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  leaf text;
begin
  -- The same advisory lock as votes_ensure_partitions: one maintenance at a time.
  if not pg_try_advisory_xact_lock(hashtext('votes_ensure_partitions')) then
    return;
  end if;
  perform set_config('lock_timeout', '1s', true);
  for leaf in
    select c.relname::text from pg_inherits i join pg_class c on c.oid = i.inhrelid
    where i.inhparent = 'votes'::regclass and c.relname ~ '^votes_p[0-9]{4}_[0-9]{2}$'
      and (to_date(substr(c.relname, 8), 'YYYY_MM')::timestamp + interval '1 month')
          at time zone 'UTC' <= p_now - p_keep - interval '1 day'
    order by 1
  loop
    begin
      execute format('alter table votes detach partition %I', leaf);
      execute format('drop table %I', leaf);
    exception when lock_not_available then
      -- Busy (a query or an open transaction holds it): not this time, nor any later
      -- month in this pass; the next interval tries again.
      return;
    end;
    partition_name := leaf;
    return next;
  end loop;
end $$;
revoke execute on function votes_drop_expired_partitions(interval, timestamptz) from public;
grant execute on function votes_drop_expired_partitions(interval, timestamptz) to tallyflow_writer;
