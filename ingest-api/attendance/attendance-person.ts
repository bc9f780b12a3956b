import { periodPresent, viewDay } from "../../common/attendance/person-day.ts";
import { dayRules, type LocalDay } from "../../common/attendance/school-day.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { personNotFound, seesNames } from "../people/people-service.ts";
import { getPerson } from "../people/people-store.ts";
import { type AttendanceReadDeps, countedDays, readableSchool } from "./attendance-period.ts";
import { loadPersonDays } from "./attendance-reads-store.ts";

// One person's days (`GET /v1/schools/:schoolId/people/:personId/attendance?from=&to=`):
// each stored day viewed with the school's rules of that day at this instant, and the range
// judged as a period is (present days of the school days so far).

/** A person-day as the API answers it. */
export interface PersonDay {
  date: LocalDay;
  /** One of the school's weekdays and no holiday: a day the range's share counts. */
  schoolDay: boolean;
  minutes: number;
  present: boolean;
  inNow: boolean;
  /** Checked in and not out by the school's `dayEndsAt`: closed there. */
  autoClosed: boolean;
  late: boolean;
  fever: boolean;
  maxTemperatureC: number | null;
  /** Check-outs without a check-in, second check-ins and second check-outs. */
  anomalies: number;
  firstIn: string | null;
  lastOut: string | null;
  events: number;
}

export interface PersonAttendance {
  schoolId: string;
  personId: string;
  /** Only for the school's own admin; null for the deployment admin (and a person without). */
  name: string | null;
  from: LocalDay;
  to: LocalDay;
  /** The days with a check-in or check-out, in date order (a school day without one is an absence). */
  days: PersonDay[];
  /** The range judged as a week or month is: school days up to `through` (`to` or today). */
  summary: {
    through: LocalDay | null;
    schoolDays: number;
    presentDays: number;
    share: number;
    status: "present" | "absent";
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export async function readPersonDays(
  deps: AttendanceReadDeps,
  schoolId: string,
  personId: string,
  range: { from: LocalDay; to: LocalDay },
  scope: SchoolScope,
): Promise<PersonAttendance> {
  const school = readableSchool(deps.cache, schoolId, scope);
  // Inactive people keep their days; an erased one's are under a pseudonym, no person's.
  const person = await getPerson(deps.pool, schoolId, personId);
  if (person === undefined) throw personNotFound(schoolId, personId);
  const nowMs = deps.now();
  const [stored, counted] = await Promise.all([
    loadPersonDays(deps.pool, schoolId, personId, range.from, range.to),
    countedDays(deps.pool, school, range.from, range.to, nowMs),
  ]);
  let presentDays = 0;
  const days = stored.map(({ day, state }): PersonDay => {
    const counts = counted.rulesOf(day);
    const view = viewDay(state, counts ?? dayRules(school.attendance, school.timeZone, day), nowMs);
    if (counts !== undefined && view.present) presentDays++;
    return {
      date: day,
      schoolDay: counts !== undefined,
      minutes: view.minutes,
      present: view.present,
      inNow: view.inNow,
      autoClosed: view.autoClosed,
      late: view.late,
      fever: view.fever,
      maxTemperatureC: state.maxTemperatureC,
      anomalies: view.anomalies,
      firstIn: iso(state.firstInMs),
      lastOut: iso(state.lastOutMs),
      events: state.events,
    };
  });
  const judged = periodPresent(
    presentDays,
    counted.days.length,
    school.attendance.minPresentDaysPct,
  );
  return {
    schoolId,
    personId,
    name: seesNames(scope, schoolId) ? person.name : null,
    from: range.from,
    to: range.to,
    days,
    summary: {
      through: counted.through,
      schoolDays: counted.days.length,
      presentDays,
      share: Math.round(judged.share * 10_000) / 10_000,
      status: judged.present ? "present" : "absent",
    },
  };
}
