-- 051 (owned by the batch writer): attendance's change tracking without transaction ids
-- (issue #29, "Years of votes"; docs/attendance.md, "How the publisher keeps them current").
-- Parameters: none. Output: none.
--
-- Until now attendance_days rows (019), the school-days logged with them
-- (attendance_day_changes, 025) and the schools whose roster, holidays or rules changed
-- (attendance_school_changes, 023) carried the id of the transaction that wrote them (tx_id
-- xid8), and a publisher run read `tx_id` not seen by its last run's snapshot (kept in
-- Redis). Citus cannot compare transaction ids across nodes, and that read had to undo, row
-- by row, what a long transaction anywhere in the cluster did to every snapshot's xmin. As
-- 048 did for the vote results, the publisher now consumes change rows instead:
--
-- - A change id, one per writing transaction (attendance_change_id(): a sequence's value,
--   kept in a transaction-local setting, so the same all through the transaction, as
--   pg_current_xact_id() was). It is only ever compared for equality, never ordered: a
--   sequence's values are not in commit order, and nothing here needs them to be.
-- - attendance_days.change_id: the change id of the transaction that last wrote the row
--   (0: written before this migration). Not indexed, as tx_id was not (025): the writer's
--   check-out stays a heap-only update.
-- - attendance_day_changes (school_id, day, change_id): the school-days a transaction wrote,
--   with its change id, inserted in that transaction (the writer's batch, its recomputation,
--   an erasure). The publishing leader reads the table in its run's snapshot, publishes, then
--   deletes exactly the rows it read (fenced by its lock, as poll_change_log is): a row
--   committed in between stays for the next run. The rows a run must apply to the todays it
--   keeps are those of a logged school-day whose change_id is one it read: the row version
--   its snapshot sees was written by that transaction. A row whose change id it did not
--   read either was written before an earlier run consumed that id (that run saw it: the
--   row and its log row commit together) or is not visible to this snapshot.
-- - attendance_school_change_log (school_id, change_id): a school whose roster, holidays or
--   day rules changed (023's triggers on schools, people and school_holidays, which now write
--   it too), or a person-day of which the writer removed (attendance_keep_days itself: 023's
--   trigger on attendance_days goes), one row per school and transaction, consumed the same
--   way.
-- - A document the leader could not build in a run (ATTENDANCE_MAX_DOCUMENTS_PER_RUN) stays
--   in the log: its day's rows are not deleted, and a school change's owed days are logged as
--   day rows of the leader's own transaction as its row is deleted, so a new leader owes
--   them too (the Redis cursor used to stay back for that).
--
-- erase_person_events is patched in place (its attendance part only): another migration may
-- change its lesson registers' part.
--
-- attendance_school_changes keeps its tx_id for now: the lesson registers' publisher reads
-- the rosters changed since its own snapshot cursor there (register-store.ts,
-- loadChangedRosters); it goes with that publisher's cursor. The same triggers keep both.
--
-- Upgrade: the pending changes of a deployment at 049/050 are not known here (the cursor
-- is in Redis), so every school-day of the old log within the publisher's longest window
-- (62 days; 64 as the writer's pruning) and every school of attendance_school_changes is
-- logged as changed: the first runs after the upgrade rebuild those days (within the run's
-- budget; a document found unchanged is not written again). Nothing is lost.

create sequence attendance_change_ids;

-- The change id of the current transaction: the same for every call in it. security definer:
-- the roles that write logged rows need no right on the sequence.
create function attendance_change_id() returns bigint
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  v text := current_setting('tallyflow.attendance_change_id', true);
begin
  if v is null or v = '' then
    v := nextval('attendance_change_ids')::text;
    perform set_config('tallyflow.attendance_change_id', v, true);
  end if;
  return v::bigint;
end $$;

-- Without a rewrite: the column is added with a constant default, then given the function's.
alter table attendance_days add column change_id bigint not null default 0;
alter table attendance_days alter column change_id set default attendance_change_id();

alter table attendance_day_changes rename to attendance_day_changes_049;
create table attendance_day_changes (
  school_id text not null,
  day date not null,
  change_id bigint not null default attendance_change_id(),
  primary key (school_id, day, change_id)
);
insert into attendance_day_changes (school_id, day)
select distinct school_id, day from attendance_day_changes_049
where day >= (now() at time zone 'UTC')::date - 64;
drop table attendance_day_changes_049;

create table attendance_school_change_log (
  school_id text not null,
  change_id bigint not null default attendance_change_id(),
  primary key (school_id, change_id)
);
insert into attendance_school_change_log (school_id)
select school_id from attendance_school_changes;

-- 023's, writing the log too (one row per school and transaction: ON CONFLICT DO NOTHING).
create or replace function mark_attendance_school_changed() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_table_name = 'schools' then
    insert into attendance_school_changes (school_id) values (new.id)
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
    insert into attendance_school_change_log (school_id) values (new.id) on conflict do nothing;
    return null;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into attendance_school_changes (school_id)
      select distinct school_id from new_rows
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
    insert into attendance_school_change_log (school_id)
      select distinct school_id from new_rows on conflict do nothing;
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    insert into attendance_school_changes (school_id)
      select distinct school_id from old_rows
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
    insert into attendance_school_change_log (school_id)
      select distinct school_id from old_rows on conflict do nothing;
  end if;
  return null;
end $$;

-- 025's, for a table that no longer has a day index: the log holds only what no publisher
-- consumed yet (a deployment without one running), so a scan of it is short.
create or replace function attendance_prune_day_changes(p_limit integer) returns integer
language sql as $$
  with gone as (
    delete from attendance_day_changes
    where (school_id, day, change_id) in (
      select school_id, day, change_id from attendance_day_changes
      where day < (now() at time zone 'UTC')::date - 64 limit p_limit)
    returning 1
  )
  select count(*)::integer from gone
$$;

-- 049's, with this transaction's change id where it had its transaction id.
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
language plpgsql
-- A full batch's person-days (~40,000) are grouped, sorted and kept for the statement's
-- parts in memory: at the default 4 MB the sort, the hash aggregate and the CTEs' stores
-- went to temporary files.
set work_mem = '64MB'
as $$
declare
  -- this transaction's change id (one call of this function per transaction: the writer's
  -- batch, or an idle sweep's): the rows it writes and their school-days' log rows carry it
  v_change bigint := attendance_change_id();
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
  ), pd as materialized (
    -- The batch's person-days, in key order (the rows are written in it below: writers on
    -- the same rows then wait, not deadlock). The event's fields are its own where n = 1,
    -- the only case they are read; min(text) rather than 036's array_agg for its id: with
    -- an array_agg state a group, the hash aggregate of a full batch (40,000 person-days)
    -- spilled to disk even with 64 MB of work_mem (measured: 5 batches at 9 MB used).
    select reg.school_id, u.person_id collate "C" as person_id,
           (u.cast_at at time zone reg.time_zone)::date as day,
           count(*)::integer as n, min(date_trunc('milliseconds', u.cast_at)) as at,
           min(u.event_id::text)::uuid as event_id, bool_and(u.kind = 'in') as is_in,
           max(u.temperature_c) as temperature_c
    from unnest(p_poll_ids, p_person_ids, p_kinds, p_cast_ats, p_event_ids, p_temperatures)
      as u(poll_id, person_id, kind, cast_at, event_id, temperature_c)
    join reg on reg.id = u.poll_id
    where u.kind in ('in', 'out')
    group by reg.school_id, u.person_id collate "C", 3
    order by reg.school_id collate "C", 3, u.person_id collate "C"
  ), folded as (
    -- A person-day's one check-out after its row's last event (time, then event id), folded
    -- into the row: replayDay's step for an `out` (common/attendance/person-day.ts). Found
    -- by its key in the same statement (one probe of an index, no read of the row first):
    -- a row another writer changed meanwhile is waited for, then rechecked on its latest
    -- version (READ COMMITTED), still folded if the event is still after its last. Not
    -- after it (late, out of order), no last event (a row from before 020) or no row (an
    -- out without an in): not written here, done the locking way below.
    update attendance_days a set
      closed_ms = a.closed_ms + (case when a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end),
      closed_seconds = (a.closed_ms + (case when a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end)) / 1000,
      last_out = case when a.open_since is not null then pd.at else a.last_out end,
      open_since = null,
      max_temperature_c = greatest(a.max_temperature_c, pd.temperature_c),
      outs_without_in = a.outs_without_in + (a.open_since is null and a.first_in is null)::integer,
      double_outs = a.double_outs + (a.open_since is null and a.first_in is not null)::integer,
      events = a.events + 1,
      last_event_at = pd.at, last_event_id = pd.event_id,
      settled_closed_seconds = case when a.settled_closed_seconds is not null
                                    then (a.closed_ms + (case when a.open_since is not null
                 then ((extract(epoch from pd.at) - extract(epoch from a.open_since)) * 1000)::integer
                 else 0 end)) / 1000 end,
      settled_open_since = null,
      change_id = v_change, updated_at = now()
    from pd
    where pd.n = 1 and not pd.is_in
      and a.school_id = pd.school_id and a.day = pd.day and a.person_id = pd.person_id
      and (pd.at, pd.event_id) > (a.last_event_at, a.last_event_id)
    returning 1
  ), entered as (
    -- A person-day's one check-in: its row as that event alone leaves it (the morning's, on
    -- no row), or, on a row (a re-entry, a double in; a row another writer created
    -- meanwhile, once that writer is done), folded into the row if after its last event:
    -- replayDay's step for an `in`. Not after it: the row stays locked and is done the
    -- locking way below. In pd's order: the CTE's rows come as it stored them (no sort).
    insert into attendance_days as a (
      school_id, person_id, day, closed_seconds, closed_ms, first_in, last_out, open_since,
      max_temperature_c, outs_without_in, double_ins, double_outs, events, last_event_at,
      last_event_id, change_id, updated_at)
    select pd.school_id, pd.person_id, pd.day, 0, 0, pd.at, null, pd.at,
           pd.temperature_c, 0, 0, 0, 1, pd.at, pd.event_id, v_change, now()
    from pd
    where pd.n = 1 and pd.is_in
    on conflict (school_id, day, person_id) do update set
      closed_seconds = a.closed_ms / 1000,
      first_in = case when a.open_since is null then coalesce(a.first_in, excluded.last_event_at) else a.first_in end,
      open_since = coalesce(a.open_since, excluded.last_event_at),
      max_temperature_c = greatest(a.max_temperature_c, excluded.max_temperature_c),
      double_ins = a.double_ins + (a.open_since is not null)::integer,
      events = a.events + 1,
      last_event_at = excluded.last_event_at, last_event_id = excluded.last_event_id,
      settled_closed_seconds = case when a.settled_closed_seconds is not null then a.closed_ms / 1000 end,
      settled_open_since = case when a.settled_closed_seconds is not null
                                then coalesce(a.open_since, excluded.last_event_at) end,
      change_id = v_change, updated_at = now()
    where (excluded.last_event_at, excluded.last_event_id) > (a.last_event_at, a.last_event_id)
    returning 1
  ), log as (
    select array_agg(l.school_id) as schools, array_agg(l.day) as days
    from (select distinct pd.school_id, pd.day from pd) l
  ), counts as (
    select count(*)::integer as batch, (count(*) filter (where pd.n = 1))::integer as single,
           array_agg(pd.school_id) filter (where pd.n > 1) as schools,
           array_agg(pd.person_id) filter (where pd.n > 1) as persons,
           array_agg(pd.day) filter (where pd.n > 1) as days
    from pd
  )
  select c.batch, c.single, (select count(*) from folded)::integer + (select count(*) from entered)::integer,
         log.schools, log.days, c.schools, c.persons, c.days
  into v_batch, v_single, v_written, v_log_schools, v_log_days, v_schools, v_persons, v_days
  from log cross join counts c;

  if v_written < v_single then
    -- Some single events were not written (late, out of order, an out on no row): which,
    -- by their rows (not stamped with this transaction's change id). Only then: a difference of the
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
    where a.change_id is distinct from v_change;
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
      returning a.school_id
    ), gone_logged as (
      -- A person-day removed leaves no row for the publisher to read: its school is logged
      -- as changed (its kept days rebuilt), here rather than by 023's trigger on
      -- attendance_days, dropped below (Citus runs no trigger on a distributed table).
      insert into attendance_school_change_log (school_id, change_id)
      select distinct gone.school_id, v_change from gone
      on conflict do nothing
    ), kept as (
      insert into attendance_days as a (
        school_id, person_id, day, closed_seconds, closed_ms, first_in, last_out, open_since,
        max_temperature_c, outs_without_in, double_ins, double_outs, events, last_event_at,
        last_event_id, change_id, updated_at)
      select st.school_id, st.person_id, st.day, st.closed_seconds, st.closed_ms, st.first_in,
             st.last_out, st.open_since, st.max_temperature_c, st.outs_without_in,
             st.double_ins, st.double_outs, st.events, st.last_event_at, st.last_event_id,
             v_change, now()
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
        change_id = v_change, updated_at = now()
      returning 1
    )
    select (select count(*) from gone)::integer, coalesce(cardinality(v_schools), 0)
    into removed, v_locked;
    person_days := person_days + v_locked;
  end if;

  insert into attendance_day_changes (school_id, day, change_id)
  select l.school_id, l.day, v_change from unnest(v_log_schools, v_log_days) as l(school_id, day)
  union
  select u.school_id, u.day, v_change from unnest(v_schools, v_days) as u(school_id, day)
  on conflict do nothing;
