-- Report 17 · registers_not_completed: lessons whose register was never completed.
--
-- Question   Which lessons ended (plus a grace) without their teacher completing the register?
--
-- Nobody is present in such a lesson: only its absences are known. The API's overdue list
-- (`GET /v1/schools/:schoolId/registers?state=overdue`) and the publisher's
-- tallyflow_registers_overdue count the same registers (archived ones excepted there).
--
-- Variables  school_id      required
--            from, to       optional: school-local days [from, to) of the lessons' start
--                           (YYYY-MM-DD). Default: the school's first register's day to the
--                           later of today and its last.
--            grace_minutes  optional: minutes after its end a register is overdue (default 10,
--                           REGISTER_COMPLETION_GRACE_MS's default)
--            group          optional: one group's registers
--            now            optional: the moment judged at (default: now)
-- Output     poll_id, group_id, title, starts_at, ends_at, overdue_since, archived,
--            absences, events
--              One row per register ended by now − grace and not completed, by end. absences:
--              people whose latest event is an absence; events: all its events. Times in the
--              school's time zone.
-- Source     polls, raw votes of the school's registers, register_states (the completion).
-- Run        psql -v school_id=north -f sql/reports/17_registers_not_completed.sql
--            psql -v school_id=north -v grace_minutes=30 -v group=7A -f sql/reports/17_registers_not_completed.sql

\set ON_ERROR_STOP on
\set report 17_registers_not_completed
\set usage_args ' [-v grace_minutes=N] [-v group=GROUP]'
\ir include/settings.sql
\if :{?from} \set from_given :from \else \set from_given '' \endif
\if :{?to} \set to_given :to \else \set to_given '' \endif
\ir include/school.sql
\ir include/registers.sql
\if :{?group} \else \set group '' \endif
\if :{?grace_minutes} \else \set grace_minutes 10 \endif
select :'grace_minutes' ~ '^\d{1,6}$' as grace_ok \gset
\if :grace_ok
\else
  set tallyflow.value = :'grace_minutes';
  do $$ begin raise exception 'grace_minutes must be a whole number of minutes, not "%"', current_setting('tallyflow.value'); end $$;
\endif
set time zone :'school_tz';

select p.id as poll_id, p.group_ids[1] as group_id, p.title, p.starts_at, p.ends_at,
       p.ends_at + (:'grace_minutes')::int * interval '1 minute' as overdue_since,
       p.archived_at is not null as archived,
       (select count(*) from (
          select distinct on (v.voter_id) v.option_id from votes v
          where v.poll_id = p.id and v.voter_id is not null
          order by v.voter_id, v.cast_at desc, v.event_id desc) l
        where l.option_id = 'absent') as absences,
       (select count(*) from votes v where v.poll_id = p.id) as events
from polls p left join register_states s on s.poll_id = p.id
where p.school_id = :'school_id' and p.kind = 'register'
  and (:'group' = '' or p.group_ids[1] = :'group')
  and p.starts_at >= (:'from')::date::timestamp at time zone :'school_tz'
  and p.starts_at < (:'to')::date::timestamp at time zone :'school_tz'
  and s.completed_at is null
  and p.ends_at + (:'grace_minutes')::int * interval '1 minute' < (:'now')::timestamptz
order by p.ends_at, p.id;
