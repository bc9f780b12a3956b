-- 044 (owned by the batch writer): the writer's other tables that grow with events,
-- partitioned by month like `votes` (033), under one maintenance (issue #29, "Years of votes").
--
--   table              partition key (by UTC month)      what keeps its key per partition
--   rejected_votes     event_id_time(event_id)           a unique index on (event_id) in each
--   conflicting_votes  event_id_time(event_id)           a unique index nulls not distinct on
--                                                        (event_id, kiosk_id, poll_id, option_id,
--                                                        voter_id) in each
--   duplicate_counts   day                               its primary key (poll_id, kiosk_id, day),
--                                                        a real one on the partitioned table
--   dead_letters       first_seen                        primary key (id, first_seen) and unique
--                                                        (msg_id, item_index, first_seen) on the
--                                                        partitioned table; (msg_id, item_index)
--                                                        through record_dead_letters below
--
-- Why these keys:
--   - the two event tables take 033's key, the event id's own time: a redelivery or resend of a
--     refused or clashing vote, a month or a year later, lands in the partition of the first
--     copy, where the unique index refuses it, as their primary/unique keys did. As for votes,
--     Postgres accepts no unique index on a table partitioned by an expression, so each
--     partition carries its own (created with it, or added by the maintenance to a partition
--     attached by hand) and the writer's inserts say ON CONFLICT DO NOTHING without a target.
--   - duplicate_counts is per UTC day already: its day is the key, a column, so its primary key
--     stays a real one and the writer's ON CONFLICT (poll_id, kiosk_id, day) is unchanged.
--   - dead_letters is keyed by the message (015), which carries no time. first_seen is set when a
--     message is first dead-lettered and never changed (a new copy updates last_seen), so a dead
--     letter stays in one partition for good. Its key (msg_id, item_index) cannot be a unique
--     constraint of the partitioned table without first_seen; record_dead_letters keeps it:
--     under a transaction lock on the key it finds the dead letter's first_seen (any partition)
--     and upserts on (msg_id, item_index, first_seen). Both writers of dead letters call it.
--
-- One maintenance for all five tables (votes included): time_partitioned_tables names each
-- table and its rules, and the functions below, rewritten from 033, 035 and 040, read it.
-- votes_ensure_partitions, votes_expired_partitions, votes_drop_expired_partition(s) remain,
-- as the same functions for `votes` (the archive, tests and operators call them).
--
-- Retention: the same VOTES_RETENTION_DAYS, the same rule (a month is dropped a day after it
-- ended before now − retention). Refusals and duplicate counts are records of votes, with the
-- same voter ids (erasure pseudonymises them with the votes), and report 08 sets them beside
-- the votes of a window: kept longer than the votes they count, they would describe votes no
-- longer there; kept shorter, a report of a stored month would miss its refusals. Two
-- differences, each a column of time_partitioned_tables below:
--   - dead_letters: a month holding a dead letter never replayed is not dropped (one is a vote
--     not counted yet, or a message an operator must see); the writer warns at every pass until
--     it is replayed (`npm run dlq -- replay`; a replay that fails again is a new dead letter).
--   - the refusals, duplicate counts and dead letters of a month already past retention (a
--     past_retention refusal: its event id is that old by definition; or an old deployment's
--     history) get no partition: they wait in the default partition and are deleted from it once
--     they were recorded (rejected_at, recorded_at, day; a dead letter's last_seen, once it is
--     replayed) retention ago, so a refusal is kept the retention after it happened rather than
--     dropped at the next pass. Votes keep
--     033's rule: such a month is given a partition, which the drop or the archive then takes.
--
-- An existing deployment: each old table becomes its DEFAULT partition as 033 did for votes
-- (renamed, attached; no row copied), the partitions of this month and three ahead are
-- created, each moving its rows out of the default, and the writers' maintenance moves one
-- past month per pass afterwards. dead_letters' default gets two new indexes (its keys now
-- name first_seen): built in the migration, a scan of a table of failures, small by nature.

