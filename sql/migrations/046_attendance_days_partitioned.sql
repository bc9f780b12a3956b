-- 046 (owned by the batch writer): attendance_days, the presence state per school, person and
-- day, partitioned by month of its day under 044's maintenance (issue #29, "Years of votes").
-- Parameters: none. Output: none.
--
-- Key: `day`, a plain date column (the school-local day), by month: attendance_days_pYYYY_MM
-- holds the days of that month. The day is part of the primary key (school_id, day,
-- person_id), so the key stays a real one on the partitioned table and every ON CONFLICT
-- (school_id, day, person_id) of attendance_keep_days (036) is unchanged. The person index
-- (024, 025: covering the settled columns) and the settling's partial index are partitioned
-- indexes, one per partition. A day with no partition (a kiosk's clock far off, a deployment's
-- history) lands in attendance_days_default and is moved by the writers' maintenance, as
-- duplicate_counts' days are (044).
--
-- Registered in time_partitioned_tables, so the same pass creates the months ahead, moves
-- rows out of the default and drops expired months. Retention: the same VOTES_RETENTION_DAYS
-- and rule as the votes. A person-day is derived from the votes of its school's registers:
-- kept longer than its events it could no longer be recomputed (a register deleted, a time
-- zone changed or an erasure recomputes a day from its events: with them gone the day would
-- be removed or changed), and kept shorter a report over a stored month of votes would miss
-- its presence. The day of grace of the rule (a month goes a day after it ended before
-- now − retention) covers a school-local day's offset from the UTC months of its votes'
-- partitions. Like duplicate_counts (a day-keyed table derived from votes), a row of a month
-- already past retention gets no partition: it waits in the default and is deleted from it
-- (10,000 rows a pass), rather than being moved into a partition only to be dropped.
-- A dropped month does not fire 023's delete trigger (no school is marked for the
-- publisher): its documents stay as last published, and with a retention longer than the
-- publisher's window (ATTENDANCE_DAYS_KEPT, at most 62 days) no published day is touched.
--
-- fillfactor 50 (025: a row inserted at the check-in keeps room on its page for its
-- check-out's heap-only update) is a storage parameter of each partition, not of the
-- partitioned table (Postgres keeps none there, and CREATE TABLE … LIKE copies none): it
-- becomes a column of time_partitioned_tables, set by time_partition_add on every partition
-- it creates, before it moves rows in. The default partition (the old table) keeps its own.
--
-- The fold of attendance_keep_days (036) updated the row version it read by its ctid alone:
-- on a partitioned table a ctid names a row within one partition only, and two person-days
-- of a batch in two months may sit at the same slot of their partitions. It now matches the
-- key too (the same row, and the plan prunes to its partition). The writer's sweep of a
-- deleted school's days (batch-writer/poll-purge.ts) deleted by ctid as well: by key now.
--
-- The change logs attendance_day_changes (025) and attendance_school_changes (023) are not
-- partitioned: the first is pruned by the writer 64 days back (attendance_prune_day_changes)
-- and holds a row per school-day and transaction, the second a row per school; neither grows
-- with the years.
--
-- An existing deployment: the old table becomes the DEFAULT partition (renamed, attached, no
-- row copied; its primary key and both indexes are attached as the partitions' part of the
-- partitioned ones, not rebuilt), the partitions of this month and three ahead are created
-- (each moving its month's rows out of the default: today's month once), and the writers'
-- maintenance moves one past month per pass afterwards. 023's statement trigger, with its
-- transition table, moves from the old table to the partitioned one: a delete through
-- attendance_days marks the school as before, and the maintenance's moves out of the
-- default (deletes of the partition itself) mark nothing.

alter table time_partitioned_tables add column partition_options text;
comment on column time_partitioned_tables.partition_options is
  'Storage parameters each new partition gets (ALTER TABLE … SET (…)), e.g. fillfactor = 50.';

insert into time_partitioned_tables
  (parent, key_time_sql, unique_keys, has_legacy, expired_default_sql, keeps_partition_sql,
   partition_options)
values ('attendance_days', '(day::timestamp at time zone ''UTC'')', '{}', false,
        'day < ($1 at time zone ''UTC'')::date', null, 'fillfactor = 50');

-- 044's time_partition_add, with the table's storage parameters set on the new partition
-- before any row is moved into it.
create or replace function time_partition_add(p_parent text, p_name text, p_from timestamptz, p_to timestamptz)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  t time_partitioned_tables%rowtype;
  spec text;
  moved bigint;
begin
  select * into strict t from time_partitioned_tables where parent = p_parent;
  execute format('create table %I (like %I including defaults including constraints)',
    p_name, p_parent);
  if t.partition_options is not null then
    execute format('alter table %I set (%s)', p_name, t.partition_options);
  end if;
  foreach spec in array t.unique_keys loop
    execute format('create unique index on %I %s', p_name, spec);
  end loop;
  execute format(
    'with gone as (delete from %2$I d where %3$s < $2 and ($1::timestamptz is null or %3$s >= $1) '
    '  returning d.*) '
    'insert into %1$I select * from gone', p_name, p_parent || '_default', t.key_time_sql)
    using p_from, p_to;
  get diagnostics moved = row_count;
  execute format('alter table %I attach partition %I for values from (%s) to (%L)',
    p_parent, p_name,
    coalesce(quote_literal(to_char(p_from at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00'),
             'MINVALUE'),
    to_char(p_to at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || '+00');
  return moved;
end $$;
revoke execute on function time_partition_add(text, text, timestamptz, timestamptz) from public;

-- attendance_days ---------------------------------------------------------------------------
alter table attendance_days rename to attendance_days_default;
alter index attendance_days_pkey rename to attendance_days_default_pkey;
alter index attendance_days_person_idx rename to attendance_days_default_person_idx;
alter index attendance_days_unsettled_idx rename to attendance_days_default_unsettled_idx;
drop trigger attendance_days_mark_deleted on attendance_days_default;
create table attendance_days (
  like attendance_days_default including defaults including constraints,
  primary key (school_id, day, person_id)
) partition by range (day);
create index attendance_days_person_idx on attendance_days (school_id, person_id, day)
  include (settled_closed_seconds, settled_open_since);
create index attendance_days_unsettled_idx on attendance_days (day)
  where settled_closed_seconds is null;
-- The old key and indexes are attached as the default's parts of the new ones: none built.
alter table attendance_days attach partition attendance_days_default default;
create trigger attendance_days_mark_deleted after delete on attendance_days
  referencing old table as old_rows
  for each statement execute function mark_attendance_school_changed();

-- Rights as 019 gave them, on the partitioned table.
grant select, insert, update, delete on attendance_days to tallyflow_writer;
grant select on attendance_days to tallyflow_publisher, tallyflow_api, tallyflow_analyst;
revoke all on attendance_days_default
  from tallyflow_writer, tallyflow_publisher, tallyflow_api, tallyflow_analyst;

-- 036's upkeep, its fold matching the key with the ctid (see above); the rest as it was.
create or replace function attendance_keep_days(
  p_poll_ids text[],
  p_person_ids text[],
  p_kinds text[],
  p_cast_ats timestamptz[],
  p_event_ids uuid[],
  p_temperatures numeric[],
  p_dirty_limit integer,
  out person_days integer,
  out removed integer
)
language plpgsql as $$
declare
  v_batch integer;
  v_single integer;
  v_written integer;
  -- the school-days of the batch's person-days (all written by this transaction, one way
  -- or the other)
  v_log_schools text[];
  v_log_days date[];
  -- the batch's person-days not written by the fold: the locking way
  v_schools text[];
  v_persons text[];
  v_days date[];
  v_locked integer;
begin
  with reg as materialized (
    -- the batch's registers, with their school's zone (a few rows)
    select p.id, p.school_id, s.time_zone
    from (select distinct x.poll_id from unnest(p_poll_ids) as x(poll_id)) r
    join polls p on p.id = r.poll_id
    join schools s on s.id = p.school_id
  ), ev as (
    select reg.school_id, u.person_id collate "C" as person_id,
           (u.cast_at at time zone reg.time_zone)::date as day,
           date_trunc('milliseconds', u.cast_at) as at, u.event_id, u.kind, u.temperature_c
    from unnest(p_poll_ids, p_person_ids, p_kinds, p_cast_ats, p_event_ids, p_temperatures)
      as u(poll_id, person_id, kind, cast_at, event_id, temperature_c)
    join reg on reg.id = u.poll_id
    where u.kind in ('in', 'out')
  ), pd as materialized (
    -- (the event's fields are its own where n = 1, the only case they are read)
    select ev.school_id, ev.person_id, ev.day, count(*)::integer as n, min(ev.at) as at,
           (array_agg(ev.event_id))[1] as event_id, min(ev.kind) as kind,
           max(ev.temperature_c) as temperature_c
    from ev
    group by ev.school_id, ev.person_id, ev.day
    -- key order: rows are written in it (writers on the same rows then wait, not deadlock)
    order by ev.school_id collate "C", ev.day, ev.person_id
  ), one as (
    -- the person-days of one event, with their row as this statement sees it (one probe)
    select pd.*, a.ctid as row_ctid,
           coalesce((pd.at, pd.event_id) > (a.last_event_at, a.last_event_id), false) as after
    from pd
    left join attendance_days a
      on a.school_id = pd.school_id and a.day = pd.day and a.person_id = pd.person_id
    where pd.n = 1
  ), folded as (
    -- A person-day's one event after its row's last event (time, then event id) folded
    -- into the row: replayDay's step, in CASE expressions over the old row. Not after it
    -- (late, out of order) or a row that does not say (no last event): not written here,
    -- done the locking way below.
    update attendance_days a set
      closed_ms = a.closed_ms + (case when pd.kind = 'out' and a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end),
      closed_seconds = (a.closed_ms + (case when pd.kind = 'out' and a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end)) / 1000,
      first_in = case when pd.kind = 'in' and a.open_since is null
                      then coalesce(a.first_in, pd.at) else a.first_in end,
      last_out = case when pd.kind = 'out' and a.open_since is not null
                      then pd.at else a.last_out end,
      open_since = (case when pd.kind = 'in' then coalesce(a.open_since, pd.at) end),
      max_temperature_c = greatest(a.max_temperature_c, pd.temperature_c),
      outs_without_in = a.outs_without_in
        + (pd.kind = 'out' and a.open_since is null and a.first_in is null)::integer,
      double_ins = a.double_ins + (pd.kind = 'in' and a.open_since is not null)::integer,
      double_outs = a.double_outs
        + (pd.kind = 'out' and a.open_since is null and a.first_in is not null)::integer,
      events = a.events + 1,
      last_event_at = pd.at, last_event_id = pd.event_id,
      settled_closed_seconds = case when a.settled_closed_seconds is not null
                                    then (a.closed_ms + (case when pd.kind = 'out' and a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end)) / 1000 end,
      settled_open_since = case when a.settled_closed_seconds is not null then (case when pd.kind = 'in' then coalesce(a.open_since, pd.at) end) end,
      tx_id = pg_current_xact_id(), updated_at = now()
    from one pd
    -- (by the row version read: one changed since, by another writer, is rechecked on its
    -- latest version, whose ctid differs: left to the locking way, as one not after is).
    -- A ctid names a row within one partition only (046): the key says which partition,
    -- and lets the plan prune to it per person-day.
    where pd.after and a.ctid = pd.row_ctid
      and a.school_id = pd.school_id and a.day = pd.day and a.person_id = pd.person_id
      and (pd.at, pd.event_id) > (a.last_event_at, a.last_event_id)
    returning 1
  ), created as (
    -- A person-day's one event on no row (the morning's check-in): its row as that event
    -- alone leaves it. One another writer created meanwhile is left to the locking way.
    insert into attendance_days (
      school_id, person_id, day, closed_seconds, closed_ms, first_in, last_out, open_since,
      max_temperature_c, outs_without_in, double_ins, double_outs, events, last_event_at,
      last_event_id, tx_id, updated_at)
    select pd.school_id, pd.person_id, pd.day, 0, 0,
           case when pd.kind = 'in' then pd.at end, null, case when pd.kind = 'in' then pd.at end,
           pd.temperature_c, (pd.kind = 'out')::integer, 0, 0, 1, pd.at, pd.event_id,
           pg_current_xact_id(), now()
    from one pd
    where pd.row_ctid is null
    order by pd.school_id collate "C", pd.day, pd.person_id
    on conflict (school_id, day, person_id) do nothing
    returning 1
  ), log as (
    select array_agg(l.school_id) as schools, array_agg(l.day) as days
    from (select distinct pd.school_id, pd.day from pd) l
  ), several as (
    select array_agg(pd.school_id) as schools, array_agg(pd.person_id) as persons,
           array_agg(pd.day) as days
    from pd
    where pd.n > 1
  )
  select (select count(*) from pd)::integer, (select count(*) from pd where pd.n = 1)::integer,
         (select count(*) from folded)::integer + (select count(*) from created)::integer,
         log.schools, log.days, sv.schools, sv.persons, sv.days
  into v_batch, v_single, v_written, v_log_schools, v_log_days, v_schools, v_persons, v_days
  from log cross join several sv;

  if v_written < v_single then
    -- Some single events were not folded (late, out of order): which, by their rows as this
    -- statement sees them (not written by this transaction). Only then: a difference of the
    -- batch's person-days and those written, inside the statement above, is what a planner
    -- that expects a few rows from the arrays may join in quadratic time.
    with reg as materialized (
      select p.id, p.school_id, s.time_zone
      from (select distinct x.poll_id from unnest(p_poll_ids) as x(poll_id)) r
      join polls p on p.id = r.poll_id
      join schools s on s.id = p.school_id
    ), pd as (
      select reg.school_id, u.person_id collate "C" as person_id,
             (u.cast_at at time zone reg.time_zone)::date as day
      from unnest(p_poll_ids, p_person_ids, p_kinds, p_cast_ats)
        as u(poll_id, person_id, kind, cast_at)
      join reg on reg.id = u.poll_id
      where u.kind in ('in', 'out')
      group by 1, 2, 3
      having count(*) = 1
    )
    select coalesce(v_schools, '{}') || array_agg(pd.school_id),
           coalesce(v_persons, '{}') || array_agg(pd.person_id),
           coalesce(v_days, '{}') || array_agg(pd.day)
    into v_schools, v_persons, v_days
    from pd
    left join attendance_days a
      on a.school_id = pd.school_id and a.day = pd.day and a.person_id = pd.person_id
    where a.tx_id is distinct from pg_current_xact_id();
  end if;

  person_days := v_batch - coalesce(cardinality(v_schools), 0);
  removed := 0;
  if v_schools is not null or p_dirty_limit > 0 then
    -- The locking way: claims up to p_dirty_limit dirty person-days (SKIP LOCKED: another
    -- writer's claims are its own; claiming never waits), adds the given ones, and locks
    -- them all in key order without a new row version: a missing one is inserted empty, an
    -- existing one locked by ON CONFLICT DO UPDATE … WHERE false.
    with claimed as (
      delete from attendance_dirty d
      where (d.school_id, d.person_id, d.day) in (
        select x.school_id, x.person_id, x.day from attendance_dirty x
        order by x.school_id, x.person_id, x.day limit p_dirty_limit for update skip locked)
      returning d.school_id, d.person_id, d.day
    ), person_days as (
      select claimed.school_id, claimed.person_id, claimed.day from claimed
      union
      select u.school_id, u.person_id collate "C", u.day
      from unnest(v_schools, v_persons, v_days) as u(school_id, person_id, day)
    ), locked as (
      insert into attendance_days as a (school_id, person_id, day)
      select k.school_id, k.person_id, k.day from person_days k
      order by k.school_id collate "C", k.day, k.person_id
      on conflict (school_id, day, person_id) do update set events = a.events where false
    )
    select array_agg(k.school_id), array_agg(k.person_id), array_agg(k.day)
    into v_schools, v_persons, v_days
    from person_days k;
  end if;

  if v_schools is not null then
    -- A statement of its own: it sees every event committed before the locks were granted.
    with k as (
      select u.school_id, u.person_id collate "C" as person_id, u.day
      from unnest(v_schools, v_persons, v_days) as u(school_id, person_id, day)
    ), st as (
      select k.school_id, k.person_id, k.day, d.closed_seconds, d.closed_ms, d.first_in,
             d.last_out, d.open_since, d.max_temperature_c, d.outs_without_in, d.double_ins,
             d.double_outs, d.events, d.last_event_at, d.last_event_id
      from k
      left join lateral attendance_day_states_of(k.school_id, k.person_id, k.day, k.day + 1) d
        on true
    ), gone as (
      delete from attendance_days a
      using st
      where st.events is null
        and a.school_id = st.school_id and a.day = st.day and a.person_id = st.person_id
      returning 1
    ), kept as (
      insert into attendance_days as a (
        school_id, person_id, day, closed_seconds, closed_ms, first_in, last_out, open_since,
        max_temperature_c, outs_without_in, double_ins, double_outs, events, last_event_at,
        last_event_id, tx_id, updated_at)
      select st.school_id, st.person_id, st.day, st.closed_seconds, st.closed_ms, st.first_in,
             st.last_out, st.open_since, st.max_temperature_c, st.outs_without_in,
             st.double_ins, st.double_outs, st.events, st.last_event_at, st.last_event_id,
             pg_current_xact_id(), now()
      from st
      where st.events is not null
      order by st.school_id collate "C", st.day, st.person_id
      on conflict (school_id, day, person_id) do update set
        closed_seconds = excluded.closed_seconds, closed_ms = excluded.closed_ms,
        first_in = excluded.first_in, last_out = excluded.last_out,
        open_since = excluded.open_since, max_temperature_c = excluded.max_temperature_c,
        outs_without_in = excluded.outs_without_in, double_ins = excluded.double_ins,
        double_outs = excluded.double_outs, events = excluded.events,
        last_event_at = excluded.last_event_at, last_event_id = excluded.last_event_id,
        settled_closed_seconds = case when a.settled_closed_seconds is not null
                                      then excluded.closed_seconds end,
        settled_open_since = case when a.settled_closed_seconds is not null
                                  then excluded.open_since end,
        tx_id = pg_current_xact_id(), updated_at = now()
      returning 1
    )
    select (select count(*) from gone)::integer, coalesce(cardinality(v_schools), 0)
    into removed, v_locked;
    person_days := person_days + v_locked;
  end if;

  insert into attendance_day_changes (school_id, day)
  select l.school_id, l.day from unnest(v_log_schools, v_log_days) as l(school_id, day)
  union
  select u.school_id, u.day from unnest(v_schools, v_days) as u(school_id, day);
end $$;


-- This month's partition and three ahead; the history stays in the default until the
-- writers' maintenance moves it, a month per pass.
select time_partitions_ensure('attendance_days', p_max_past_months => 0);
