import type { DayState } from "../../common/attendance/person-day.ts";
import type { LocalDay } from "../../common/attendance/school-day.ts";
import type { Pool, PoolClient } from "../../common/postgres.ts";

// Reads of the writer's attendance_days (migration 019) for the attendance API: SQL only.
// The rows hold each person-day's state (common/attendance/person-day.ts DayState), never a
// view: present, in now and the rest are derived by the caller with the school's rules and
// the clock. Never a read of raw events.

type Db = Pool | PoolClient;

/** One stored person-day. */
export interface StoredDay {
  personId: string;
  day: LocalDay;
  state: DayState;
}

interface DayRow {
  person_id: string;
  day: string;
  closed_seconds: number;
  first_in: number | null;
  last_out: number | null;
  open_since: number | null;
  max_temperature_c: number | null;
  outs_without_in: number;
  double_ins: number;
  double_outs: number;
  events: number;
}

// Instants as epoch milliseconds (float8: exact, and parsed as a number, where a
// timestamptz would be parsed into a Date); the day as its text.
const DAY_COLUMNS = `person_id, day::text as day, closed_seconds,
  (extract(epoch from first_in) * 1000)::float8 as first_in,
  (extract(epoch from last_out) * 1000)::float8 as last_out,
  (extract(epoch from open_since) * 1000)::float8 as open_since,
  max_temperature_c::float8 as max_temperature_c,
  outs_without_in, double_ins, double_outs, events`;

const toStoredDay = (r: DayRow): StoredDay => ({
  personId: r.person_id,
  day: r.day,
  state: {
    closedSeconds: r.closed_seconds,
    firstInMs: r.first_in,
    lastOutMs: r.last_out,
    openSinceMs: r.open_since,
    maxTemperatureC: r.max_temperature_c,
    outsWithoutIn: r.outs_without_in,
    doubleIns: r.double_ins,
    doubleOuts: r.double_outs,
    events: r.events,
  },
});

/** What a day's presence depends on (viewDay: minutes and in now), and nothing else. */
export interface StoredPresence {
  personId: string;
  day: LocalDay;
  closedSeconds: number;
  openSinceMs: number | null;
}

// What a day's presence depends on, of attendance_days `d`: each subquery runs only where
// its CASE takes it (a lateral join would probe every row: the planner moves the settled
// test out of it).
const PRESENCE_COLUMNS = `d.person_id, d.day::text as day,
       case when d.settled_closed_seconds is not null then d.settled_closed_seconds
            else (select a.closed_seconds from attendance_days a
                  where a.school_id = d.school_id and a.day = d.day and a.person_id = d.person_id)
       end as closed_seconds,
       (extract(epoch from
          case when d.settled_closed_seconds is not null then d.settled_open_since
               else (select a.open_since from attendance_days a
                     where a.school_id = d.school_id and a.day = d.day and a.person_id = d.person_id)
          end) * 1000)::float8 as open_since`;

interface PresenceRow {
  person_id: string;
  day: string;
  closed_seconds: number;
  open_since: number | null;
}

const toPresence = (r: PresenceRow): StoredPresence => ({
  personId: r.person_id,
  day: r.day,
  closedSeconds: r.closed_seconds,
  openSinceMs: r.open_since,
});

/**
 * The presence of these people's days (a page of them) from `from` to `to`: an index-only
 * scan of the person index, one short range per person, which carries the two columns
 * presence depends on for every settled day (migration 025: copied once the day is over),
 * wherever in the table the writer put the rows (a school's days are written day by day);
 * a day not settled yet (today's) is read from its row, by key.
 */
export async function loadPeoplePresence(
  db: Db,
  schoolId: string,
  personIds: readonly string[],
  from: LocalDay,
  to: LocalDay,
): Promise<StoredPresence[]> {
  if (personIds.length === 0) return [];
  const { rows } = await db.query<PresenceRow>(
    `select ${PRESENCE_COLUMNS}
     from attendance_days d
     where d.school_id = $1 and d.person_id = any($2::text[]) and d.day between $3::date and $4::date`,
    [schoolId, personIds, from, to],
  );
  return rows.map(toPresence);
}

