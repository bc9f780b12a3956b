import type { Pool } from "../../common/postgres.ts";

// The registers' statistics and overdue list, read from the writer's precomputed rows
// (register_states, register_people: migration 026; a completed register's roster makes
// its people without a row present: 037) and the registry's polls, never from raw events. A
// range is of school-local days (`from`, `to` both counted), by the lessons' start.

const RANGE = `p.starts_at >= ($3::date::timestamp at time zone $4)
  and p.starts_at < (($5::date + 1)::timestamp at time zone $4)`;

// The registers of the range: held (completed) or not; and each person's lessons of the held:
// their rows (people with an event), and the completion's roster's others as present
// (migration 037), each register's looked up by its own key. Not through the view
// register_statuses: joined to a range, the planner anti-joins every register's roster
// before filtering (~0.7 s at 20,000 registers, growing with the table).
const GROUP_PEOPLE = `
  with held as (
    select p.id, s.roster
    from polls p
    join register_states s on s.poll_id = p.id and s.completed_at is not null
    where p.school_id = $1 and p.kind = 'register' and p.group_ids[1] = $2 and ${RANGE}
  ), statuses as (
    select rp.person_id, rp.status
    from held h join register_people rp on rp.poll_id = h.id
    union all
    select r.person_id, 'present'
    from held h cross join lateral unnest(h.roster) as r(person_id)
    where not exists (select 1 from register_people x
                      where x.poll_id = h.id and x.person_id = r.person_id)
  )
  select person_id as id,
         count(*) filter (where status = 'present')::int as present,
         count(*) filter (where status = 'absent')::int as absent
  from statuses
  group by person_id order by person_id`;

const GROUP_TOTALS = `
  select p.group_ids[1] as group_id,
         count(*) filter (where s.completed_at is not null)::int as held,
         count(*) filter (where s.completed_at is null)::int as not_completed,
         coalesce(sum(s.present) filter (where s.completed_at is not null), 0)::int as present,
         coalesce(sum(s.absent) filter (where s.completed_at is not null), 0)::int as absent,
         count(*) filter (where s.changed_after_completion)::int as changed_after_completion
  from polls p left join register_states s on s.poll_id = p.id
  where p.school_id = $1 and p.kind = 'register' and ($2::text is null or p.group_ids[1] = $2)
    and ${RANGE}
  group by 1 order by 1`;

const OVERDUE = `
  select p.id, p.slug, p.title, p.group_ids[1] as group_id, p.starts_at, p.ends_at,
         coalesce(s.absent, 0)::int as absent, coalesce(s.events, 0)::int as events
  from polls p left join register_states s on s.poll_id = p.id
  where p.school_id = $1 and p.kind = 'register' and p.archived_at is null
    and p.ends_at < now() - $2::bigint * interval '1 millisecond'
    and s.completed_at is null
  order by p.ends_at, p.id
  limit $3`;

export interface LessonTotals {
  lessonsHeld: number;
  lessonsNotCompleted: number;
  /** Person-lessons of the held lessons. */
  present: number;
  absent: number;
  /** present / (present + absent), 4 decimals (0 without any). */
  share: number;
  changedAfterCompletion: number;
}

export interface PersonLessons {
  id: string;
  lessons: number;
  present: number;
  absent: number;
  share: number;
}

const share = (present: number, absent: number) =>
  present + absent === 0 ? 0 : Math.round((present / (present + absent)) * 10_000) / 10_000;

interface TotalsRow {
  group_id: string;
  held: number;
  not_completed: number;
  present: number;
  absent: number;
  changed_after_completion: number;
}

const totals = (r: TotalsRow | undefined): LessonTotals => ({
  lessonsHeld: r?.held ?? 0,
  lessonsNotCompleted: r?.not_completed ?? 0,
  present: r?.present ?? 0,
  absent: r?.absent ?? 0,
  share: share(r?.present ?? 0, r?.absent ?? 0),
  changedAfterCompletion: r?.changed_after_completion ?? 0,
});

export interface Range {
  from: string;
  to: string;
  timeZone: string;
}

export async function groupStats(
  pool: Pool,
  schoolId: string,
  groupId: string,
  range: Range,
): Promise<LessonTotals & { people: PersonLessons[] }> {
  const args = [schoolId, groupId, range.from, range.timeZone, range.to];
  const [t, p] = await Promise.all([
    pool.query<TotalsRow>(GROUP_TOTALS, args),
    pool.query<{ id: string; present: number; absent: number }>(GROUP_PEOPLE, args),
  ]);
  return {
    ...totals(t.rows[0]),
    people: p.rows.map((r) => ({
      id: r.id,
      lessons: r.present + r.absent,
      present: r.present,
      absent: r.absent,
      share: share(r.present, r.absent),
    })),
  };
}

export async function schoolStats(
  pool: Pool,
  schoolId: string,
  range: Range,
): Promise<LessonTotals & { groups: (LessonTotals & { groupId: string })[] }> {
  const { rows } = await pool.query<TotalsRow>(GROUP_TOTALS, [
    schoolId,
    null,
    range.from,
    range.timeZone,
    range.to,
  ]);
  const sum = (k: keyof Omit<TotalsRow, "group_id">) => rows.reduce((n, r) => n + r[k], 0);
  return {
    ...totals({
      group_id: "",
      held: sum("held"),
      not_completed: sum("not_completed"),
      present: sum("present"),
      absent: sum("absent"),
      changed_after_completion: sum("changed_after_completion"),
    }),
    groups: rows.map((r) => ({ groupId: r.group_id, ...totals(r) })),
  };
}

export interface OverdueRegister {
  id: string;
  slug: string;
  title: string;
  groupId: string;
  startsAt: string;
  endsAt: string;
  absent: number;
  events: number;
}

export async function overdueRegisters(
  pool: Pool,
  schoolId: string,
  graceMs: number,
  limit: number,
): Promise<OverdueRegister[]> {
  const { rows } = await pool.query<{
    id: string;
    slug: string;
    title: string;
    group_id: string;
    starts_at: Date;
    ends_at: Date;
    absent: number;
    events: number;
  }>(OVERDUE, [schoolId, graceMs, limit]);
  return rows.map((r) => ({
    id: r.id,
    slug: r.slug,
    title: r.title,
    groupId: r.group_id,
    startsAt: r.starts_at.toISOString(),
    endsAt: r.ends_at.toISOString(),
    absent: r.absent,
    events: r.events,
  }));
}