create table time_partitioned_tables (
  parent text primary key,
  -- The partition key as a timestamptz over the row (a UTC month's rows: key in [from, to)).
  key_time_sql text not null,
  -- The unique indexes each partition needs, as pg_get_indexdef prints them after
  -- "USING btree " (the table partitioned by an expression cannot hold them itself).
  unique_keys text[] not null default '{}',
  -- A <parent>_legacy partition [MINVALUE, 2000-01-01): non-v7 event ids; never dropped.
  has_legacy boolean not null,
  -- Null: a month past retention in the default partition is given a partition like any other
  -- (votes: the drop or the archive then takes it). Otherwise such a month stays in the
  -- default, whose rows this predicate ($1: the horizon) says are past retention are deleted.
  expired_default_sql text,
  -- A partition past retention holding a row this predicate holds for is kept.
  keeps_partition_sql text
);
comment on table time_partitioned_tables is
  'The writer''s tables partitioned by month, and their rules (migration 044).';
-- The writers read which tables to keep; they change none of the rules.
grant select on time_partitioned_tables to tallyflow_writer, tallyflow_analyst;

insert into time_partitioned_tables values
  ('votes', 'event_id_time(event_id)', '{(event_id)}', true, null, null),
  ('rejected_votes', 'event_id_time(event_id)', '{(event_id)}', true,
   'rejected_at < $1', null),
  ('conflicting_votes', 'event_id_time(event_id)',
   '{"(event_id, kiosk_id, poll_id, option_id, voter_id) NULLS NOT DISTINCT"}', true,
   'recorded_at < $1', null),
  ('duplicate_counts', '(day::timestamp at time zone ''UTC'')', '{}', false,
   'day < ($1 at time zone ''UTC'')::date', null),
  ('dead_letters', 'first_seen', '{"(msg_id, item_index)"}', false,
   'last_seen < $1 and replayed_at is not null', 'replayed_at is null');

-- rejected_votes ---------------------------------------------------------------------------
alter table rejected_votes rename to rejected_votes_default;
alter index rejected_votes_pkey rename to rejected_votes_default_event_id_key;
alter index rejected_votes_poll_idx rename to rejected_votes_default_poll_idx;
create table rejected_votes (like rejected_votes_default including defaults including constraints)
  partition by range (event_id_time(event_id));
-- 031's index (the purge reads a poll's refusals), partitioned.
create index rejected_votes_poll_idx on rejected_votes (poll_id);
alter table rejected_votes attach partition rejected_votes_default default;

-- conflicting_votes ------------------------------------------------------------------------
alter table conflicting_votes rename to conflicting_votes_default;
alter index conflicting_votes_pkey rename to conflicting_votes_default_pkey;
alter index conflicting_votes_event_id_kiosk_id_poll_id_option_id_voter_key
  rename to conflicting_votes_default_key;
alter index conflicting_votes_poll_idx rename to conflicting_votes_default_poll_idx;
create table conflicting_votes (
  like conflicting_votes_default including defaults including constraints including identity
) partition by range (event_id_time(event_id));
create index conflicting_votes_poll_idx on conflicting_votes (poll_id);
-- The ids go on from the old table's (the partitioned table has a sequence of its own).
select setval(pg_get_serial_sequence('conflicting_votes', 'id'), max(id))
  from conflicting_votes_default having max(id) is not null;
alter table conflicting_votes_default alter column id drop identity;
alter table conflicting_votes attach partition conflicting_votes_default default;

-- duplicate_counts -------------------------------------------------------------------------
alter table duplicate_counts rename to duplicate_counts_default;
alter index duplicate_counts_pkey rename to duplicate_counts_default_pkey;
create table duplicate_counts (
  like duplicate_counts_default including defaults including constraints,
  primary key (poll_id, kiosk_id, day)
) partition by range (day);
-- The old primary key is attached as the default's part of the new one: no index built.
alter table duplicate_counts attach partition duplicate_counts_default default;

-- dead_letters -----------------------------------------------------------------------------
alter table dead_letters rename to dead_letters_default;
alter index dead_letters_pkey rename to dead_letters_default_pkey;
alter index dead_letters_msg_id_item_index_key rename to dead_letters_default_msg_id_item_index_key;
create table dead_letters (
  like dead_letters_default including defaults including constraints including identity,
  primary key (id, first_seen),
  unique (msg_id, item_index, first_seen)
) partition by range (first_seen);
select setval(pg_get_serial_sequence('dead_letters', 'id'), max(id))
  from dead_letters_default having max(id) is not null;
alter table dead_letters_default alter column id drop identity;
-- A partition holds one primary key: the partitioned table's (id, first_seen), built on attach.
alter table dead_letters_default drop constraint dead_letters_default_pkey;
alter table dead_letters attach partition dead_letters_default default;

-- Rights as 016 and 032 gave them, on the partitioned tables.
grant select, insert, update on rejected_votes, conflicting_votes, duplicate_counts, dead_letters
  to tallyflow_writer;