/** A person of a period page: people-store's listPeople's columns a period answer needs. */
export interface PagePerson {
  id: string;
  name: string | null;
  groups: string[];
}

/** The active people a period page lists: after an id, in a group, `limit` at most. */
export interface PeriodPageFilter {
  after: string | undefined;
  group: string | undefined;
  limit: number;
}

/**
 * A page of the school's active people in id order (as listPeople with activeOnly) and the
 * presence of their days from `from` to `to` (as loadPeoplePresence; none when `days` is
 * null), in one statement: one round trip and one snapshot where the period read took two
 * in turn (the page, then its people's days), each waiting its turn for Postgres under
 * load (bench:attendance's week page, BENCHMARKS.md).
 */
export async function loadPeriodPage(
  db: Db,
  schoolId: string,
  filter: PeriodPageFilter,
  days: { from: LocalDay; to: LocalDay } | null,
): Promise<{ people: PagePerson[]; presence: StoredPresence[] }> {
  const { text, values } = periodPageQuery(schoolId, filter, days);
  const { rows } = await db.query<
    PagePerson & { day: string | null; closed_seconds: number | null; open_since: number | null }
  >(text, values);
  const people: PagePerson[] = [];
  const presence: StoredPresence[] = [];
  for (const r of rows) {
    if (people.at(-1)?.id !== r.id) people.push({ id: r.id, name: r.name, groups: r.groups });
    if (r.day !== null)
      presence.push({
        personId: r.id,
        day: r.day,
        closedSeconds: r.closed_seconds!,
        openSinceMs: r.open_since,
      });
  }
  return { people, presence };
}

/**
 * loadPeriodPage's statement and its parameters (apart so that a test can EXPLAIN it: the
 * plan of the lateral is what keeps the page fast, period-page-plan.test.ts).
 */
export function periodPageQuery(
  schoolId: string,
  filter: PeriodPageFilter,
  days: { from: LocalDay; to: LocalDay } | null,
): { text: string; values: unknown[] } {
  const params: unknown[] = [schoolId];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const where = ["school_id = $1", "active"];
  if (filter.after !== undefined) where.push(`id > ${param(filter.after)}`);
  if (filter.group !== undefined) where.push(`groups @> array[${param(filter.group)}::text]`);
  const page = `select id, name, groups from people where ${where.join(" and ")}
     order by id limit ${param(filter.limit)}`;
  // One row per person and stored day (a person without one: a row of nulls), in id order.
  // `offset 0` keeps the lateral a probe of the person index per person of the page: pulled
  // up, the planner merge-joined the page with every row of the school's days (the whole
  // roster's today: 66 ms at 1,800 of 10,000 rows under load, against ~1 ms probed; the
  // two-statement read's `person_id = any(…)` scanned that range too, 17-26 ms).
  const lateral =
    days === null
      ? "select null::text as person_id, null::text as day, null::int as closed_seconds, null::float8 as open_since where false"
      : `select ${PRESENCE_COLUMNS} from attendance_days d
         where d.school_id = $1 and d.person_id = p.id
           and d.day between ${param(days.from)}::date and ${param(days.to)}::date
         offset 0`;
  return {
    text: `with page as materialized (${page})
     select p.id, p.name, p.groups, d.day, d.closed_seconds, d.open_since
     from page p left join lateral (${lateral}) d on true
     order by p.id`,
    values: params,
  };
}

/** One person's stored days from `from` to `to`, in day order. */
export async function loadPersonDays(
  db: Db,
  schoolId: string,
  personId: string,
  from: LocalDay,
  to: LocalDay,
): Promise<StoredDay[]> {
  const { rows } = await db.query<DayRow>(
    `select ${DAY_COLUMNS} from attendance_days
     where school_id = $1 and person_id = $2 and day between $3::date and $4::date
     order by day`,
    [schoolId, personId, from, to],
  );
  return rows.map(toStoredDay);
}
