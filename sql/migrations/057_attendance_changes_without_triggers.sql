-- 057 (owned by the ingest API): attendance's roster, holiday and rule changes are no longer
-- triggers on schools, people and school_holidays, which Citus makes reference tables
-- (issue #29, docs/citus.md "Triggers"): Citus refuses a trigger on a reference table, and
-- with citus.enable_unsafe_triggers runs it on each shard placement, where a write of the
-- distributed attendance tables is not routed. As 052 did for the registry's notifications,
-- the statements that change those rows do the same writes themselves, in their
-- transaction (the API's stores through ingest-api/registry/registry-changes.ts; a test,
-- seed or bench writing those rows in SQL calls these functions too):
--
-- - attendance_schools_changed(school ids): what 023's and 051's triggers on people and
--   school_holidays did (mark_attendance_school_changed), once per distinct school of the
--   statement: the school's row of attendance's change log (051). Called
--   after every statement that inserted, updated or deleted people or holidays of those
--   schools (a school's delete cascades to both: it is called for the school if it had any).
-- - schools_updated(rows before, rows after): what an update of schools does besides its
--   rows, given each updated row before and after (one statement's `update schools s ...
--   from schools o where o.id = s.id returning o, s`, registry-changes.ts updateSchoolsSql):
--   `schools:<id>` notified (as notify_registry_rows), attendance_schools_changed for the
--   schools whose day rules changed (023's schools_mark_attendance_rules WHEN clause), and
--   attendance_time_zone_changed for those whose time zone changed (020's
--   schools_time_zone_mark_attendance WHEN clause).
-- - attendance_time_zone_changed(school, new zone): 020's trigger body, the school's
--   person-days to recompute (those it has, and those its register events fall on in the
--   new zone) marked attendance_dirty for the writer.
--
-- Security definer, as the triggers' functions were: the API's role has no rights on the
-- attendance tables; what it can do there is only what these functions do.
--
-- What stays a trigger: the lesson registers' roster log (056's register_roster_change_log,
-- the groups whose active members changed), which needs each changed person's row before
-- and after; the statement-level triggers on people below do only that now. Moving it into
-- the statements means a people_changed(rows before, rows after) every writer of people
-- calls, as schools_updated here: the one trigger left that Citus would refuse
-- (sql/citus/citus-rules.test.ts KNOWN_EXCEPTIONS).
--
-- Upgrade: a change committed before this migration was logged by the triggers; nothing
-- else changes. Parameters: none. Output: none.

drop trigger people_mark_attendance_inserted on people;
drop trigger people_mark_attendance_updated on people;
drop trigger people_mark_attendance_deleted on people;
drop trigger school_holidays_mark_attendance_inserted on school_holidays;
drop trigger school_holidays_mark_attendance_updated on school_holidays;
drop trigger school_holidays_mark_attendance_deleted on school_holidays;
drop trigger schools_mark_attendance_rules on schools;
drop trigger schools_time_zone_mark_attendance on schools;
drop function mark_attendance_school_changed();
drop function mark_attendance_dirty_on_time_zone();

-- 056's roster part of the people trigger, alone: the groups whose active members changed.
create function log_people_roster_changes() returns trigger
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  if tg_op = 'INSERT' then
    perform log_roster_changes(array_agg(n.school_id), array_agg(g))
    from new_rows n, unnest(n.groups) as g where n.active;
  elsif tg_op = 'DELETE' then
    perform log_roster_changes(array_agg(o.school_id), array_agg(g))
    from old_rows o, unnest(o.groups) as g where o.active;
  else
    perform log_roster_changes(array_agg(c.school_id), array_agg(c.g))
    from ((select o.school_id, o.id, g from old_rows o, unnest(o.groups) as g where o.active
           except
           select n.school_id, n.id, g from new_rows n, unnest(n.groups) as g where n.active)
          union
          (select n.school_id, n.id, g from new_rows n, unnest(n.groups) as g where n.active
           except
           select o.school_id, o.id, g from old_rows o, unnest(o.groups) as g where o.active)) c;
  end if;
  return null;
end $$;
create trigger people_roster_inserted after insert on people
  referencing new table as new_rows for each statement execute function log_people_roster_changes();
create trigger people_roster_updated after update on people
  referencing old table as old_rows new table as new_rows
  for each statement execute function log_people_roster_changes();
create trigger people_roster_deleted after delete on people
  referencing old table as old_rows for each statement execute function log_people_roster_changes();

-- The one place a school's roster, holidays or day rules changing is recorded: every such
-- change calls it (keep it the only one). One row per school in each table per
-- transaction, whatever the statement changed (an import of 10,000 people is one row).
create function attendance_schools_changed(p_school_ids text[]) returns void
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  -- The attendance publisher consumes this log (051).
  insert into attendance_school_change_log (school_id)
    select distinct k.id from unnest(p_school_ids) as k(id) where k.id is not null
    on conflict do nothing;
end $$;

-- 020's trigger body for one school whose time zone became p_time_zone: its events fall on
-- other local days, so every person-day it has (to be recomputed or removed) and every one
-- its register events fall on in the new zone are marked for the writer.
create function attendance_time_zone_changed(p_school_id text, p_time_zone text) returns void
  language plpgsql security definer set search_path = public, pg_temp as $$
begin
  insert into attendance_dirty (school_id, person_id, day)
  select school_id, person_id, day from attendance_days where school_id = p_school_id
  union
  select p_school_id, v.voter_id collate "C", (v.cast_at at time zone p_time_zone)::date
  from polls p join votes v on v.poll_id = p.id and v.voter_id is not null
  where p.school_id = p_school_id and p.kind = 'attendance'
  on conflict do nothing;
end $$;

create function schools_updated(p_before schools[], p_after schools[]) returns void
  language plpgsql security definer set search_path = public, pg_temp as $$
declare
  n integer;
begin
  if coalesce(cardinality(p_before), 0) <> coalesce(cardinality(p_after), 0) then
    raise invalid_parameter_value using message = format(
      'schools_updated: %s rows before, %s after: give each updated school''s both',
      coalesce(cardinality(p_before), 0), coalesce(cardinality(p_after), 0));
  end if;
  perform notify_registry_rows('schools', array(select (a).id from unnest(p_after) a));
  -- Only what a day document shows: the week and month share, the temperature range and
  -- public_counts (the API reads it from its registry cache) republish nothing.
  perform attendance_schools_changed(array(
    select (p_after[i]).id from generate_subscripts(p_after, 1) i
    where ((p_after[i]).time_zone, (p_after[i]).attendance_day_ends_at,
           (p_after[i]).attendance_min_present_minutes, (p_after[i]).attendance_late_after,
           (p_after[i]).fever_threshold_c, (p_after[i]).attendance_weekdays)
          is distinct from
          ((p_before[i]).time_zone, (p_before[i]).attendance_day_ends_at,
           (p_before[i]).attendance_min_present_minutes, (p_before[i]).attendance_late_after,
           (p_before[i]).fever_threshold_c, (p_before[i]).attendance_weekdays)));
  for n in select generate_subscripts(p_after, 1) loop
    if (p_after[n]).time_zone is distinct from (p_before[n]).time_zone then
      perform attendance_time_zone_changed((p_after[n]).id, (p_after[n]).time_zone);
    end if;
  end loop;
end $$;

revoke execute on function attendance_schools_changed(text[]) from public;
revoke execute on function attendance_time_zone_changed(text, text) from public;
revoke execute on function schools_updated(schools[], schools[]) from public;
grant execute on function attendance_schools_changed(text[]) to tallyflow_api;
grant execute on function schools_updated(schools[], schools[]) to tallyflow_api;
