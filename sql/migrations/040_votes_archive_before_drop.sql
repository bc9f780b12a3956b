-- 040 (owned by the batch writer): VOTES_ARCHIVE_DIR, the archive-then-drop option of
-- retention (issue #29, "Years of votes"). With it, a writer writes each monthly partition
-- past retention to a gzip'd CSV file an analyst can load back (docs/pipeline.md), and
-- drops the partition only once the file is complete on disk
-- (batch-writer/votes-archive.ts). Without it, retention drops as migration 035 did.
--
-- The rule of which partitions are past retention gets one home here,
-- votes_expired_partitions, and dropping one gets another, votes_drop_expired_partition;
-- 035's votes_drop_expired_partitions (the pass without archive) is rewritten on both, so
-- the two ways cannot disagree on what is expired or on the locks taken.

-- The monthly partitions whose whole month ended a day before now − p_keep, oldest first,
-- with the month's bounds (event_id_time range, migration 033). Never votes_legacy or
-- votes_default; only partitions named votes_pYYYY_MM (those votes_ensure_partitions makes).
create function votes_expired_partitions(p_keep interval, p_now timestamptz default now())
  returns table (partition_name text, month_start timestamptz, month_end timestamptz)
  language sql stable security definer set search_path = public, pg_temp as $$
  select c.relname::text,
         m.start at time zone 'UTC',
         (m.start + interval '1 month') at time zone 'UTC'
  from pg_inherits i
  join pg_class c on c.oid = i.inhrelid
  cross join lateral (select to_date(substr(c.relname, 8), 'YYYY_MM')::timestamp as start) m
  where i.inhparent = 'votes'::regclass and c.relname ~ '^votes_p[0-9]{4}_[0-9]{2}$'
    and (m.start + interval '1 month') at time zone 'UTC' <= p_now - p_keep - interval '1 day'
  order by 1
$$;

-- Detaches and drops one partition if it is past retention; false when it is not (or no
-- longer exists: another writer dropped it). Raises lock_not_available after 1 s behind a
-- query or an open transaction (035's reason: a queued ACCESS EXCLUSIVE request holds up
-- every query over votes behind it); the caller tries again at its next pass.
create function votes_drop_expired_partition(
  p_name text,
  p_keep interval,
  p_now timestamptz default now()
) returns boolean
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if not exists (select 1 from votes_expired_partitions(p_keep, p_now) e
                 where e.partition_name = p_name) then
    return false;
  end if;
  perform set_config('lock_timeout', '1s', true);
  execute format('alter table votes detach partition %I', p_name);
  execute format('drop table %I', p_name);
  return true;
end $$;

create or replace function votes_drop_expired_partitions(
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
  for leaf in select e.partition_name from votes_expired_partitions(p_keep, p_now) e loop
    begin
      if votes_drop_expired_partition(leaf, p_keep, p_now) then
        partition_name := leaf;
        return next;
      end if;
    exception when lock_not_available then
      -- Busy: not this time, nor any later month in this pass; the next interval tries again.
      return;
    end;
  end loop;
end $$;

revoke execute on function votes_expired_partitions(interval, timestamptz) from public;
grant execute on function votes_expired_partitions(interval, timestamptz) to tallyflow_writer;
revoke execute on function votes_drop_expired_partition(text, interval, timestamptz) from public;
grant execute on function votes_drop_expired_partition(text, interval, timestamptz)
  to tallyflow_writer;