grant select on rejected_votes, conflicting_votes, duplicate_counts, dead_letters
  to tallyflow_analyst;
grant select on dead_letters to tallyflow_api;
grant update (replayed_at) on dead_letters to tallyflow_api;
grant usage on all sequences in schema public to tallyflow_api, tallyflow_writer;
revoke all on rejected_votes_default, conflicting_votes_default, duplicate_counts_default,
  dead_letters_default from tallyflow_writer, tallyflow_analyst, tallyflow_api;

-- The maintenance ------------------------------------------------------------------------
-- 033's helpers become these, for any table of time_partitioned_tables.
drop function votes_add_partition(text, timestamptz, timestamptz);
drop function votes_partitions_due(interval, timestamptz, integer);
drop function votes_partitions_without_key();

-- Creates partition p_name of p_parent for [p_from, p_to) (p_from null: from MINVALUE), with
-- the unique indexes it needs, after moving the rows of that range out of the default
-- partition (ATTACH refuses while the default holds any). Returns the rows moved. Created
-- then attached, not PARTITION OF: attaching takes SHARE UPDATE EXCLUSIVE on the parent,
-- which writers' inserts and reports pass (033). The caller holds the default locked.
create function time_partition_add(p_parent text, p_name text, p_from timestamptz, p_to timestamptz)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
  spec text;
  moved bigint;
