-- Report 18 · absences_after_completion: events cast after their register was completed.
--
-- Question   Which absences (and takings back) were reported after the teacher completed the
--            lesson's register, and how long after?
--
-- Such an event still applies (its person's latest event decides) and marks the register
-- changedAfterCompletion in its published document. An event cast before the completion
-- that arrived after it (a tablet offline) is not one: the cast time decides, not arrival.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) of the lessons' start
--                       (YYYY-MM-DD). Default: the school's first register's day to the
--                       later of today and its last.
--            group      optional: one group's registers
--            now        accepted (as by every attendance report), not used
-- Output     poll_id, group_id, person_id, kind, cast_at, completed_at, after, kiosk_id
--              One row per event cast after its register's completion; kind: absent or
--              present; after: cast_at − completed_at. In time order, in the school's zone.
-- Source     raw votes of the school's registers, polls, register_states (the completion).
-- Run        psql -v school_id=north -f sql/reports/18_absences_after_completion.sql

\set ON_ERROR_STOP on
\set report 18_absences_after_completion
\set usage_args ' [-v group=GROUP]'
\ir include/settings.sql
\if :{?from} \set from_given :from \else \set from_given '' \endif
\if :{?to} \set to_given :to \else \set to_given '' \endif
\ir include/school.sql
\ir include/registers.sql
\if :{?group} \else \set group '' \endif
set time zone :'school_tz';

select p.id as poll_id, p.group_ids[1] as group_id, v.voter_id as person_id,
       v.option_id as kind, v.cast_at, s.completed_at, v.cast_at - s.completed_at as after,
       v.kiosk_id
from polls p
join register_states s on s.poll_id = p.id and s.completed_at is not null
join votes v on v.poll_id = p.id and v.cast_at > s.completed_at
where p.school_id = :'school_id' and p.kind = 'register'
  and (:'group' = '' or p.group_ids[1] = :'group')
  and p.starts_at >= (:'from')::date::timestamp at time zone :'school_tz'
  and p.starts_at < (:'to')::date::timestamp at time zone :'school_tz'
order by v.cast_at, v.event_id;
