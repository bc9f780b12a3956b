-- 022: attendance computed from scratch in SQL, straight from the raw events (the votes of a
-- school's registers, polls of kind `attendance`). The presence rules have one home,
-- common/attendance/person-day.ts (with the calendar of common/attendance/school-day.ts),
-- which the writer, the publisher and the API run; these functions are the same rules
-- written a second time, independently, so that something can check them: the analyst
-- reports 11-15 (sql/reports/) read them, and `npm run reconcile` compares the writer's
-- attendance_days with them person-day by person-day. sql/reports/attendance-reports.test.ts
-- holds both sides equal on a generated data set (DST days, +05:45, ties, anomalies).
-- Parameters: none. Output: none. Owned by the analysts' side (sql/reports); read-only.
--
-- The rules, as written here:
-- - A person-day is per school (all its registers), on the school-local calendar day:
--   `(cast_at at time zone schools.time_zone)::date`. Ranges of days are half-open
--   [p_from, p_to) and may be '-infinity'/'infinity' where a function says so.
-- - Instants are cut to the millisecond (`date_trunc('milliseconds', cast_at)`), as
--   JavaScript holds them, so a cast_at sent with microseconds orders and counts the same
--   on both sides. A day's events are in (instant, event_id) order: uuids compare as their
--   lowercase text does, as the JavaScript side compares eventIds.
-- - Since an `in` while in and an `out` while out change nothing, the state after any event
--   is its kind: an `in` whose previous event that day was not an `in` opens an interval;
--   an `out` right after an `in` closes the interval the first `in` of that run opened;
--   another `in` is a double in; another `out` is a double out if the person checked in
--   earlier that day, else an out without in (flagged, not counted). These are window
--   functions over each person-day (lag, a running bool_or, a running max), not a loop.
-- - Only `in` and `out` events of registers with a voter id are read (registers take no
--   other option, and every event names a person).
-- - The view at p_now (cut to the millisecond): an open check-in counts up to p_now or the
--   instant of the school's day_ends_at that day, whichever is first, and is `in_now` before
--   that instant, `auto_closed` from it on; minutes = floor((closed seconds × 1000 + open
--   milliseconds) / 60000); present = in_now or minutes ≥ min_present_minutes; late = first
--   in after the instant of late_after; fever = highest temperature ≥ fever_threshold_c.
--   A local wall time missing on a DST day (01:30 in London on the last Sunday of March)
--   is read with the offset before the change, one that occurs twice with the offset after
--   it, as luxon does on the JavaScript side (checked by the tests).
-- - School days: the school's attendance_weekdays (ISO, 1 = Monday) minus school_holidays.
--   A week (ISO, from Monday) or month is present when present on at least
--   attendance_min_present_days_pct % of its school days; only school days count, on either
--   side of the fraction, and only those up to the local day of p_now (days to come are not
--   absences yet).
--
-- attendance_day_rules(school, day) -> the school's rules for one local day, as instants
-- attendance_school_days(school, from, to) -> (day) its school days in [from, to) (finite)
-- attendance_events(school, from, to) -> every event, classified (role) and paired
-- attendance_day_states_from_events(school, from, to) -> attendance_days' columns
-- attendance_person_days_from_events(school, from, to, now) -> the same + the view
-- attendance_roster_days(school, from, to, now) -> the same + the roster's absent school days
-- attendance_person_periods_from_events(school, period, from, to, now) -> weeks, months, ranges
-- attendance_school_day_counts(school, from, to, now) -> per day and group: in now, present…
--
-- LANGUAGE sql and STABLE, one SELECT each, executable by every role (security invoker: a
-- caller needs select on votes, polls, schools, school_holidays and people's non-personal
-- columns, as the analyst has). None reads people.name.

create function attendance_day_rules(p_school_id text, p_day date)
returns table (
  day_ends_at timestamptz,
  late_after timestamptz,
  min_present_minutes integer,
  fever_threshold_c numeric,
  min_present_days_pct integer,
  school_day boolean
)
language sql stable as $$
  select (p_day + s.attendance_day_ends_at) at time zone s.time_zone,
         (p_day + s.attendance_late_after) at time zone s.time_zone,
         s.attendance_min_present_minutes,
         s.fever_threshold_c,
         s.attendance_min_present_days_pct,
         extract(isodow from p_day)::integer = any (s.attendance_weekdays)
           and not exists (select 1 from school_holidays h where h.school_id = s.id and h.day = p_day)
  from schools s
  where s.id = p_school_id
$$;

create function attendance_school_days(p_school_id text, p_from date, p_to date)
returns table (day date)
language sql stable as $$
  -- An infinite bound gives no days (the series would never end).
  select g::date
  from schools s
  cross join lateral generate_series(p_from::timestamp, (p_to - 1)::timestamp, interval '1 day') g
  where s.id = p_school_id and isfinite(p_from) and isfinite(p_to)
    and extract(isodow from g)::integer = any (s.attendance_weekdays)
    and not exists (select 1 from school_holidays h where h.school_id = s.id and h.day = g::date)
$$;

-- role: `in` (opens an interval), `out` (closes the one open since open_since), `double_in`,
-- `double_out`, `out_without_in`. open_since: on an `in` or `double_in`, the check-in open
-- after it; on an `out`, the start of the interval it closes; null otherwise.
create function attendance_events(p_school_id text, p_from date, p_to date)
returns table (
  person_id text,
  day date,
  at timestamptz,
  event_id uuid,
  kind text,
  role text,
  open_since timestamptz,
  temperature_c numeric,
  poll_id text,
  kiosk_id text
)
language sql stable as $$
  with e as (
    select v.voter_id collate "C" as person_id,
           (v.cast_at at time zone s.time_zone)::date as day,
           date_trunc('milliseconds', v.cast_at) as at,
           v.event_id, v.option_id as kind, v.temperature_c, v.poll_id, v.kiosk_id
    from schools s
    join polls p on p.school_id = s.id and p.kind = 'attendance'
    join votes v on v.poll_id = p.id
    where s.id = p_school_id and v.voter_id is not null and v.option_id in ('in', 'out')
      and v.cast_at >= (p_from::timestamp at time zone s.time_zone)
      and v.cast_at < (p_to::timestamp at time zone s.time_zone)
  ), w as (
    select e.*,
           lag(e.kind) over person_day as prev_kind,
           coalesce(bool_or(e.kind = 'in')
             over (person_day rows between unbounded preceding and 1 preceding), false) as had_in
    from e
    window person_day as (partition by e.person_id, e.day order by e.at, e.event_id)
  ), r as (
    select w.*,
           case when w.kind = 'in' then case when w.prev_kind = 'in' then 'double_in' else 'in' end
                when w.prev_kind = 'in' then 'out'
                when w.had_in then 'double_out'
                else 'out_without_in' end as role
    from w
  )
  select r.person_id, r.day, r.at, r.event_id, r.kind, r.role,
         case when r.kind = 'in' or r.role = 'out' then
           max(r.at) filter (where r.role = 'in')
             over (partition by r.person_id, r.day order by r.at, r.event_id rows unbounded preceding)
         end,
         r.temperature_c, r.poll_id, r.kiosk_id
  from r
$$;

-- attendance_days' columns (without tx_id, updated_at), one row per person-day with events.
create function attendance_day_states_from_events(p_school_id text, p_from date, p_to date)
returns table (
  school_id text,
  person_id text,
  day date,
  closed_seconds integer,
  first_in timestamptz,
  last_out timestamptz,
  open_since timestamptz,
  max_temperature_c numeric,
  outs_without_in integer,
  double_ins integer,
  double_outs integer,
  events integer
)
language sql stable as $$
  select p_school_id, e.person_id, e.day,
         floor(coalesce(sum(extract(epoch from e.at) - extract(epoch from e.open_since))
                          filter (where e.role = 'out'), 0))::integer,
         min(e.at) filter (where e.kind = 'in'),
         max(e.at) filter (where e.role = 'out'),
         -- the check-in still open after the day's last event
         (array_agg(case when e.kind = 'in' then e.open_since end order by e.at desc, e.event_id desc))[1],
         max(e.temperature_c),
         (count(*) filter (where e.role = 'out_without_in'))::integer,
         (count(*) filter (where e.role = 'double_in'))::integer,
         (count(*) filter (where e.role = 'double_out'))::integer,
         count(*)::integer
  from attendance_events(p_school_id, p_from, p_to) e
  group by e.person_id, e.day
$$;

-- A person-day: attendance_days' columns, then the day's rules as instants and the view.
create type attendance_person_day as (
  school_id text,
  person_id text,
  day date,
  closed_seconds integer,
  first_in timestamptz,
  last_out timestamptz,
  open_since timestamptz,
  max_temperature_c numeric,
  outs_without_in integer,
  double_ins integer,
  double_outs integer,
  events integer,
  school_day boolean,
  day_ends_at timestamptz,
  late_after timestamptz,
  minutes integer,
  in_now boolean,
  present boolean,
  auto_closed boolean,
  late boolean,
  fever boolean,
  anomalies integer
);

create function attendance_person_days_from_events(
  p_school_id text, p_from date, p_to date, p_now timestamptz
)
returns setof attendance_person_day
language sql stable as $$
  select d.school_id, d.person_id, d.day, d.closed_seconds, d.first_in, d.last_out,
         d.open_since, d.max_temperature_c, d.outs_without_in, d.double_ins, d.double_outs,
         d.events,
         r.school_day, r.day_ends_at, r.late_after,
         v.minutes,
         v.in_now,
         v.in_now or v.minutes >= r.min_present_minutes,
         d.open_since is not null and not v.in_now,
         coalesce(d.first_in > r.late_after, false),
         coalesce(d.max_temperature_c >= r.fever_threshold_c, false),
         d.outs_without_in + d.double_ins + d.double_outs
  from attendance_day_states_from_events(p_school_id, p_from, p_to) d
  cross join lateral attendance_day_rules(p_school_id, d.day) r
  cross join lateral (
    select floor((d.closed_seconds * 1000
                  + case when d.open_since is null then 0
                         else greatest(0, extract(epoch from least(date_trunc('milliseconds', p_now), r.day_ends_at))
                                          - extract(epoch from d.open_since)) * 1000 end)
                 / 60000)::integer as minutes,
           d.open_since is not null and date_trunc('milliseconds', p_now) < r.day_ends_at as in_now
  ) v
$$;

-- Every person-day with events in [p_from, p_to), and every active person's school day in
-- [p_from, p_to) up to the local day of p_now on which they have none (absent: no events,
-- 0 minutes, not present). p_from must be finite for the absent days.
create function attendance_roster_days(p_school_id text, p_from date, p_to date, p_now timestamptz)
returns setof attendance_person_day
language sql stable as $$
  with d as materialized (
    select * from attendance_person_days_from_events(p_school_id, p_from, p_to, p_now)
  )
  select * from d
  union all
  select p_school_id, p.id, sd.day, 0, null, null, null, null, 0, 0, 0, 0,
         true, r.day_ends_at, r.late_after, 0, false, false, false, false, false, 0
  from schools s
  cross join lateral attendance_school_days(
    p_school_id, p_from, least(p_to, (p_now at time zone s.time_zone)::date + 1)) sd
  join people p on p.school_id = s.id and p.active
  cross join lateral attendance_day_rules(p_school_id, sd.day) r
  where s.id = p_school_id
    and not exists (select 1 from d where d.person_id = p.id and d.day = sd.day)
$$;

-- p_period: `week` (ISO, Monday to Sunday), `month`, or `range` (all of [p_from, p_to) as
-- one period). One row per person (the school's active people and everyone with events in
-- the range) and period that starts before the day after p_now's local day; school_days and
-- present_days count only the period's days inside [p_from, p_to) and not after that day.
-- p_from and p_to must be finite.
create function attendance_person_periods_from_events(
  p_school_id text, p_period text, p_from date, p_to date, p_now timestamptz
)
returns table (
  person_id text,
  period_start date,
  period_end date,
  school_days integer,
  present_days integer,
  share numeric,
  present boolean
)
language sql stable as $$
  with t as (
    select least(p_to, (p_now at time zone s.time_zone)::date + 1) as hi,
           s.attendance_min_present_days_pct as pct
    from schools s
    where s.id = p_school_id and isfinite(p_from) and isfinite(p_to)
  ), days as (
    select g::date as day,
           case p_period when 'week' then date_trunc('week', g)::date
                         when 'month' then date_trunc('month', g)::date
                         else p_from end as period_start
    from t cross join lateral generate_series(p_from::timestamp, (t.hi - 1)::timestamp, interval '1 day') g
  ), periods as (
    select days.period_start,
           case p_period when 'week' then days.period_start + 6
                         when 'month' then (days.period_start + interval '1 month' - interval '1 day')::date
                         else p_to - 1 end as period_end,
           count(sd.day)::integer as school_days
    from days
    left join attendance_school_days(p_school_id, p_from, (select hi from t)) sd on sd.day = days.day
    group by days.period_start
  ), pd as materialized (
    select * from attendance_person_days_from_events(p_school_id, p_from, p_to, p_now)
  ), who as (
    select p.id as person_id from people p where p.school_id = p_school_id and p.active
    union
    select pd.person_id from pd
  ), present_days as (
    select pd.person_id, days.period_start, count(*)::integer as n
    from pd join days on days.day = pd.day
    where pd.present and pd.school_day
    group by pd.person_id, days.period_start
  )
  select who.person_id, periods.period_start, periods.period_end, periods.school_days,
         coalesce(pr.n, 0),
         case when periods.school_days = 0 then 0
              else coalesce(pr.n, 0)::numeric / periods.school_days end,
         periods.school_days > 0 and coalesce(pr.n, 0) * 100 >= t.pct * periods.school_days
  from who
  cross join periods
  cross join t
  left join present_days pr on pr.person_id = who.person_id and pr.period_start = periods.period_start
$$;

-- A school's days as a day document counts them, per group and for the whole school
-- (group_id null). roster: active people (of the group); present, in_now, late, fever,
-- auto_closed: people (anyone with events that day counts, active or not; in a group's row,
-- the people whose roster entry names the group); absent: active people not present, on
-- school days only (0 on other days); anomalies: anomalous events. One row per day in
-- [p_from, p_to) up to p_now's local day, and per later day with events, for the school and
-- every group an active person or a person with events in the range is in. p_from finite.
create function attendance_school_day_counts(
  p_school_id text, p_from date, p_to date, p_now timestamptz
)
returns table (
  day date,
  school_day boolean,
  group_id text,
  roster integer,
  present integer,
  absent integer,
  in_now integer,
  late integer,
  fever integer,
  auto_closed integer,
  anomalies integer
)
language sql stable as $$
  with rd as materialized (
    select * from attendance_roster_days(p_school_id, p_from, p_to, p_now)
  ), t as (
    select least(p_to, (p_now at time zone s.time_zone)::date + 1) as hi
    from schools s where s.id = p_school_id and isfinite(p_from)
  ), days as (
    select g::date as day
    from t cross join lateral generate_series(p_from::timestamp, (t.hi - 1)::timestamp, interval '1 day') g
    union
    select rd.day from rd
  ), members as (
    -- (person, group) for every group of the person's roster entry, and (person, null)
    select p.id as person_id, p.active, g.group_id
    from people p
    cross join lateral (select unnest(p.groups) as group_id union all select null) g
    where p.school_id = p_school_id
  ), roster as (
    -- the school (null), and every group of an active person or of a person with events in
    -- the range; with its active people
    select null::text as group_id, (count(*) filter (where m.active))::integer as people
    from members m
    where m.group_id is null
    union all
    select m.group_id, (count(*) filter (where m.active))::integer
    from members m
    where m.group_id is not null and (m.active or m.person_id in (select rd.person_id from rd))
    group by m.group_id
  ), counted as (
    -- the day's people in each of their groups; someone off the roster (an erased person's
    -- pseudonym) counts in the school's row only
    select rd.*, m.group_id, coalesce(m.active, false) as active
    from rd left join members m on m.person_id = rd.person_id
  )
  select days.day,
         r.school_day,
         roster.group_id,
         roster.people,
         count(*) filter (where c.present)::integer,
         case when r.school_day
              then roster.people - count(*) filter (where c.present and c.active)
              else 0 end::integer,
         count(*) filter (where c.in_now)::integer,
         count(*) filter (where c.late)::integer,
         count(*) filter (where c.fever)::integer,
         count(*) filter (where c.auto_closed)::integer,
         coalesce(sum(c.anomalies), 0)::integer
  from days
  cross join lateral attendance_day_rules(p_school_id, days.day) r
  cross join roster
  -- (group ids hold no parentheses: '(school)' stands for null, and the join can hash)
  left join counted c on c.day = days.day
                     and coalesce(c.group_id, '(school)') = coalesce(roster.group_id, '(school)')
  group by days.day, r.school_day, roster.group_id, roster.people
$$;
