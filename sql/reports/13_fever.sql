-- Report 13 · fever: every temperature at or above the fever threshold, event by event.
--
-- Question   Who had a fever at a school, when, how high, and at which register and kiosk?
--
-- The events are a school's check-ins and check-outs (registers: polls of kind attendance)
-- with their temperature (votes.temperature_c); migration 022 places each on its person-day.
-- A person-day is a fever day (report 11's fever) exactly when one of its events is here.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) (YYYY-MM-DD). Default: the
--                       day of the school's first event to the later of today and its last.
--            threshold  optional: °C (default: the school's fever_threshold_c)
--            group      optional: people whose roster entry names this group
--            person     optional: one person
--            now        accepted (as by every attendance report), not used
-- Output     day, at, person_id, active, groups, kind, temperature_c, fever_threshold_c,
--            poll_id, kiosk_id
--              One row per event with temperature_c ≥ threshold; kind: in or out (an
--              anomalous event's temperature counts too); poll_id: the register. at in the
--              school's time zone, to the millisecond. In time order.
-- Source     raw votes of the school's registers, people (no names), schools; migration 022's
--            attendance_events.
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/13_fever.sql
--            psql -v school_id=north -v threshold=37.5 -f sql/reports/13_fever.sql

\set ON_ERROR_STOP on
\set report 13_fever
\set usage_args ' [-v threshold=CELSIUS] [-v group=GROUP] [-v person=ID]'
\ir include/settings.sql
set work_mem = '64MB';
\ir include/school.sql
\if :{?group} \else \set group '' \endif
\if :{?person} \else \set person '' \endif
\if :{?threshold}
\else
  select fever_threshold_c::text as threshold from schools where id = :'school_id' \gset
\endif
select :'threshold' ~ '^-?\d{1,3}(\.\d+)?$' as threshold_ok \gset
\if :threshold_ok
\else
  set tallyflow.value = :'threshold';
  do $$ begin raise exception 'threshold must be degrees Celsius, such as 38.0, not "%"', current_setting('tallyflow.value'); end $$;
\endif
set time zone :'school_tz';

select e.day,
       e.at,
       e.person_id,
       p.active,
       array_to_string(p.groups, ' ') as groups,
       e.kind,
       e.temperature_c,
       (:'threshold')::numeric as fever_threshold_c,
       e.poll_id,
       e.kiosk_id
from attendance_events(:'school_id', :'from', :'to') e
left join people p on p.school_id = :'school_id' and p.id = e.person_id
where e.temperature_c >= (:'threshold')::numeric
  and (:'group' = '' or p.groups @> array[:'group'])
  and (:'person' = '' or e.person_id = :'person')
order by e.at, e.event_id;
