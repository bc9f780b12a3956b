-- Report 16 · register_lessons: lessons attended, per person or per group, from the events.
--
-- Question   Over a range, how many lessons did each pupil (or each group) attend, and miss?
--
-- A lesson is a completed register (polls of kind register, migration 026): its people are
-- the group's roster when it was completed (register_states.roster) and anyone with an
-- event in it. A person's status is their latest event's (cast time, then eventId): absent,
-- else present (the completion marks everyone else present). Computed here from the raw
-- events and the completion, independently of the writer's register_people: the API's
-- statistics (`GET …/groups/:groupId/stats`) equal it.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) of the lessons' start
--                       (YYYY-MM-DD). Default: the school's first register's day to the
--                       later of today and its last.
--            group      optional: one group's registers
--            part       optional: people (default) or groups
--            now        accepted (as by every attendance report), not used
-- Output     part=people: group_id, person_id, lessons, present, absent, share_pct
--              One row per group and person with a completed lesson in the range.
--            part=groups: group_id, lessons_held, lessons_not_completed, person_lessons,
--              present, absent, share_pct, changed_after_completion
--              One row per group with a register in the range; share_pct: present of present
--              and absent, 2 decimals; changed_after_completion: its lessons with an event
--              cast after their completion.
-- Source     raw votes of the school's registers, polls, register_states (the completion and
--            its roster: stored once by the writer, nowhere else).
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/16_register_lessons.sql
--            psql -v school_id=north -v part=groups -f sql/reports/16_register_lessons.sql

\set ON_ERROR_STOP on
\set report 16_register_lessons
\set usage_args ' [-v group=GROUP] [-v part=people|groups]'
\ir include/settings.sql
\if :{?from} \set from_given :from \else \set from_given '' \endif
\if :{?to} \set to_given :to \else \set to_given '' \endif
\ir include/school.sql
\ir include/registers.sql
\if :{?group} \else \set group '' \endif
\if :{?part} \else \set part people \endif
select :'part' in ('people', 'groups') as part_ok, :'part' = 'groups' as by_group \gset
\if :part_ok
\else
  set tallyflow.value = :'part';
  do $$ begin raise exception 'part must be people or groups, not "%"', current_setting('tallyflow.value'); end $$;
\endif
set time zone :'school_tz';

create temp view lesson_people as
with registers as (
  select p.id as poll_id, p.group_ids[1] as group_id, s.completed_at, s.roster
  from polls p left join register_states s on s.poll_id = p.id
  where p.school_id = :'school_id' and p.kind = 'register'
    and (:'group' = '' or p.group_ids[1] = :'group')
    and p.starts_at >= (:'from')::date::timestamp at time zone :'school_tz'
    and p.starts_at < (:'to')::date::timestamp at time zone :'school_tz'
), latest as (
  select distinct on (v.poll_id, v.voter_id) v.poll_id, v.voter_id, v.option_id
  from registers r join votes v on v.poll_id = r.poll_id
  where v.voter_id is not null
  order by v.poll_id, v.voter_id, v.cast_at desc, v.event_id desc
), persons as (
  select r.poll_id, x.person_id from registers r, unnest(r.roster) as x(person_id)
  where r.completed_at is not null
  union
  select l.poll_id, l.voter_id from latest l join registers r using (poll_id)
  where r.completed_at is not null
)
select r.group_id, pe.poll_id, pe.person_id,
       coalesce(l.option_id, 'present') <> 'absent' as present
from persons pe join registers r using (poll_id)
left join latest l on l.poll_id = pe.poll_id and l.voter_id = pe.person_id;

\if :by_group
with registers as (
  select p.group_ids[1] as group_id, s.completed_at is not null as held,
         coalesce(exists (select 1 from votes v where v.poll_id = p.id and v.cast_at > s.completed_at),
                  false) as changed
  from polls p left join register_states s on s.poll_id = p.id
  where p.school_id = :'school_id' and p.kind = 'register'
    and (:'group' = '' or p.group_ids[1] = :'group')
    and p.starts_at >= (:'from')::date::timestamp at time zone :'school_tz'
    and p.starts_at < (:'to')::date::timestamp at time zone :'school_tz'
), held as (
  select group_id, count(*) filter (where held) as lessons_held,
         count(*) filter (where not held) as lessons_not_completed,
         count(*) filter (where changed) as changed_after_completion
  from registers group by group_id
), people as (
  select group_id, count(*) as person_lessons, count(*) filter (where present) as present,
         count(*) filter (where not present) as absent
  from lesson_people group by group_id
)
select h.group_id, h.lessons_held, h.lessons_not_completed,
       coalesce(p.person_lessons, 0) as person_lessons, coalesce(p.present, 0) as present,
       coalesce(p.absent, 0) as absent,
       coalesce(round(100.0 * p.present / nullif(p.person_lessons, 0), 2), 0) as share_pct,
       h.changed_after_completion
from held h left join people p using (group_id)
order by h.group_id;
\else
select group_id, person_id, count(*) as lessons, count(*) filter (where present) as present,
       count(*) filter (where not present) as absent,
       round(100.0 * count(*) filter (where present) / count(*), 2) as share_pct
from lesson_people
group by group_id, person_id
order by group_id, person_id;
\endif
