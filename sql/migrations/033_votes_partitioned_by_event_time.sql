-- 033 (owned by the batch writer): `votes` partitioned by month, by the time its event id
-- carries, with the dedupe key enforced inside each partition (issue #29, "Years of votes").
--
-- The partition key is event_id_time(event_id), an expression of the event id alone:
--   - a UUIDv7 (what kiosks and the API generate: kiosk-client/event-id.ts,
--     ingest-api/votes/vote-service.ts) carries its creation time in its first 48 bits
--     (milliseconds since 1970, RFC 9562): that instant;
--   - any other UUID (common/vote.ts accepts any): 1970-01-01, the legacy partition.
-- So the partition of a vote is a function of its event id and nothing else: a resend a
-- year later, across a month boundary, or with castAt changed by a kiosk's clock
-- correction lands in the same partition as the first copy, where a unique index on
-- event_id alone refuses it (the writer's direct COPY fails on it and the staging path's
-- ON CONFLICT DO NOTHING skips it, as before). The dedupe horizon stays "for ever, by event
-- id". Postgres computes the key while routing the row, so no writer, script or test can
-- put one event id in two partitions by computing it differently (a plain column filled by
-- the writer could; it would also cost 8 bytes a row and a change to every insert).
--
-- The price of an expression key: Postgres accepts no unique index on the partitioned table
-- itself (its unique keys must contain the key's columns, and an expression has none), so
-- each partition carries its own unique index on (event_id); votes_ensure_partitions creates
-- it with every partition and adds it to any leaf found without one. A lookup by event id
-- names the key too (event_id_time(v.event_id) = event_id_time(x)) so that only one
-- partition is probed (batch-writer/event-id-conflicts.ts).
--
-- Partitions (all by UTC month):
--   votes_legacy    [MINVALUE, 2000-01-01): non-v7 ids (and v7 ids of clocks before 2000);
--                   a retention policy must never drop it: its rows' time says nothing of
--                   their age.
--   votes_pYYYY_MM  one per month, created ahead by votes_ensure_partitions.
--   votes_default   DEFAULT: a vote whose month has no partition yet is stored here, never
--                   refused; votes_ensure_partitions moves it to its month's partition.
--
-- An existing deployment: the old table becomes the DEFAULT partition as it is (renamed,
-- attached: no row copied, its indexes attached to the partitioned ones, its primary key
-- is that partition's unique index), then the partitions of the current month and the
-- three ahead are created, each moving its rows out of the default, and the oldest past
-- month is moved too. The other past months stay in the default until the writers'
-- maintenance (or `select votes_ensure_partitions()` by hand) moves them, one month per
-- call, each in its own transaction, so the migration itself copies two months at most. An INSERT … SELECT into a new table would copy the
-- whole history in the migration's one transaction, with the table locked throughout.
-- On a fresh database the default is empty and all of this is instant.

-- The instant a UUIDv7 carries; 1970-01-01 for any other UUID. IMMUTABLE: it is the
-- partition key. The writer never needs it in JavaScript: Postgres routes each row.
create function event_id_time(p_event_id uuid) returns timestamptz
  language sql immutable strict parallel safe as $$
  select case when substr(p_event_id::text, 15, 1) = '7'
    then to_timestamp(
      ('x' || substr(p_event_id::text, 1, 8) || substr(p_event_id::text, 10, 4))::bit(48)::bigint
      / 1000.0)
    else timestamptz '1970-01-01 00:00:00+00' end $$;

-- The old table, its indexes and statistics, renamed out of the way.
alter table votes rename to votes_default;
alter index votes_pkey rename to votes_default_event_id_key;
alter index votes_poll_option_cast_idx rename to votes_default_poll_option_cast_idx;
alter index votes_poll_cast_idx rename to votes_default_poll_cast_idx;
alter index votes_poll_voter_cast_idx rename to votes_default_poll_voter_cast_idx;
drop statistics votes_bucket_stats;

create table votes (like votes_default including defaults)
  partition by range (event_id_time(event_id));

-- The same indexes as before (001, 006: each is there for the reports and queries named
-- there), now partitioned: every partition gets its own, the default's existing ones are
-- attached as they are.
create index votes_poll_option_cast_idx on votes (poll_id, option_id, cast_at);
create index votes_poll_cast_idx on votes (poll_id, cast_at)
  include (kiosk_id, option_id, received_at, stored_at);
create index votes_poll_voter_cast_idx on votes (poll_id, voter_id, cast_at)
  where voter_id is not null;
-- 006's statistics, on the bucket as 014 defines it (one home for the width).
create statistics votes_bucket_stats (ndistinct)
  on poll_id, option_id, rollup_bucket_start(cast_at)
  from votes;

alter table votes attach partition votes_default default;

-- The rights 016 gave on votes, on the partitioned table (a partition is reached through it).
grant select, insert, update on votes to tallyflow_writer;
grant select on votes to tallyflow_analyst;
revoke all on votes_default from tallyflow_writer, tallyflow_analyst;

-- Creates the partition p_name of votes for [p_from, p_to) (p_from null: from MINVALUE),
-- with its unique index on event_id, after moving the rows of that range out of the default
-- partition into it (ATTACH refuses while the default holds any). Returns the rows moved.
-- Created then attached rather than CREATE … PARTITION OF: attaching locks the partitioned
-- table in SHARE UPDATE EXCLUSIVE mode, which writers' inserts and reports' reads pass,
-- where PARTITION OF takes ACCESS EXCLUSIVE. The caller holds the default partition locked.
create function votes_add_partition(p_name text, p_from timestamptz, p_to timestamptz)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  moved bigint;
begin
  execute format('create table %I (like votes including defaults)', p_name);
  execute format('create unique index %I on %I (event_id)', p_name || '_event_id_key', p_name);
  execute format(
    'with gone as (delete from votes_default d where event_id_time(d.event_id) < $2 '
    '  and ($1::timestamptz is null or event_id_time(d.event_id) >= $1) returning d.*) '
    'insert into %I select * from gone', p_name)
    using p_from, p_to;
  get diagnostics moved = row_count;
  execute format('alter table votes attach partition %I for values from (%s) to (%L)',
    p_name, coalesce(quote_literal(p_from), 'MINVALUE'), p_to);
  return moved;
end $$;
revoke execute on function votes_add_partition(text, timestamptz, timestamptz) from public;

-- The months votes_ensure_partitions is to create a partition for, oldest first: every month
-- from p_now's to p_now + p_ahead's that has none, and the oldest p_max_past_months (null:
-- all) months the default partition holds rows of, from 2000 up to p_now + p_ahead's month.
-- Later months (a kiosk clock far ahead) stay in the default until they are that close, so
-- a wrong clock cannot make partitions for years that have not come.
create function votes_partitions_due(p_ahead interval, p_now timestamptz, p_max_past_months integer)
  returns setof timestamp language sql stable set search_path = public, pg_temp as $$
  with bounds as (
    select date_trunc('month', p_now at time zone 'UTC') as first,
           date_trunc('month', (p_now + p_ahead) at time zone 'UTC') as horizon
  )
  (select s.m from bounds b, generate_series(b.first, b.horizon, interval '1 month') as s(m)
   where to_regclass(format('votes_p%s', to_char(s.m, 'YYYY_MM'))) is null)
  union
  (select d.m from bounds b, (
     select distinct date_trunc('month', event_id_time(v.event_id) at time zone 'UTC') as m
     from votes_default v) d
   where d.m >= timestamp '2000-01-01' and d.m <= b.horizon
   order by d.m limit p_max_past_months)
  order by 1 $$;

-- A leaf partition of votes without a unique index on event_id alone (one attached by hand).
create function votes_partitions_without_key() returns setof regclass
  language sql stable set search_path = public, pg_temp as $$
  select t.relid from pg_partition_tree('votes') t
  where t.isleaf and not exists (
    select 1 from pg_index i
    join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
    where i.indrelid = t.relid and i.indisunique and i.indnkeyatts = 1
      and i.indpred is null and i.indexprs is null and a.attname = 'event_id') $$;

-- The partitions' maintenance, run by the writers (batch-writer/votes-partitions.ts) and by
-- this migration: one call, one transaction.
--   - creates a partition for each month votes_partitions_due names (those ahead, and the
--     oldest past month the default partition holds rows of, by default), moving its rows;
--   - gives every partition without one its unique index on event_id (a partition attached
--     by hand without it would not refuse a resend).
-- Returns one row per partition created, with the rows it took from the default.
-- Writers call it at once: the second returns nothing (an advisory lock, not waited for).
-- A pass with nothing to do (most of them) takes no other lock. One with work locks the
-- default partition (ACCESS EXCLUSIVE, as ATTACH does anyway) for its duration, waiting at
-- most lock_timeout 2 s for it (behind a long report, say): a queued ACCESS EXCLUSIVE
-- request holds up every query that plans over `votes`, so it gives up soon and the next
-- interval tries again. Votes for months with a partition are written meanwhile.
create function votes_ensure_partitions(
  p_ahead interval default interval '3 months',
  p_now timestamptz default now(),
  p_max_past_months integer default 1
) returns table (partition_name text, moved bigint)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  m timestamp;
  leaf regclass;
begin
  if not pg_try_advisory_xact_lock(hashtext('votes_ensure_partitions')) then
    return;
  end if;
  if to_regclass('votes_legacy') is not null
     and not exists (select 1 from votes_partitions_due(p_ahead, p_now, p_max_past_months))
     and not exists (select 1 from votes_partitions_without_key()) then
    return;
  end if;
  perform set_config('lock_timeout', '2s', true);
  lock table votes_default in access exclusive mode;

  if to_regclass('votes_legacy') is null then
    partition_name := 'votes_legacy';
    moved := votes_add_partition('votes_legacy', null, timestamptz '2000-01-01 00:00:00+00');
    return next;
  end if;

  -- Again under the lock: a vote may have landed in the default since.
  for m in select * from votes_partitions_due(p_ahead, p_now, p_max_past_months) loop
    partition_name := format('votes_p%s', to_char(m, 'YYYY_MM'));
    moved := votes_add_partition(partition_name, m at time zone 'UTC',
                                 (m + interval '1 month') at time zone 'UTC');
    return next;
  end loop;

  for leaf in select * from votes_partitions_without_key() loop
    execute format('create unique index on %s (event_id)', leaf);
  end loop;
end $$;
revoke execute on function votes_ensure_partitions(interval, timestamptz, integer) from public;
grant execute on function votes_ensure_partitions(interval, timestamptz, integer) to tallyflow_writer;

select votes_ensure_partitions();

-- 031's purge step, rewritten for the partitions: a ctid names a row within one partition
-- only (`delete from votes where ctid = …` would delete that slot in every partition), so the
-- votes are deleted partition by partition, each by its own ctids, up to p_limit in all.
-- The rest is 031's as it was.
create or replace function purge_deleted_polls(p_limit integer)
  returns table (poll_id text, purged bigint, done boolean)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  p poll_purges%rowtype;
  n bigint;
  budget bigint := p_limit;
  left_over boolean := false;
  leaf regclass;
begin
  select * into p from poll_purges q order by q.deleted_at, q.poll_id
    limit 1 for update skip locked;
  if not found then
    return;
  end if;
  purged := 0;

  for leaf in select t.relid from pg_partition_tree('votes') t where t.isleaf loop
    exit when budget <= 0;
    execute format($q$
      with gone as (
        delete from %1$s v
        where v.ctid = any (array(select x.ctid from %1$s x where x.poll_id = $1 limit $2))
        returning v.voter_id, v.cast_at
      ), dirty as (
        insert into attendance_dirty (school_id, person_id, day)
        select distinct $3, g.voter_id, (g.cast_at at time zone s.time_zone)::date
        from gone g join schools s on s.id = $3
        where $4 = 'attendance' and g.voter_id is not null
        on conflict do nothing
      )
      select count(*) from gone $q$, leaf)
      into n using p.poll_id, budget, p.school_id, p.kind;
    budget := budget - n;
    purged := purged + n;
  end loop;
  left_over := budget <= 0;

  if not left_over then
    delete from voter_ballots b
    where b.ctid = any (array(select x.ctid from voter_ballots x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;
  if not left_over then
    delete from rejected_votes r
    where r.ctid = any (array(select x.ctid from rejected_votes x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;
  if not left_over then
    delete from conflicting_votes c
    where c.ctid = any (array(select x.ctid from conflicting_votes x where x.poll_id = p.poll_id limit p_limit));
    get diagnostics n = row_count;
    purged := purged + n;
    left_over := n >= p_limit;
  end if;

  poll_id := p.poll_id;
  done := not left_over;
  if done then
    delete from poll_purges q where q.poll_id = p.poll_id;
  else
    update poll_purges q set rows_purged = q.rows_purged + purged where q.poll_id = p.poll_id;
  end if;
  return next;
end $$;
