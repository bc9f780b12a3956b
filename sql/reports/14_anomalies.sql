-- Report 14 · anomalies: auto-closed days, check-outs without check-in, double check-ins and -outs.
--
-- Question   Where did a school's check-ins and check-outs not pair up, and who forgot to
--            check out?
--
-- From the raw events (migration 022; see report 11): a day's events in time order, an `out`
-- with no `in` before it that day is out_without_in (not counted), an `in` while in is a
-- double_in, an `out` while out after a check-in is a double_out (both change nothing); a
-- check-in still open when the school's day ended is auto_closed there.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) (YYYY-MM-DD). Default: the
--                       day of the school's first event to the later of today and its last.
--            now        optional: the moment the view is computed (default: now). A check-in
--                       open on a day whose end is still to come is in, not auto-closed.
--            group      optional: people whose roster entry names this group
--            person     optional: one person
-- Output     day, person_id, active, groups, anomaly, at, event_id, poll_id, kiosk_id,
--            open_since
--              One row per anomalous event (anomaly out_without_in, double_in, double_out: at
--              is the event's time; open_since, for a double_in, the check-in it repeats) and
--              per auto-closed day (anomaly auto_closed: at is the day's end, where the
--              check-in was closed; event_id, poll_id, kiosk_id and open_since are the
--              check-in left open). Times in the school's time zone. In time order.
-- Source     raw votes of the school's registers, people (no names), schools; functions of
--            migration 022 (attendance_events, attendance_person_days_from_events).
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/14_anomalies.sql

\set ON_ERROR_STOP on
\set report 14_anomalies
\set usage_args ' [-v group=GROUP] [-v person=ID]'
\ir include/settings.sql
set work_mem = '64MB';
\ir include/school.sql
\if :{?group} \else \set group '' \endif
\if :{?person} \else \set person '' \endif
set time zone :'school_tz';

with events as materialized (
  select * from attendance_events(:'school_id', :'from', :'to')
), anomalies as (
  select e.day, e.person_id, e.role as anomaly, e.at, e.event_id, e.poll_id, e.kiosk_id,
         case when e.role = 'double_in' then e.open_since end as open_since
  from events e
  where e.role in ('out_without_in', 'double_in', 'double_out')
  union all
  -- the check-in left open: the day's `in` that opened it
  select d.day, d.person_id, 'auto_closed', d.day_ends_at, e.event_id, e.poll_id, e.kiosk_id,
         d.open_since
  from attendance_person_days_from_events(:'school_id', :'from', :'to', :'now') d
  join events e on e.person_id = d.person_id and e.day = d.day and e.role = 'in'
               and e.at = d.open_since
  where d.auto_closed
)
select a.day,
       a.person_id,
       p.active,
       array_to_string(p.groups, ' ') as groups,
       a.anomaly,
       a.at,
       a.event_id,
       a.poll_id,
       a.kiosk_id,
       a.open_since
from anomalies a
left join people p on p.school_id = :'school_id' and p.id = a.person_id
where (:'group' = '' or p.groups @> array[:'group'])
  and (:'person' = '' or a.person_id = :'person')
order by a.at, a.person_id collate "C", a.anomaly collate "C", a.event_id;