begin
  select * into strict t from time_partitioned_tables where parent = p_parent;
  execute format('create table %I (like %I including defaults including constraints)',
    p_name, p_parent);
  foreach spec in array t.unique_keys loop
    execute format('create unique index on %I %s', p_name, spec);
  end loop;
  execute format(
    'with gone as (delete from %2$I d where %3$s < $2 and ($1::timestamptz is null or %3$s >= $1) '
    '  returning d.*) '
    'insert into %1$I select * from gone', p_name, p_parent || '_default', t.key_time_sql)
    using p_from, p_to;
  get diagnostics moved = row_count;
  -- The bounds as UTC text, which a timestamptz key and a date key (a month starts at 00:00)
  -- both read.
  execute format('alter table %I attach partition %I for values from (%s) to (%L)',
    p_parent, p_name,
    coalesce(quote_literal(to_char(p_from at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'),
             'MINVALUE'),
    to_char(p_to at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
  return moved;
end $$;
revoke execute on function time_partition_add(text, text, timestamptz, timestamptz) from public;

-- The months to create a partition of p_parent for, oldest first (033's rule): every month
-- from p_now's to p_now + p_ahead's that has none, and the oldest p_max_past_months (null:
-- all) months the default holds rows of, from 2000 up to p_now + p_ahead's month, except,
-- for a table with expired_default_sql and with p_keep given, months already past retention.
create function time_partitions_due(
  p_parent text, p_ahead interval, p_now timestamptz, p_max_past_months integer,
  p_keep interval default null
) returns setof timestamp language plpgsql stable set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
begin
  select * into strict t from time_partitioned_tables where parent = p_parent;
  return query execute format($q$
    with bounds as (
      select date_trunc('month', $1 at time zone 'UTC') as first,
             date_trunc('month', ($1 + $2) at time zone 'UTC') as horizon
    )
    (select s.m from bounds b, generate_series(b.first, b.horizon, interval '1 month') as s(m)
     where to_regclass(format('%%s_p%%s', %1$L, to_char(s.m, 'YYYY_MM'))) is null)
    union
    (select d.m from bounds b, (
       select distinct date_trunc('month', %3$s at time zone 'UTC') as m from %2$I) d
     where d.m >= timestamp '2000-01-01' and d.m <= b.horizon
       and ($4::interval is null or not $5
            or (d.m + interval '1 month') at time zone 'UTC' > $1 - $4 - interval '1 day')
     order by d.m limit $3)
    order by 1 $q$, p_parent, p_parent || '_default', t.key_time_sql)
    using p_now, p_ahead, p_max_past_months, p_keep, t.expired_default_sql is not null;
end $$;

-- Leaf partitions of p_parent lacking one of the unique indexes they need (attached by hand).
create function time_partitions_without_key(p_parent text) returns table (leaf regclass, spec text)
  language sql stable set search_path = public, pg_temp as $$
  select t.relid, k.spec
  from pg_partition_tree(p_parent::regclass) t
  cross join time_partitioned_tables p
  cross join unnest(p.unique_keys) as k(spec)
  where p.parent = p_parent and t.isleaf and not exists (
    select 1 from pg_index i
    where i.indrelid = t.relid and i.indisunique and i.indpred is null
      and pg_get_indexdef(i.indexrelid) like '% USING btree ' || k.spec) $$;

-- The maintenance of one table (033's, for any of them), run by the writers
-- (batch-writer/votes-partitions.ts) once per table, each call its own transaction, so that
-- a pass never holds two tables' default partitions at once:
--   - creates a partition for each month time_partitions_due names, moving its rows;
--   - gives every leaf its unique indexes.
-- Returns one row per partition created, with the rows it took from the default. One
-- maintenance at a time (an advisory lock, not waited for: the second returns nothing). A
-- pass with nothing to do takes no other lock; one with work locks the default partition
-- (ACCESS EXCLUSIVE), waiting at most lock_timeout 2 s for it (033's reason).
create function time_partitions_ensure(
  p_parent text,
  p_ahead interval default interval '3 months',
  p_now timestamptz default now(),
  p_max_past_months integer default 1,
  p_keep interval default null
) returns table (partition_name text, moved bigint)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
  m timestamp;
  k record;
begin
  if not pg_try_advisory_xact_lock(hashtext('votes_ensure_partitions')) then
    return;
  end if;
  select * into strict t from time_partitioned_tables where parent = p_parent;
  if (not t.has_legacy or to_regclass(p_parent || '_legacy') is not null)
     and not exists (select 1 from time_partitions_due(p_parent, p_ahead, p_now, p_max_past_months, p_keep))
     and not exists (select 1 from time_partitions_without_key(p_parent)) then
    return;
  end if;
  perform set_config('lock_timeout', '2s', true);
  execute format('lock table %I in access exclusive mode', p_parent || '_default');

  if t.has_legacy and to_regclass(p_parent || '_legacy') is null then
    partition_name := p_parent || '_legacy';
    moved := time_partition_add(p_parent, partition_name, null,
                                timestamptz '2000-01-01 00:00:00+00');
    return next;
  end if;

  -- Again under the lock: a row may have landed in the default since.
  for m in select * from time_partitions_due(p_parent, p_ahead, p_now, p_max_past_months, p_keep) loop
    partition_name := format('%s_p%s', p_parent, to_char(m, 'YYYY_MM'));
    moved := time_partition_add(p_parent, partition_name, m at time zone 'UTC',
                                (m + interval '1 month') at time zone 'UTC');
    return next;
  end loop;

  for k in select * from time_partitions_without_key(p_parent) loop
    execute format('create unique index on %s %s', k.leaf, k.spec);
  end loop;
end $$;
revoke execute on function time_partitions_ensure(text, interval, timestamptz, integer, interval)
  from public;
grant execute on function time_partitions_ensure(text, interval, timestamptz, integer, interval)
  to tallyflow_writer;

-- 033's function, for votes alone, as before.
create or replace function votes_ensure_partitions(
  p_ahead interval default interval '3 months',
  p_now timestamptz default now(),
  p_max_past_months integer default 1
) returns table (partition_name text, moved bigint)
  language sql security definer set search_path = public, pg_temp as $$
  select * from time_partitions_ensure('votes', p_ahead, p_now, p_max_past_months) $$;

-- The monthly partitions of p_parent whose whole month ended a day before now − p_keep,
-- oldest first, with the month's bounds (040's rule, one home for every table). Never the
-- legacy or default partition; only partitions named <parent>_pYYYY_MM (the maintenance's).
create function time_partitions_expired(p_parent text, p_keep interval, p_now timestamptz default now())
  returns table (partition_name text, month_start timestamptz, month_end timestamptz)
  language sql stable security definer set search_path = public, pg_temp as $$
  select c.relname::text,
         m.start at time zone 'UTC',
         (m.start + interval '1 month') at time zone 'UTC'
  from pg_inherits i
  join pg_class c on c.oid = i.inhrelid
  cross join lateral (
    select to_date(substr(c.relname, length(p_parent) + 3), 'YYYY_MM')::timestamp as start) m
  where i.inhparent = p_parent::regclass
    and c.relname ~ ('^' || p_parent || '_p[0-9]{4}_[0-9]{2}$')
    and (m.start + interval '1 month') at time zone 'UTC' <= p_now - p_keep - interval '1 day'
  order by 1
$$;

-- Drops one partition of p_parent if it is past retention and nothing in it is to be kept
-- (keeps_partition_sql: a dead letter never replayed). Returns 'dropped', 'kept' (with the
-- rows that keep it in p_kept_rows) or null when it is not past retention (or is gone: another
-- writer dropped it). Raises lock_not_available after 1 s behind a query or an open
-- transaction (035's reason); the caller tries again at its next pass.
create function time_partition_drop_expired(
  p_parent text,
  p_name text,
  p_keep interval,
  p_now timestamptz default now(),
  out outcome text,
  out kept_rows bigint
) language plpgsql security definer set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
begin
  select * into strict t from time_partitioned_tables where parent = p_parent;
  if not exists (select 1 from time_partitions_expired(p_parent, p_keep, p_now) e
                 where e.partition_name = p_name) then
    return;
  end if;
  perform set_config('lock_timeout', '1s', true);
  if t.keeps_partition_sql is not null then
    -- Locked first, as the detach would lock them (the parent, then the partition): no row
    -- may turn into one to keep (a dead letter seen again is listed for replay again)
    -- between the count and the drop.
    execute format('lock table %I, %I in access exclusive mode', p_parent, p_name);
    execute format('select count(*) from %I where %s', p_name, t.keeps_partition_sql) into kept_rows;
    if kept_rows > 0 then
      outcome := 'kept';
      return;
    end if;
  end if;
  execute format('alter table %I detach partition %I', p_parent, p_name);
  execute format('drop table %I', p_name);
  outcome := 'dropped';
  kept_rows := 0;
end $$;

-- The retention pass of one table: drops its partitions past retention, oldest first, and,
-- for a table with expired_default_sql, deletes up to 10,000 rows of months past retention
-- from its default partition (a converted deployment's years of refusals go in bounded
-- statements, a pass each, never in one). Returns what it did: (partition, 'dropped' | 'kept', rows
-- keeping it), and (default, 'deleted', rows) when it deleted any. A partition busy past
-- lock_timeout ends the pass there (those dropped before it stay dropped).
create function time_partitions_drop_expired(
  p_parent text,
  p_keep interval,
  p_now timestamptz default now()
) returns table (partition_name text, outcome text, affected bigint)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
  leaf text;
  r record;
begin
  -- The same advisory lock as the ensure: one maintenance at a time.
  if not pg_try_advisory_xact_lock(hashtext('votes_ensure_partitions')) then
    return;
  end if;
  select * into strict t from time_partitioned_tables where parent = p_parent;
  for leaf in select e.partition_name from time_partitions_expired(p_parent, p_keep, p_now) e loop
    begin
      select * into r from time_partition_drop_expired(p_parent, leaf, p_keep, p_now);
    exception when lock_not_available then
      -- Busy: not this time, nor any later month in this pass; the next interval tries again.
      return;
    end;
    if r.outcome is not null then
      partition_name := leaf;
      outcome := r.outcome;
      affected := r.kept_rows;
      return next;
    end if;
  end loop;

  if t.expired_default_sql is not null then
    execute format($q$
      delete from %1$I d where d.ctid = any (array(
        select x.ctid from %1$I x
        where (date_trunc('month', %2$s at time zone 'UTC') + interval '1 month') at time zone 'UTC'
              <= $1 and %3$s
        limit 10000)) $q$,
      p_parent || '_default', t.key_time_sql, t.expired_default_sql)
      using p_now - p_keep - interval '1 day';
    get diagnostics affected = row_count;
    if affected > 0 then
      partition_name := p_parent || '_default';
      outcome := 'deleted';
      return next;
    end if;
  end if;
end $$;
revoke execute on function time_partitions_expired(text, interval, timestamptz) from public;
revoke execute on function time_partition_drop_expired(text, text, interval, timestamptz) from public;
revoke execute on function time_partitions_drop_expired(text, interval, timestamptz) from public;
grant execute on function time_partitions_expired(text, interval, timestamptz) to tallyflow_writer;
grant execute on function time_partitions_drop_expired(text, interval, timestamptz)
  to tallyflow_writer;

-- 040's functions, for votes alone, on the shared ones (the archive calls them).
create or replace function votes_expired_partitions(p_keep interval, p_now timestamptz default now())
  returns table (partition_name text, month_start timestamptz, month_end timestamptz)
  language sql stable security definer set search_path = public, pg_temp as $$
  select * from time_partitions_expired('votes', p_keep, p_now) $$;

create or replace function votes_drop_expired_partition(
  p_name text,
  p_keep interval,
  p_now timestamptz default now()
) returns boolean
  language sql security definer set search_path = public, pg_temp as $$
  select d.outcome is not distinct from 'dropped'
  from time_partition_drop_expired('votes', p_name, p_keep, p_now) d $$;

create or replace function votes_drop_expired_partitions(
  p_keep interval,
  p_now timestamptz default now()
) returns table (partition_name text)
  language sql security definer set search_path = public, pg_temp as $$
  select d.partition_name from time_partitions_drop_expired('votes', p_keep, p_now) d
  where d.outcome = 'dropped' $$;

-- Every table's partitions of this month and three ahead; the tables' history stays in
-- their default partitions until the writers' maintenance moves it, a month per pass.
select time_partitions_ensure(parent, p_max_past_months => 0)
  from time_partitioned_tables where parent <> 'votes';

-- Records dead letters, keyed by their message (015): the same message dead-lettered again
-- (a resend past the duplicate window, a max-deliveries move repeated) updates its dead letter,
-- whatever month it was first seen in, takes the latest bytes and is listed for replay again;
-- two copies in one call are one dead letter. The key's transaction-level advisory lock, taken
-- in key order before the look-up (a statement of its own, so the look-up sees a dead letter
-- another writer just committed), stands in for the unique constraint the partitions cannot
-- hold across months. The one home of this upsert: store-batch.ts and max-deliveries.ts.
create function record_dead_letters(
  p_stream text, p_stream_seq bigint[], p_msg_id text[], p_item_index integer[],
  p_subject text[], p_raw bytea[], p_error text[], p_deliveries integer[], p_reason text[]
) returns void language plpgsql set search_path = public, pg_temp as $$
begin
  perform pg_advisory_xact_lock(hashtext('dead_letters'), hashtext(k.key))
  from (select distinct format('%s:%s', m, i) as key
        from unnest(p_msg_id, p_item_index) as u(m, i) order by 1) k;
  insert into dead_letters as d (stream, stream_seq, msg_id, item_index, subject, raw, error,
                                 deliveries, reason, first_seen)
  select distinct on (u.msg_id, u.item_index) p_stream, u.*,
         coalesce((select e.first_seen from dead_letters e
                   where e.msg_id = u.msg_id and e.item_index = u.item_index
                   order by e.first_seen limit 1), now())
  from unnest(p_stream_seq, p_msg_id, p_item_index, p_subject, p_raw, p_error, p_deliveries,
              p_reason) as u(stream_seq, msg_id, item_index, subject, raw, error, deliveries, reason)
  on conflict (msg_id, item_index, first_seen) do update set
    stream = excluded.stream, stream_seq = excluded.stream_seq, subject = excluded.subject,
    raw = excluded.raw, error = excluded.error, deliveries = excluded.deliveries,
    reason = excluded.reason, last_seen = now(), replayed_at = null;
end $$;
revoke execute on function record_dead_letters(text, bigint[], text[], integer[], text[], bytea[],
  text[], integer[], text[]) from public;
grant execute on function record_dead_letters(text, bigint[], text[], integer[], text[], bytea[],
  text[], integer[], text[]) to tallyflow_writer;

-- 033's purge step again: a ctid names a row within one partition only, so the refusals, now
-- partitioned too, are deleted partition by partition like the votes, each by its own ctids,
-- up to p_limit rows a table. The rest is 033's as it was.
create or replace function purge_deleted_polls(p_limit integer)
  returns table (poll_id text, purged bigint, done boolean)
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  p poll_purges%rowtype;
  n bigint;
  budget bigint := p_limit;
  left_over boolean := false;
  leaf regclass;
  refusals text;
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
  foreach refusals in array array['rejected_votes', 'conflicting_votes'] loop
    exit when left_over;
    budget := p_limit;
    for leaf in select t.relid from pg_partition_tree(refusals::regclass) t where t.isleaf loop
      exit when budget <= 0;
      execute format($q$
        delete from %1$s r
        where r.ctid = any (array(select x.ctid from %1$s x where x.poll_id = $1 limit $2)) $q$,
        leaf)
        using p.poll_id, budget;
      get diagnostics n = row_count;
      budget := budget - n;
      purged := purged + n;
    end loop;
    left_over := budget <= 0;
  end loop;

  poll_id := p.poll_id;
  done := not left_over;
  if done then
    delete from poll_purges q where q.poll_id = p.poll_id;
  else
    update poll_purges q set rows_purged = q.rows_purged + purged where q.poll_id = p.poll_id;
  end if;
  return next;
end $$;
