import {
  type DayRules,
  type DayState,
  EMPTY_DAY,
  periodPresent,
  viewDay,
} from "../../common/attendance/person-day.ts";
import {
  dayRules,
  type LocalDay,
  localDay,
  periodOf,
  schoolDays,
} from "../../common/attendance/school-day.ts";
import type { Pool } from "../../common/postgres.ts";
import type { School } from "../../common/registry-types.ts";
import { actsFor, type SchoolScope } from "../auth/actor.ts";
import { encodeCursor } from "../people/people-schemas.ts";
import { seesNames } from "../people/people-service.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { schoolNotFound } from "../schools/school-store.ts";
import { loadPeriodPage } from "./attendance-reads-store.ts";
import { listHolidays } from "./holidays-store.ts";

// A week or a month of a school's attendance (`GET /v1/schools/:schoolId/attendance?period=`):
// for each active person, on how many of the period's school days they were present, and
// whether that makes the period present (common/attendance/person-day.ts periodPresent).
// From the writer's attendance_days, never raw events; each day's presence derived here
// with viewDay and the school's rules of that day (common/attendance/school-day.ts).

/** What the period reads need: Postgres, the school's rules (the registry cache), a clock. */
export interface AttendanceReadDeps {
  pool: Pool;
  cache: RegistryCache;
  /** Epoch milliseconds: a day still open is viewed at this instant. */
  now: () => number;
}

export interface PeriodQuery {
  period: "week" | "month";
  date: LocalDay;
  group: string | undefined;
  limit: number;
  after: string | undefined;
}

export type PeriodStatus = "present" | "absent";

export interface PeriodItem {
  id: string;
  /** Only for the school's own admin; null for the deployment admin (and a person without). */
  name: string | null;
  groups: string[];
  presentDays: number;
  schoolDays: number;
  /** presentDays / schoolDays, 4 decimals; 0 when there is no school day yet. */
  share: number;
  status: PeriodStatus;
}

/** The answer: one page of the school's active people, in id order. */
export interface PeriodPage {
  schoolId: string;
  period: "week" | "month";
  date: LocalDay;
  /** The whole week (Monday to Sunday) or month holding `date`. */
  from: LocalDay;
  to: LocalDay;
  /** The last day counted: `date` or the school's today, whichever is earlier; null when the period has not begun. */
  through: LocalDay | null;
  /** The school days counted: its weekdays from `from` to `through`, less its holidays. */
  schoolDays: number;
  minPresentDaysPct: number;
  group: string | null;
  items: PeriodItem[];
  next: string | null;
}

/** The school an admin may read, from the registry cache (another school's: a missing one's 404). */
export function readableSchool(cache: RegistryCache, schoolId: string, scope: SchoolScope): School {
  const school = actsFor(scope, schoolId) ? cache.school(schoolId) : undefined;
  if (school === undefined) throw schoolNotFound(schoolId);
  return school;
}

/** The school days counted from `from` up to `until` or the school's today, whichever is earlier. */
export interface CountedDays {
  through: LocalDay | null;
  days: LocalDay[];
  /** The school's rules of a counted day, as instants; undefined for a day not counted. */
  rulesOf(day: LocalDay): DayRules | undefined;
}

/**
 * The school days a period counts: its weekdays less its holidays, from `from` up to and
 * including `until` or the school's today, whichever is earlier. Days to come are not
 * counted: a month asked for on its 10th is judged on the school days so far, so that a
 * person present every day so far is present, not 40 %.
 */
export async function countedDays(
  pool: Pool,
  school: School,
  from: LocalDay,
  until: LocalDay,
  nowMs: number,
): Promise<CountedDays> {
  const today = localDay(nowMs, school.timeZone);
  const through = until < today ? until : today;
  if (through < from) return { through: null, days: [], rulesOf: () => undefined };
  const holidays = await listHolidays(pool, school.id, from, through);
  const days = schoolDays(
    from,
    through,
    school.attendance.weekdays,
    new Set(holidays.map((h) => h.date)),
  );
  const counted = new Set(days);
  // Built on first use: a year's range has ~250 school days, and a person few stored days.
  const rules = new Map<LocalDay, DayRules>();
  const rulesOf = (day: LocalDay) => {
    if (!counted.has(day)) return undefined;
    let r = rules.get(day);
    if (r === undefined) {
      r = dayRules(school.attendance, school.timeZone, day);
      rules.set(day, r);
    }
    return r;
  };
  return { through, days, rulesOf };
}

/**
 * A stored day's state as far as its presence goes: viewDay's `present` reads its closed
 * seconds and its open check-in only (the columns the person index carries, migration 024;
 * attendance-presence.test.ts holds this against whole states).
 */
export function presenceState(day: Pick<DayState, "closedSeconds" | "openSinceMs">): DayState {
  return { ...EMPTY_DAY, closedSeconds: day.closedSeconds, openSinceMs: day.openSinceMs };
}

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/** One page of the period's people, each with their present days. */
export async function readPeriod(
  deps: AttendanceReadDeps,
  schoolId: string,
  query: PeriodQuery,
  scope: SchoolScope,
): Promise<PeriodPage> {
  const school = readableSchool(deps.cache, schoolId, scope);
  const nowMs = deps.now();
  const { from, to } = periodOf(query.date, query.period);
  // The days read: `from` to the date or the school's today (countedDays's range; its school
  // days are those counted, below), known before the holidays are.
  const today = localDay(nowMs, school.timeZone);
  const through = query.date < today ? query.date : today;
  // The school days, and the page's people with their days, at once: two round trips in
  // flight, not one after the other (under load each waits its turn for Postgres and the
  // event loop); the page and its people's days in one statement (one snapshot).
  const [counted, { people, presence }] = await Promise.all([
    countedDays(deps.pool, school, from, query.date, nowMs),
    // One person more than the page: whether there is a next page, without a count.
    loadPeriodPage(
      deps.pool,
      schoolId,
      { after: query.after, group: query.group, limit: query.limit + 1 },
      through < from ? null : { from, to: through },
    ),
  ]);
  const page = people.slice(0, query.limit);
  const presentDays = new Map<string, number>();
  for (const day of presence) {
    const rules = counted.rulesOf(day.day);
    // A day that is no school day (a weekend, a holiday) is not counted, present or not.
    if (rules === undefined || !viewDay(presenceState(day), rules, nowMs).present) continue;
    presentDays.set(day.personId, (presentDays.get(day.personId) ?? 0) + 1);
  }
  const names = seesNames(scope, schoolId);
  const total = counted.days.length;
  const { minPresentDaysPct } = school.attendance;
  return {
    schoolId,
    period: query.period,
    date: query.date,
    from,
    to,
    through: counted.through,
    schoolDays: total,
    minPresentDaysPct,
    group: query.group ?? null,
    items: page.map((person) => {
      const present = presentDays.get(person.id) ?? 0;
      const judged = periodPresent(present, total, minPresentDaysPct);
      return {
        id: person.id,
        name: names ? person.name : null,
        groups: person.groups,
        presentDays: present,
        schoolDays: total,
        share: round4(judged.share),
        status: judged.present ? "present" : "absent",
      };
    }),
    next: people.length > query.limit ? encodeCursor(page.at(-1)!.id) : null,
  };
}
