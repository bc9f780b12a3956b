-- 023 (owned by the result publisher): what the publisher needs to keep each school's day
-- documents current (docs/attendance.md#documents) from deltas only, across restarts.
-- Parameters: none. Output: none.
--
-- A day document depends on the day's attendance_days rows (their tx_id, 019), on the
-- school's roster (who is absent, who is in which group), on the school's rules for a day
-- (time zone, dayEndsAt, minPresentMinutes, lateAfter, feverThreshold) and on whether the
-- day is a school day (weekdays, school_holidays: nobody is absent on another day). The rows carry
-- their own tx_id; the other two have none, and a notification is missed by a publisher
-- that is not running (a restart, a failover). attendance_school_changes gives them one:
-- a row per school, its tx_id moved by every statement that changes the school's people
-- or its holidays, by every change of those settings and by a deleted person-day (which
-- leaves no row), so the publisher reads `tx_id >= the xmin of its
-- last run's snapshot` here exactly as it does on attendance_days, and republishes that
-- school's documents. One row per school, not per change: an import of 10,000 people is
-- one upsert.

create table attendance_school_changes (
  school_id text primary key,
  tx_id xid8 not null default pg_current_xact_id()
);

create function mark_attendance_school_changed() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_table_name = 'schools' then
    insert into attendance_school_changes (school_id) values (new.id)
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
    return null;
  end if;
  if tg_op in ('INSERT', 'UPDATE') then
    insert into attendance_school_changes (school_id)
      select distinct school_id from new_rows
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
  end if;
  if tg_op in ('UPDATE', 'DELETE') then
    insert into attendance_school_changes (school_id)
      select distinct school_id from old_rows
      on conflict (school_id) do update set tx_id = pg_current_xact_id();
  end if;
  return null;
end $$;

create trigger people_mark_attendance_inserted after insert on people
  referencing new table as new_rows
  for each statement execute function mark_attendance_school_changed();
create trigger people_mark_attendance_updated after update on people
  referencing old table as old_rows new table as new_rows
  for each statement execute function mark_attendance_school_changed();
create trigger people_mark_attendance_deleted after delete on people
  referencing old table as old_rows
  for each statement execute function mark_attendance_school_changed();

-- A person-day deleted (not rewritten: a rewrite moves its tx_id) leaves no row to read:
-- its school is marked, and its kept days are rebuilt.
create trigger attendance_days_mark_deleted after delete on attendance_days
  referencing old table as old_rows
  for each statement execute function mark_attendance_school_changed();

create trigger school_holidays_mark_attendance_inserted after insert on school_holidays
  referencing new table as new_rows
  for each statement execute function mark_attendance_school_changed();
create trigger school_holidays_mark_attendance_updated after update on school_holidays
  referencing old table as old_rows new table as new_rows
  for each statement execute function mark_attendance_school_changed();
create trigger school_holidays_mark_attendance_deleted after delete on school_holidays
  referencing old table as old_rows
  for each statement execute function mark_attendance_school_changed();

-- Only what a day document shows: the week and month share, the temperature range and
-- public_counts (the API reads it from its registry cache) republish nothing.
create trigger schools_mark_attendance_rules after update on schools
  for each row
  when ((old.time_zone, old.attendance_day_ends_at, old.attendance_min_present_minutes,
         old.attendance_late_after, old.fever_threshold_c, old.attendance_weekdays)
        is distinct from
        (new.time_zone, new.attendance_day_ends_at, new.attendance_min_present_minutes,
         new.attendance_late_after, new.fever_threshold_c, new.attendance_weekdays))
  execute function mark_attendance_school_changed();

-- The publisher reads the roster's ids, groups and active flag: never a name.
grant select (school_id, id, groups, active) on people to tallyflow_publisher;
grant select on attendance_school_changes to tallyflow_publisher, tallyflow_analyst;
