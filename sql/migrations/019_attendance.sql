-- 019: attendance. Registers (polls of kind `attendance`), the school's presence rules and
-- holidays (owned by the ingest API), the temperature of an event, and the presence state
-- the batch writer keeps per school, person and day (owned by the writer).
-- Parameters: none. Output: none.
--
-- polls.kind: `vote` (as before) or `attendance` (options `in` and `out`, voters the
-- school's roster; `group_ids`: the groups it is for, null = the whole school).
--
-- schools.attendance_*: each school's rules (defaults as documented in docs/attendance.md):
-- a check-in still open at `day_ends_at` (school-local) is closed there; present when the
-- day's minutes reach `min_present_minutes` (or checked in now); a first check-in after
-- `late_after` is late; a week or month is present at `min_present_days_pct` of its school
-- days (`weekdays`, ISO 1 = Monday … 7 = Sunday, minus `school_holidays`); a temperature at
-- or above `fever_threshold_c` is a fever alert; one outside `temperature_min_c` …
-- `temperature_max_c` is refused at the API; `public_counts` publishes a counts-only
-- document (no person) for wall screens.
--
-- votes.temperature_c: the temperature taken with a check-in or check-out (one decimal).
--
-- attendance_days: one row per school, person and school-local day with an attendance
-- event, kept by the writer in the transaction that stores the events (recomputed from
-- that person-day's own events in time order, so arrival order never matters): the closed
-- in→out seconds, the first in, the last out, the open check-in, the highest temperature,
-- the anomalies. The view (present, in now, auto-closed, late, fever) is derived from it
-- with the school's rules and the clock (common/attendance/person-day.ts). `tx_id` lets the
-- publisher read only the days changed since its last run, as vote_rollups does (005).
--
-- attendance_dirty: person-days whose events changed outside the writer (a register
-- deleted, a person erased): the writer recomputes them at its next batch or sweep.

alter table polls add column kind text not null default 'vote' check (kind in ('vote', 'attendance'));
alter table polls add column group_ids text[]
  check (group_ids is null or cardinality(group_ids) between 1 and 50);
alter table polls add constraint polls_attendance_roster
  check (kind <> 'attendance' or voters = 'roster');

alter table schools
  add column attendance_day_ends_at time not null default '17:00',
  add column attendance_min_present_minutes integer not null default 240
    check (attendance_min_present_minutes between 0 and 1440),
  add column attendance_late_after time,
  add column attendance_min_present_days_pct integer not null default 80
    check (attendance_min_present_days_pct between 0 and 100),
  add column attendance_weekdays integer[] not null default '{1,2,3,4,5}'
    check (attendance_weekdays <@ array[1, 2, 3, 4, 5, 6, 7] and cardinality(attendance_weekdays) >= 1),
  add column fever_threshold_c numeric(4, 1) not null default 38.0,
  add column temperature_min_c numeric(4, 1) not null default 28.0,
  add column temperature_max_c numeric(4, 1) not null default 43.0,
  add column attendance_public_counts boolean not null default false,
  add constraint schools_temperature_range check (temperature_min_c < temperature_max_c);

create table school_holidays (
  school_id text not null references schools (id) on delete cascade,
  day date not null,
  name text not null check (length(name) between 1 and 200),
  primary key (school_id, day)
);

alter table votes add column temperature_c numeric(4, 1);

create table attendance_days (
  school_id text not null,
  person_id text collate "C" not null,
  day date not null,
  closed_seconds integer not null default 0 check (closed_seconds >= 0),
  first_in timestamptz,
  last_out timestamptz,
  open_since timestamptz,
  max_temperature_c numeric(4, 1),
  outs_without_in integer not null default 0,
  double_ins integer not null default 0,
  double_outs integer not null default 0,
  events integer not null default 0,
  tx_id xid8 not null default pg_current_xact_id(),
  updated_at timestamptz not null default now(),
  primary key (school_id, day, person_id)
);
-- A person's days (GET …/people/:personId/attendance, weeks and months).
create index attendance_days_person_idx on attendance_days (school_id, person_id, day);
-- The publisher's delta read: the days changed since its last run.
create index attendance_days_tx_idx on attendance_days (tx_id);

create table attendance_dirty (
  school_id text not null,
  person_id text collate "C" not null,
  day date not null,
  primary key (school_id, person_id, day)
);

-- A deleted register takes its events with it (011): the person-days they counted in are
-- recomputed by the writer from the events left.
create function mark_attendance_dirty_on_poll_delete() returns trigger language plpgsql as $$
begin
  if old.kind = 'attendance' then
    insert into attendance_dirty (school_id, person_id, day)
    select distinct old.school_id, v.voter_id, (v.cast_at at time zone s.time_zone)::date
    from votes v join schools s on s.id = old.school_id
    where v.poll_id = old.id and v.voter_id is not null
    on conflict do nothing;
  end if;
  return old;
end $$;
-- BEFORE DELETE: the votes are still there (011's AFTER trigger deletes them).
create trigger polls_deleted_mark_attendance before delete on polls
  for each row execute function mark_attendance_dirty_on_poll_delete();
alter function mark_attendance_dirty_on_poll_delete() security definer set search_path = public, pg_temp;

-- Erasure (017) also renames the person's presence days to the pseudonym.
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
  update attendance_days set person_id = p_pseudonym, tx_id = pg_current_xact_id(), updated_at = now()
    where school_id = p_school_id and person_id = p_person_id;
  delete from attendance_dirty where school_id = p_school_id and person_id = p_person_id;
  return n;
end $$;

grant select, insert, update, delete on school_holidays to tallyflow_api;
grant select on school_holidays to tallyflow_writer, tallyflow_publisher, tallyflow_analyst;
grant select, insert, update, delete on attendance_days, attendance_dirty to tallyflow_writer;
grant select on attendance_days to tallyflow_publisher, tallyflow_api, tallyflow_analyst;
grant select on attendance_dirty to tallyflow_analyst;
