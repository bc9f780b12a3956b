-- 025 (owned by the batch writer): attendance_days updated in place (HOT), the publisher's
-- delta read from a change log, and the period reads' covering columns copied once a day
-- is over.
-- Parameters: none. Output: none.
--
-- Every attendance event writes its person-day's row: an insert at the check-in, an update
-- at the check-out. An update that changes no indexed column and finds room on the row's
-- page is a heap-only (HOT) update: no new entry in any index. Before this migration none
-- was: tx_id (indexed for the publisher, 019) changes with every write, and so do
-- closed_seconds and open_since (covered by the person index for the period reads, 024).
-- bench:attendance-writer measured the afternoon's 500,000 updates at 11.3 s set-based, the
-- plain writer's whole day at 20.8 s: the table alone held the writer with presence upkeep
-- under 0.6 of the plain writer's throughput (the target is 0.7).
--
-- - attendance_days_tx_idx goes. The publisher reads the (school, day) pairs written since
--   its last snapshot from attendance_day_changes instead: a row per school-day and
--   transaction that wrote it (the writer's batch, the writer's recomputation, an erasure),
--   with that transaction's tx_id, indexed. tx_id stays in attendance_days, not indexed:
--   the writer's conditional write compares it, and the publisher filters a changed
--   school-day's rows by it (a school-day's rows lie together: they are inserted together).
--   Days older than the publisher's longest window (ATTENDANCE_DAYS_KEPT, at most 62) are
--   pruned by the writer when idle (attendance_prune_day_changes).
-- - The person index covers settled_closed_seconds and settled_open_since instead: the
--   same two columns, copied once the day is over (attendance_settle_days, run by the
--   writer when idle, up to a limit at a time; a day is settled from two UTC days after
--   it, so never a school's today in any zone), null before. Whatever the date, every
--   writer of a row keeps a set copy equal to the row's state: the date only decides when
--   the copy is made (a row settled too early only loses its heap-only updates). The period read takes them
--   from the index where set and reads the row for the others (today's, a few per
--   person). The writer keeps a settled row's copy equal to its state when a late event
--   changes it (then not HOT: rare).
-- - attendance_days_unsettled_idx: the rows not settled yet, by day, for the settling.
--   The writer's updates change neither its key nor its predicate.
-- - fillfactor 50: a row inserted at the check-in has room on its page for its check-out
--   (rows are ~150 bytes; pruning frees the space of earlier versions for later ones).
--   Pages written before this migration keep theirs until rewritten.
--
-- Upgrade: past rows (before yesterday, UTC) are settled here; the change log starts with
-- every (tx_id, school, day) of the last 64 days, so that a publisher whose cursor predates
-- the migration misses nothing.

alter table attendance_days set (fillfactor = 50);
alter table attendance_days
  add column settled_closed_seconds integer,
  add column settled_open_since timestamptz;

drop index attendance_days_tx_idx;
drop index attendance_days_person_idx;

update attendance_days set settled_closed_seconds = closed_seconds, settled_open_since = open_since
where day < (now() at time zone 'UTC')::date - 1;

-- A person's days (GET …/people/:personId/attendance), and a week's or month's presence as
-- an index-only scan where settled (024).
create index attendance_days_person_idx on attendance_days (school_id, person_id, day)
  include (settled_closed_seconds, settled_open_since);
create index attendance_days_unsettled_idx on attendance_days (day)
  where settled_closed_seconds is null;

create table attendance_day_changes (
  tx_id xid8 not null default pg_current_xact_id(),
  school_id text not null,
  day date not null
);
create index attendance_day_changes_tx_idx on attendance_day_changes (tx_id);
-- The pruning's range.
create index attendance_day_changes_day_idx on attendance_day_changes (day);

insert into attendance_day_changes (tx_id, school_id, day)
select distinct tx_id, school_id, day from attendance_days
where day >= (now() at time zone 'UTC')::date - 64;

-- Up to p_limit past person-days settled (rows a writer holds are skipped: the next run
-- takes them); returns how many.
create function attendance_settle_days(p_limit integer) returns integer
language sql as $$
  with due as (
    select school_id, day, person_id from attendance_days
    where settled_closed_seconds is null and day < (now() at time zone 'UTC')::date - 1
    order by day
    limit p_limit
    for update skip locked
  ), settled as (
    update attendance_days a
    set settled_closed_seconds = a.closed_seconds, settled_open_since = a.open_since
    from due
    where a.school_id = due.school_id and a.day = due.day and a.person_id = due.person_id
    returning 1
  )
  select count(*)::integer from settled
$$;

-- Change rows of days no publisher reads any more (ATTENDANCE_DAYS_KEPT ≤ 62), up to
-- p_limit; returns how many.
create function attendance_prune_day_changes(p_limit integer) returns integer
language sql as $$
  with gone as (
    delete from attendance_day_changes
    where ctid in (select ctid from attendance_day_changes
                   where day < (now() at time zone 'UTC')::date - 64 limit p_limit)
    returning 1
  )
  select count(*)::integer from gone
$$;

-- Erasure (017, 019) renames a person's days: their school-days are logged as changed.
create or replace function erase_person_events(p_school_id text, p_person_id text, p_pseudonym text)
  returns bigint language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n bigint;
begin
  update votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  get diagnostics n = row_count;
  update voter_ballots set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update rejected_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  update conflicting_votes set voter_id = p_pseudonym
    where poll_id in (select id from polls where school_id = p_school_id) and voter_id = p_person_id;
  with renamed as (
    update attendance_days set person_id = p_pseudonym, tx_id = pg_current_xact_id(), updated_at = now()
      where school_id = p_school_id and person_id = p_person_id
      returning day
  )
  insert into attendance_day_changes (school_id, day) select distinct p_school_id, day from renamed;
  delete from attendance_dirty where school_id = p_school_id and person_id = p_person_id;
  return n;
end $$;

grant select, insert, delete on attendance_day_changes to tallyflow_writer;
grant select on attendance_day_changes to tallyflow_publisher, tallyflow_analyst;
revoke execute on function attendance_settle_days(integer) from public;
grant execute on function attendance_settle_days(integer) to tallyflow_writer;
revoke execute on function attendance_prune_day_changes(integer) from public;
grant execute on function attendance_prune_day_changes(integer) to tallyflow_writer;