end $$;

-- erase_person_events (017, 025, 029, and whatever a later migration made of its lesson
-- registers' part): its attendance part only, patched in its current definition, so that
-- the rest stays as it is. The renamed days are stamped and logged with the transaction's
-- change id. A definition without that part as 029 wrote it fails the migration rather
-- than leaving an erasure that writes tx_id.
do $patch$
declare
  def text := pg_get_functiondef('erase_person_events(text, text, text)'::regprocedure);
  old_update text := 'update attendance_days set person_id = p_pseudonym, tx_id = pg_current_xact_id(), updated_at = now()';
  old_log text := 'insert into attendance_day_changes (school_id, day) select distinct p_school_id, day from renamed;';
begin
  if position(old_update in def) = 0 or position(old_log in def) = 0 then
    raise exception 'erase_person_events: its attendance part is not as migration 029 wrote it';
  end if;
  execute replace(replace(def,
    old_update,
    'update attendance_days set person_id = p_pseudonym, change_id = attendance_change_id(), updated_at = now()'),
    old_log,
    'insert into attendance_day_changes (school_id, day) select distinct p_school_id, day from renamed on conflict do nothing;');
end $patch$;

alter table attendance_days drop column tx_id;

-- 023's (moved to the partitioned table by 046): attendance_keep_days, the one statement
-- that removes person-days (a register deleted, a time zone changed: no event left), logs
-- their school itself (above). The sweep of a deleted school's days (poll-purge.ts) logs
-- nothing: the school's documents go with it.
drop trigger attendance_days_mark_deleted on attendance_days;

grant select, insert, delete on attendance_day_changes to tallyflow_writer;
grant insert on attendance_school_change_log to tallyflow_writer;
-- The leader deletes what it consumed and logs a school change's owed days (see above).
grant select, insert, delete on attendance_day_changes to tallyflow_publisher;
grant select on attendance_day_changes to tallyflow_analyst;
grant select, delete on attendance_school_change_log to tallyflow_publisher;
grant select on attendance_school_change_log to tallyflow_analyst;
revoke execute on function attendance_change_id() from public;
grant execute on function attendance_change_id() to tallyflow_writer, tallyflow_publisher;
