-- 049 (owned by the batch writer): attendance_keep_days (036, 046) with less work a
-- person-day, for the writer's throughput with presence upkeep (issue #25's target: 0.7 of
-- the same writer's without it).
-- Parameters: none. Output: none.
--
-- bench:attendance-writer measured the upkeep at ~27 µs of CPU an event (writer and its
-- Postgres backends) against ~11 µs for Postgres alone writing the same rows set-based.
-- Measured apart (scripts/profile-keep-days.ts: the function alone on the bench's day, in
-- the writer's batches of 40,000 events), 036's statement spent its time around the row
-- writes: a probe of each person-day's row into a CTE (index and heap), then the fold's
-- update found that row again by its ctid, the INSERT of the new rows sorted the batch a
-- second time, and its sort, hash aggregate and CTE stores went to temporary files (4 MB
-- of work_mem; with the array_agg of the event id, the aggregate spilled even at 64 MB).
-- Now, the same rules:
--
-- - A person-day's one check-out is folded by an UPDATE that finds its row by key (one
--   index probe, the update heap-only as before); a row changed meanwhile by another
--   writer is rechecked on its latest version by Postgres (READ COMMITTED) and folded if
--   the event is still after its last, which is what the ctid guard of 036 sent the
--   locking way.
-- - A person-day's one check-in is inserted as that event alone leaves it, or, where its
--   row exists (a re-entry, a double in, a row created meanwhile), folded into it by
--   ON CONFLICT DO UPDATE … WHERE after its last event; no probe first.
-- - Anything else goes the locking way, unchanged: several events in the batch, an event
--   before the row's last (late, out of order), a check-out on no row (an out without an
--   in: rare; 036 inserted it directly), a row without a last event.
-- - One sort (the batch's person-days in key order, the order rows are written in), no
--   temporary files (work_mem 64 MB for the function), the counts in one pass.
--
-- The signature, the result and the locking way are 036's/046's. Measured (BENCHMARKS.md,
-- "Migration 049 against main"): the function alone −13 % CPU over the bench's day, the
-- writer's extra CPU with upkeep 10.7 s against 12.5 s, the ratio 0.52 against 0.45
-- (medians of three alternated pairs on a shared machine): the target is still missed.

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
      tx_id = pg_current_xact_id(), updated_at = now()
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
      last_event_id, tx_id, updated_at)
    select pd.school_id, pd.person_id, pd.day, 0, 0, pd.at, null, pd.at,
           pd.temperature_c, 0, 0, 0, 1, pd.at, pd.event_id, pg_current_xact_id(), now()
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
      tx_id = pg_current_xact_id(), updated_at = now()
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
    -- by their rows (not written by this transaction). Only then: a difference of the
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
