-- 036 (owned by the batch writer): the presence state (attendance_days) kept set-based in
-- Postgres, in the batch's transaction, instead of replayed person-day by person-day in the
-- writer's Node process.
-- Parameters: none. Output: none.
--
-- bench:attendance-writer measured the writer with presence upkeep at 0.43 of the plain
-- writer's throughput (target 0.7): ~37 µs of the writer's Node CPU a person-day (grouping,
-- replay, the rows' COPY text, the garbage of a million remembered person-days), while
-- Postgres alone wrote the same rows set-based (one INSERT … SELECT, one UPDATE … FROM) in
-- time that allowed 0.86. So the writer now hands Postgres the batch's inserted register
-- events (arrays, one call) and attendance_keep_days does the rest in SQL:
--
-- - A person-day with one event in the batch: a new row as that event alone leaves it
--   (the morning's check-in; INSERT … ON CONFLICT DO NOTHING), or the event folded into the
--   stored row with CASE expressions (replayDay's step for one event,
--   common/attendance/person-day.ts) when it comes after the row's last event (time, then
--   event id: the afternoon's check-out; UPDATE of the row version read, by its ctid). One
--   probe of the primary key a person-day. A row another writer created or changed since
--   the statement's snapshot is not written (ON CONFLICT skips it; the UPDATE waits for
--   that writer, then finds the row version it read gone) and goes the locking way.
-- - Any other (several events in the batch; one earlier than the row's last: late, out of
--   order; a row without a last event, from before 020) is done the locking way, as the
--   up to p_dirty_limit dirty ones are: its row locked in key order first (created empty
--   when missing), then recomputed from all its events in a statement of its own (READ
--   COMMITTED: it sees every event committed before the lock was granted), removed when
--   none is left. The events
--   are read through votes_poll_voter_cast_idx (poll, voter, cast time: one index range
--   per register of the school, never a scan) by attendance_day_states_of, migration 022's
--   rules: 022's attendance_events and attendance_day_states_from_events now read the same
--   functions (for everyone instead of for one person), so the SQL rules have one text.
-- - Rows are written and locked in key order, so writers on the same person-days wait for
--   each other in one order; a deadlock left (a transaction holding its written rows while
--   it locks a dirty one) is retried as any (batch-writer/pg-errors.ts).
-- - Only the events actually inserted by this transaction are passed (a redelivered
--   batch inserts nothing, so folds nothing twice).
-- - Updates change no indexed column (heap-only, 025); a settled row keeps its settled
--   copy equal to its state. The school-days written are logged in
--   attendance_day_changes for the publisher (025).

-- 022's attendance_events for one person (p_person_id) or for everyone (null). The two
-- branches keep the per-person read an index range (an OR of the two filters is not), and
-- so does comparing in votes.voter_id's collation (a person id of attendance_days, collation
-- "C", would otherwise make the equality one the index cannot answer).
create function attendance_events_of(p_school_id text, p_person_id text, p_from date, p_to date)
returns table (
  person_id text,
  day date,
  at timestamptz,
  event_id uuid,
  kind text,
  role text,
  open_since timestamptz,
  temperature_c numeric,
  poll_id text,
  kiosk_id text
)
language sql stable as $$
  with e as (
    select v.voter_id collate "C" as person_id,
           (v.cast_at at time zone s.time_zone)::date as day,
           date_trunc('milliseconds', v.cast_at) as at,
           v.event_id, v.option_id as kind, v.temperature_c, v.poll_id, v.kiosk_id
    from schools s
    join polls p on p.school_id = s.id and p.kind = 'attendance'
    join votes v on v.poll_id = p.id
    where s.id = p_school_id and p_person_id is null
      and v.voter_id is not null and v.option_id in ('in', 'out')
      and v.cast_at >= (p_from::timestamp at time zone s.time_zone)
      and v.cast_at < (p_to::timestamp at time zone s.time_zone)
    union all
    select v.voter_id collate "C",
           (v.cast_at at time zone s.time_zone)::date,
           date_trunc('milliseconds', v.cast_at),
           v.event_id, v.option_id, v.temperature_c, v.poll_id, v.kiosk_id
    from schools s
    join polls p on p.school_id = s.id and p.kind = 'attendance'
    join votes v on v.poll_id = p.id
    where s.id = p_school_id
      and v.voter_id is not null and v.voter_id = p_person_id collate "default" and v.option_id in ('in', 'out')
      and v.cast_at >= (p_from::timestamp at time zone s.time_zone)
      and v.cast_at < (p_to::timestamp at time zone s.time_zone)
  ), w as (
    select e.*,
           lag(e.kind) over person_day as prev_kind,
           coalesce(bool_or(e.kind = 'in')
             over (person_day rows between unbounded preceding and 1 preceding), false) as had_in
    from e
    window person_day as (partition by e.person_id, e.day order by e.at, e.event_id)
  ), r as (
    select w.*,
           case when w.kind = 'in' then case when w.prev_kind = 'in' then 'double_in' else 'in' end
                when w.prev_kind = 'in' then 'out'
                when w.had_in then 'double_out'
                else 'out_without_in' end as role
    from w
  )
  select r.person_id, r.day, r.at, r.event_id, r.kind, r.role,
         case when r.kind = 'in' or r.role = 'out' then
           max(r.at) filter (where r.role = 'in')
             over (partition by r.person_id, r.day order by r.at, r.event_id rows unbounded preceding)
         end,
         r.temperature_c, r.poll_id, r.kiosk_id
  from r
