-- The school, the days and the moment of an attendance report (sql/reports/11-15): checks
-- school_id, from and to, defaults the range and `now`, and reads the school's time zone.
--
-- Included  by every attendance report with `\ir include/school.sql`, after
--           include/settings.sql (in place of include/poll.sql). The report then checks its
--           own variables (part, period, group...) and sets the session time zone itself:
--           `set time zone :'school_tz';`.
-- Reads     report         set by the report, for the usage line when school_id is missing:
--                          its file name without .sql (11_presence)
--           usage_args     set by the report, for the same line: its own variables, each with
--                          a leading space (' [-v period=day|week|month]'), or ''
--           school_id, from, to, now  the report's psql variables (-v) as given
-- Sets      from, to       school-local days (YYYY-MM-DD), the range [from, to) of the report.
--                          Default from: the local day of the school's first attendance event
--                          (today without one); default to: the day after the later of today
--                          and the local day of its last event.
--           now            the moment the view is computed, as a timestamptz literal (default
--                          the current time): who is in now, which open check-ins are closed
--                          at the day's end, which school days have passed. Give it to run a
--                          report as it read at an earlier moment (`-v now=2026-03-30T12:00Z`).
--           today          the school-local day of now
--           school_tz      the school's schools.time_zone; \gset
--           tallyflow.school_id, tallyflow.value  (session settings) only to raise the errors
-- Stops     with psql's exit code 3 (ON_ERROR_STOP) and one ERROR line when school_id is
--           missing (after a usage line on stderr), names no school, or from/to is not a
--           date (YYYY-MM-DD); a `now` that is no timestamp stops with Postgres' own error.

\if :{?school_id}
\else
  \warn 'usage: psql -v school_id=ID [-v from=YYYY-MM-DD] [-v to=YYYY-MM-DD] [-v now=TIMESTAMP]':usage_args' -f sql/reports/':report'.sql'
  do $$ begin raise exception 'psql variable school_id is required'; end $$;
\endif
\if :{?from} \else \set from '' \endif
\if :{?to} \else \set to '' \endif
\if :{?now} \else \set now now \endif
-- One query checks the school and the shape of the days; plpgsql only reports one wrong.
select exists (select 1 from schools where id = :'school_id') as school_found,
       coalesce((select time_zone from schools where id = :'school_id'), 'UTC') as school_tz,
       :'from' ~ '^(\d{4}-\d\d-\d\d)?$' as from_ok,
       :'to' ~ '^(\d{4}-\d\d-\d\d)?$' as to_ok \gset
\if :school_found
\else
  set tallyflow.school_id = :'school_id';
  do $$ begin raise exception 'no school with id "%"', current_setting('tallyflow.school_id'); end $$;
\endif
\if :from_ok
\else
  set tallyflow.value = :'from';
  do $$ begin raise exception 'from must be a day, YYYY-MM-DD, not "%"', current_setting('tallyflow.value'); end $$;
\endif
\if :to_ok
\else
  set tallyflow.value = :'to';
  do $$ begin raise exception 'to must be a day, YYYY-MM-DD, not "%"', current_setting('tallyflow.value'); end $$;
\endif
-- The defaults: the school's first and last event through votes_poll_cast_idx (one probe
-- at each end of each register).
with moment as (
  select (:'now')::timestamptz as now
), span as (
  select min(e.first_at) as first_at, max(e.last_at) as last_at
  from polls p
  cross join lateral (
    select min(v.cast_at) as first_at, max(v.cast_at) as last_at from votes v where v.poll_id = p.id
  ) e
  where p.school_id = :'school_id' and p.kind = 'attendance'
), local as (
  select (m.now at time zone :'school_tz')::date as today,
         (s.first_at at time zone :'school_tz')::date as first_day,
         (s.last_at at time zone :'school_tz')::date as last_day,
         m.now
  from moment m, span s
)
select coalesce(nullif(:'from', '')::date, first_day, today)::text as from,
       coalesce(nullif(:'to', '')::date, greatest(today, last_day) + 1)::text as to,
       now::text as now,
       today::text as today
from local \gset
