-- Report 11 · presence: each person's days, weeks or months at a school, with the rule's inputs.
--
-- Question   Who was present on which day (week, month) of a school, and why: minutes, first
--            in, last out, auto-closed, late, fever, anomalies, and the school's settings?
--
-- Attendance reports (11-15) read a school's registers (polls of kind attendance) and compute
-- every person-day from the raw events with migration 022's functions: the presence rules of
-- common/attendance/person-day.ts written again in SQL (see the migration's header and
-- docs/attendance.md). They never read attendance_days (the writer's state): npm run
-- reconcile compares the two.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) (YYYY-MM-DD). Default: the
--                       day of the school's first event to the later of today and its last.
--            now        optional: the moment the view is computed (default: now). Who is in
--                       now, which open check-ins are closed at the day's end, which school
--                       days have passed.
--            period     optional: day (default) | week | month
--            group      optional: people whose roster entry names this group
--            person     optional: one person
-- Output     period=day: person_id, active, groups, day, weekday, school_day, events,
--              first_in, last_out, open_since, minutes, in_now, auto_closed, present, late,
--              fever, max_temperature_c, outs_without_in, double_ins, double_outs,
--              min_present_minutes, day_ends_at, late_after, fever_threshold_c
--              One row per person-day with an event, and per school day (up to today) of
--              each active person without one (events 0: absent). active, groups: the
--              person's roster entry (empty for an id off the roster, such as an erased
--              person's pseudonym). open_since: a check-in never closed (auto_closed once the
--              day has ended, else in_now). day_ends_at, late_after: that day's instants of
--              the school's settings. Times in the school's time zone. By person, then day.
--            period=week|month: person_id, active, groups, period_start, period_end,
--              school_days, present_days, share_pct, min_present_days_pct, present
--              One row per person (active, or with events in the range) and ISO week (from
--              Monday) or calendar month that starts before tomorrow. school_days: the
--              school's weekdays less its holidays, inside [from, to) and up to today;
--              present_days: present days among them; present: share ≥ the school's
--              min_present_days_pct.
-- Source     raw votes of the school's registers (votes_poll_cast_idx), people (no names),
--            schools, school_holidays; functions of migration 022.
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/11_presence.sql
--            psql -v school_id=north -v period=week -v group=7A -f sql/reports/11_presence.sql

\set ON_ERROR_STOP on
-- The shared preamble: psql settings (include/settings.sql); school_id, from, to, now,
-- today and school_tz (include/school.sql, which reads the two variables set here).
\set report 11_presence
\set usage_args ' [-v period=day|week|month] [-v group=GROUP] [-v person=ID]'
\ir include/settings.sql
set work_mem = '64MB';
\ir include/school.sql
\if :{?period} \else \set period day \endif
\if :{?group} \else \set group '' \endif
\if :{?person} \else \set person '' \endif
select :'period' in ('day', 'week', 'month') as period_ok,
       :'period' = 'day' as period_day \gset
\if :period_ok
\else
  set tallyflow.period = :'period';
  do $$ begin raise exception 'period must be day, week or month, not "%"', current_setting('tallyflow.period'); end $$;
\endif
set time zone :'school_tz';

\if :period_day
select d.person_id,
       p.active,
       array_to_string(p.groups, ' ') as groups,
       d.day,
       to_char(d.day, 'Dy') as weekday,
       d.school_day,
       d.events,
       d.first_in,
       d.last_out,
       d.open_since,
       d.minutes,
       d.in_now,
       d.auto_closed,
       d.present,
       d.late,
       d.fever,
       d.max_temperature_c,
       d.outs_without_in,
       d.double_ins,
       d.double_outs,
       s.attendance_min_present_minutes as min_present_minutes,
       d.day_ends_at,
       d.late_after,
       s.fever_threshold_c
from attendance_roster_days(:'school_id', :'from', :'to', :'now') d
join schools s on s.id = d.school_id
left join people p on p.school_id = d.school_id and p.id = d.person_id
where (:'group' = '' or p.groups @> array[:'group'])
  and (:'person' = '' or d.person_id = :'person')
order by d.person_id collate "C", d.day;
\else
select w.person_id,
       p.active,
       array_to_string(p.groups, ' ') as groups,
       w.period_start,
       w.period_end,
       w.school_days,
       w.present_days,
       round(100 * w.share, 2) as share_pct,
       s.attendance_min_present_days_pct as min_present_days_pct,
       w.present
from attendance_person_periods_from_events(:'school_id', :'period', :'from', :'to', :'now') w
join schools s on s.id = :'school_id'
left join people p on p.school_id = s.id and p.id = w.person_id
where (:'group' = '' or p.groups @> array[:'group'])
  and (:'person' = '' or w.person_id = :'person')
order by w.person_id collate "C", w.period_start;
\endif