$$;

-- 022's attendance_day_states_from_events for one person or everyone, with what the writer
-- continues a row from: the closed time to the millisecond (instants are whole
-- milliseconds, so the sum is exact) and the last event in time order.
create function attendance_day_states_of(p_school_id text, p_person_id text, p_from date, p_to date)
returns table (
  school_id text,
  person_id text,
  day date,
  closed_seconds integer,
  closed_ms integer,
  first_in timestamptz,
  last_out timestamptz,
  open_since timestamptz,
  max_temperature_c numeric,
  outs_without_in integer,
  double_ins integer,
  double_outs integer,
  events integer,
  last_event_at timestamptz,
  last_event_id uuid
)
language sql stable as $$
  select p_school_id, e.person_id, e.day,
         floor(coalesce(sum(extract(epoch from e.at) - extract(epoch from e.open_since))
                          filter (where e.role = 'out'), 0))::integer,
         (coalesce(sum(extract(epoch from e.at) - extract(epoch from e.open_since))
                     filter (where e.role = 'out'), 0) * 1000)::integer,
         min(e.at) filter (where e.kind = 'in'),
         max(e.at) filter (where e.role = 'out'),
         -- the check-in still open after the day's last event
         (array_agg(case when e.kind = 'in' then e.open_since end order by e.at desc, e.event_id desc))[1],
         max(e.temperature_c),
         (count(*) filter (where e.role = 'out_without_in'))::integer,
         (count(*) filter (where e.role = 'double_in'))::integer,
         (count(*) filter (where e.role = 'double_out'))::integer,
         count(*)::integer,
         max(e.at),
         (array_agg(e.event_id order by e.at desc, e.event_id desc))[1]
  from attendance_events_of(p_school_id, p_person_id, p_from, p_to) e
  group by e.person_id, e.day
$$;

-- 022's functions, the same results, read from the shared ones.
create or replace function attendance_events(p_school_id text, p_from date, p_to date)
returns table (
  person_id text,
  day date,
  at timestamptz,
  event_id uuid,
  kind text,
  role text,
  open_since timestamptz,
  temperature_c numeric,
  poll_id text,
  kiosk_id text
)
language sql stable as $$
  select * from attendance_events_of(p_school_id, null, p_from, p_to)
$$;

create or replace function attendance_day_states_from_events(p_school_id text, p_from date, p_to date)
returns table (
  school_id text,
  person_id text,
  day date,
  closed_seconds integer,
  first_in timestamptz,
  last_out timestamptz,
  open_since timestamptz,
  max_temperature_c numeric,
  outs_without_in integer,
  double_ins integer,
  double_outs integer,
  events integer
)
language sql stable as $$
  select d.school_id, d.person_id, d.day, d.closed_seconds, d.first_in, d.last_out,
         d.open_since, d.max_temperature_c, d.outs_without_in, d.double_ins, d.double_outs,
         d.events
  from attendance_day_states_of(p_school_id, null, p_from, p_to) d
$$;

-- The writer's presence upkeep for one transaction, after the batch's events are inserted:
-- the person-days of the inserted register events (the arrays, one element an event;
-- p_kinds: `in` or `out`) and up to p_dirty_limit dirty ones. Returns the person-days
-- kept or removed, and of which removed (no event left: a register deleted).
create function attendance_keep_days(
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
    -- latest version, whose ctid differs: left to the locking way, as one not after is)
    where pd.after and a.ctid = pd.row_ctid
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

revoke execute on function attendance_keep_days(text[], text[], text[], timestamptz[], uuid[], numeric[], integer) from public;
grant execute on function attendance_keep_days(text[], text[], text[], timestamptz[], uuid[], numeric[], integer) to tallyflow_writer;
