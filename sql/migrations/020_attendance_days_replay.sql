-- 020 (owned by the batch writer): what continuing a person-day's state needs, the
-- person-days whose events were stored before the writer kept their state, and the
-- writer's lock on the polls of a batch as a function its role may run.
-- Parameters: none. Output: none.
--
-- attendance_days.closed_ms, last_event_at, last_event_id: where the replay of the day's
-- events stands (common/attendance/person-day.ts, DayReplay): the closed in→out time to the
-- millisecond (closed_seconds is cut from it) and the last event in time order (cast time,
-- then event id). Events arriving after it (the common case: a check-out after its
-- check-in) continue the stored state; one arriving before it (late, out of order) makes
-- the writer replay the day from all its events (batch-writer/presence-upkeep.ts). A row
-- without a last event (none before this migration) is always replayed in full.
--
-- attendance_dirty: the writer relies on every person-day with events having its row or
-- being dirty (a day without a row has no events but the batch's own). Events of registers
-- stored before the writer kept the state (a writer of migration 019 without it) get their
-- person-days marked here, and the writer computes them (votes_poll_voter_cast_idx, per
-- register). A school whose time zone changes has its events on other local days: every
-- person-day it has (to be recomputed or removed) and every one its events fall on in the
-- new zone are marked, by a trigger (an admin's rare change; it reads all the school's
-- register events once).

alter table attendance_days
  add column closed_ms integer not null default 0 check (closed_ms >= 0),
  add column last_event_at timestamptz,
  add column last_event_id uuid;

update attendance_days set closed_ms = closed_seconds * 1000;

insert into attendance_dirty (school_id, person_id, day)
select distinct p.school_id, v.voter_id, (v.cast_at at time zone s.time_zone)::date
from polls p
join schools s on s.id = p.school_id
join votes v on v.poll_id = p.id and v.voter_id is not null
where p.kind = 'attendance'
on conflict do nothing;

create function mark_attendance_dirty_on_time_zone() returns trigger language plpgsql as $$
begin
  insert into attendance_dirty (school_id, person_id, day)
  select school_id, person_id, day from attendance_days where school_id = new.id
  union
  select new.id, v.voter_id collate "C", (v.cast_at at time zone new.time_zone)::date
  from polls p join votes v on v.poll_id = p.id and v.voter_id is not null
  where p.school_id = new.id and p.kind = 'attendance'
  on conflict do nothing;
  return null;
end $$;
create trigger schools_time_zone_mark_attendance after update of time_zone on schools
  for each row when (old.time_zone is distinct from new.time_zone)
  execute function mark_attendance_dirty_on_time_zone();
-- Runs as its owner: the API, which changes schools, has no rights on the writer's tables.
alter function mark_attendance_dirty_on_time_zone() security definer set search_path = public, pg_temp;

-- The writer's first statement in a batch's transaction locks the batch's polls FOR KEY SHARE
-- (batch-writer/poll-incarnations.ts: a poll's delete then waits for the batch), and tells
-- which are attendance registers, with their school's time zone. Postgres asks UPDATE
-- rights for any row lock, and the writer's role only reads the registry (016): a writer
-- logged in as a member of tallyflow_writer was refused every batch. This function takes
-- the lock with its owner's rights and gives the writer nothing more.
create function writer_live_polls(p_ids text[])
  returns table (id text, incarnation bigint, register boolean, school_id text, time_zone text)
  language sql security definer set search_path = public, pg_temp as $$
  select p.id, p.incarnation, p.kind = 'attendance', p.school_id, s.time_zone
  from polls p join schools s on s.id = p.school_id
  where p.id = any(p_ids)
  for key share of p
$$;
revoke execute on function writer_live_polls(text[]) from public;
grant execute on function writer_live_polls(text[]) to tallyflow_writer;
