-- Report 15 · attendance_summary: a school's attendance per group and for the whole school.
--
-- Question   Over a range, or day by day: how many people of each group (and of the school)
--            were present, absent, late, feverish, auto-closed?
--
-- From the raw events (migration 022; see report 11). group_id `(school)` is the whole
-- school (group ids cannot contain parentheses); a person counts in every group their roster
-- entry names; someone off the roster (an erased person's pseudonym) in the school's row only.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) (YYYY-MM-DD). Default: the
--                       day of the school's first event to the later of today and its last.
--            now        optional: the moment the view is computed (default: now)
--            part       optional: range (default) | days
-- Output     part=range: group_id, people, school_days, expected_days, present_days,
--              share_pct, present_people, below_people, late_days, fever_days,
--              auto_closed_days, anomalies
--              people: active people of the group; school_days: the school's weekdays less
--              its holidays in [from, to), up to today; expected_days = people × school_days;
--              present_days: their present days among those; share_pct = present_days /
--              expected_days; present_people: those present on at least the school's
--              min_present_days_pct % of the school days (the week and month rule, over the
--              range), below_people the others. late_days, fever_days, auto_closed_days:
--              person-days in [from, to) (anyone's, active or not); anomalies: anomalous
--              events (out without in, double in, double out). The school first, then each
--              group with an active person or a person with events in the range.
--            part=days: day, weekday, school_day, group_id, roster, present, absent, in_now,
--              late, fever, auto_closed, anomalies
--              One row per day in [from, to) up to today (and per later day with events) and
--              group: roster: active people; present, in_now, late, fever, auto_closed: people
--              that day (anyone with events counts); absent: active people not present, on
--              school days (0 on other days); anomalies: anomalous events.
-- Source     raw votes of the school's registers, people (no names), schools,
--            school_holidays; functions of migration 022.
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/15_attendance_summary.sql
--            psql -v school_id=north -v part=days -f sql/reports/15_attendance_summary.sql

\set ON_ERROR_STOP on
\set report 15_attendance_summary
\set usage_args ' [-v part=range|days]'
\ir include/settings.sql
set work_mem = '64MB';
\ir include/school.sql
\if :{?part} \else \set part range \endif
select :'part' in ('range', 'days') as part_ok,
       :'part' = 'days' as part_days \gset
\if :part_ok
\else
  set tallyflow.part = :'part';
  do $$ begin raise exception 'part must be range or days, not "%"', current_setting('tallyflow.part'); end $$;
\endif
set time zone :'school_tz';

\if :part_days
select c.day,
       to_char(c.day, 'Dy') as weekday,
       c.school_day,
       coalesce(c.group_id, '(school)') as group_id,
       c.roster,
       c.present,
       c.absent,
       c.in_now,
       c.late,
       c.fever,
       c.auto_closed,
       c.anomalies
from attendance_school_day_counts(:'school_id', :'from', :'to', :'now') c
order by c.day, c.group_id collate "C" nulls first;
\else
with periods as materialized (
  -- each person's range: school days and present days (the period rule over [from, to))
  select * from attendance_person_periods_from_events(:'school_id', 'range', :'from', :'to', :'now')
), days as materialized (
  select * from attendance_person_days_from_events(:'school_id', :'from', :'to', :'now')
), members as (
  -- (person, group) for each group of the roster entry, and (person, null) for the school
  select p.id as person_id, p.active, g.group_id
  from people p
  cross join lateral (select unnest(p.groups) as group_id union all select null) g
  where p.school_id = :'school_id'
), who as (
  -- everyone of the range in their rows: members, and anyone else with events (school row)
  select m.person_id, m.active, m.group_id from members m
  union all
  select distinct d.person_id, false, null::text from days d
  where not exists (select 1 from people p where p.school_id = :'school_id' and p.id = d.person_id)
), per_day as (
  select w.group_id,
         count(*) filter (where d.late) as late_days,
         count(*) filter (where d.fever) as fever_days,
         count(*) filter (where d.auto_closed) as auto_closed_days,
         coalesce(sum(d.anomalies), 0) as anomalies
  from who w join days d on d.person_id = w.person_id
  group by w.group_id
), per_range as (
  select w.group_id,
         count(*) filter (where w.active) as people,
         coalesce(sum(r.present_days) filter (where w.active), 0) as present_days,
         count(*) filter (where w.active and r.present) as present_people
  from who w left join periods r on r.person_id = w.person_id
  group by w.group_id
), school_days as (
  select count(*) as n from attendance_school_days(:'school_id', :'from',
    least((:'to')::date, (:'today')::date + 1))
)
select coalesce(g.group_id, '(school)') as group_id,
       g.people,
       s.n as school_days,
       g.people * s.n as expected_days,
       g.present_days,
       round(100.0 * g.present_days / nullif(g.people * s.n, 0), 2) as share_pct,
       g.present_people,
       g.people - g.present_people as below_people,
       coalesce(x.late_days, 0) as late_days,
       coalesce(x.fever_days, 0) as fever_days,
       coalesce(x.auto_closed_days, 0) as auto_closed_days,
       coalesce(x.anomalies, 0) as anomalies
from per_range g
cross join school_days s
left join per_day x on x.group_id is not distinct from g.group_id
-- a group of inactive people only, none with events in the range, is no row
where g.group_id is null or g.people > 0 or x.group_id is not null
order by g.group_id collate "C" nulls first;
\endif
