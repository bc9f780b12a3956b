-- Report 12 · low_presence: people present on fewer than a share of a school's days.
--
-- Question   Who was present on less than min_share % of the school days of a range?
--
-- The person-days come from the raw events (migration 022; see report 11). The range is one
-- period, counted as a week or month is: school days are the school's weekdays less its
-- holidays, inside [from, to) and up to today; present days are present days among them.
--
-- Variables  school_id  required
--            from, to   optional: school-local days [from, to) (YYYY-MM-DD). Default: the
--                       day of the school's first event to the later of today and its last.
--            now        optional: the moment the view is computed (default: now)
--            min_share  optional: the threshold in % (default: the school's
--                       attendance_min_present_days_pct, the rule for a week or month)
--            group      optional: people whose roster entry names this group
-- Output     person_id, active, groups, school_days, present_days, absent_days, share_pct,
--            min_share
--              The people (active, or with events in the range) whose present days are
--              fewer than min_share % of the school days; absent_days = school_days −
--              present_days. None when the range holds no school day. Lowest share first.
-- Source     raw votes of the school's registers, people (no names), schools,
--            school_holidays; functions of migration 022.
-- Run        psql -v school_id=north -v from=2026-03-01 -v to=2026-04-01 -f sql/reports/12_low_presence.sql
--            psql -v school_id=north -v min_share=90 -v group=7A -f sql/reports/12_low_presence.sql

\set ON_ERROR_STOP on
\set report 12_low_presence
\set usage_args ' [-v min_share=PCT] [-v group=GROUP]'
\ir include/settings.sql
set work_mem = '64MB';
\ir include/school.sql
\if :{?group} \else \set group '' \endif
\if :{?min_share}
\else
  select attendance_min_present_days_pct::text as min_share from schools where id = :'school_id' \gset
\endif
select :'min_share' ~ '^(100(\.0+)?|\d{1,2}(\.\d+)?)$' as min_share_ok \gset
\if :min_share_ok
\else
  set tallyflow.value = :'min_share';
  do $$ begin raise exception 'min_share must be a number from 0 to 100, not "%"', current_setting('tallyflow.value'); end $$;
\endif
set time zone :'school_tz';

select w.person_id,
       p.active,
       array_to_string(p.groups, ' ') as groups,
       w.school_days,
       w.present_days,
       w.school_days - w.present_days as absent_days,
       round(100 * w.share, 2) as share_pct,
       (:'min_share')::numeric as min_share
from attendance_person_periods_from_events(:'school_id', 'range', :'from', :'to', :'now') w
left join people p on p.school_id = :'school_id' and p.id = w.person_id
where w.school_days > 0
  and w.present_days * 100 < (:'min_share')::numeric * w.school_days
  and (:'group' = '' or p.groups @> array[:'group'])
order by w.share, w.person_id collate "C";
