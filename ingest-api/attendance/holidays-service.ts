import type { LocalDay } from "../../common/attendance/school-day.ts";
import { NotFoundError } from "../../common/errors.ts";
import { type Pool, withTransaction } from "../../common/postgres.ts";
import { actsFor, type SchoolScope } from "../auth/actor.ts";
import { getSchool, schoolForCreate, schoolNotFound } from "../schools/school-store.ts";
import * as store from "./holidays-store.ts";

/** The answer of every holidays route: the holiday and its school. */
export type SchoolHoliday = store.Holiday & { schoolId: string };

/** A school's holidays in a range (`GET …/holidays?from=&to=`). */
export interface HolidayList {
  schoolId: string;
  from: LocalDay;
  to: LocalDay;
  holidays: store.Holiday[];
}

export const holidayNotFound = (schoolId: string, date: LocalDay) =>
  new NotFoundError("holiday_not_found", `school "${schoolId}" has no holiday on ${date}`);

/**
 * A school's holidays: the school days a week or month does not count although they are
 * among its weekdays (docs/attendance.md). Kept by the school's own admin or the deployment
 * admin; another school's admin gets the 404 of a school that does not exist, before any
 * query.
 */
export class HolidaysService {
  readonly #pool: Pool;

  constructor(deps: { pool: Pool }) {
    this.#pool = deps.pool;
  }

  /** Creates the holiday or renames it: `created` says which (201 or 200). */
  async put(
    schoolId: string,
    date: LocalDay,
    name: string,
    scope: SchoolScope,
  ): Promise<{ holiday: SchoolHoliday; created: boolean }> {
    inScope(scope, schoolId);
    return withTransaction(this.#pool, async (client) => {
      // Key-share locked: the school cannot be deleted under the insert.
      if ((await schoolForCreate(client, schoolId)) === undefined) throw schoolNotFound(schoolId);
      const { holiday, created } = await store.putHoliday(client, schoolId, date, name);
      return { holiday: { schoolId, ...holiday }, created };
    });
  }

  async delete(schoolId: string, date: LocalDay, scope: SchoolScope): Promise<SchoolHoliday> {
    inScope(scope, schoolId);
    const holiday = await store.deleteHoliday(this.#pool, schoolId, date);
    if (holiday !== undefined) return { schoolId, ...holiday };
    await getSchool(this.#pool, schoolId, scope); // or 404 school_not_found
    throw holidayNotFound(schoolId, date);
  }

  async list(
    schoolId: string,
    from: LocalDay,
    to: LocalDay,
    scope: SchoolScope,
  ): Promise<HolidayList> {
    inScope(scope, schoolId);
    const holidays = await store.listHolidays(this.#pool, schoolId, from, to);
    // An empty list of a school that does not exist is its 404 (a row proves it exists).
    if (holidays.length === 0) await getSchool(this.#pool, schoolId, scope);
    return { schoolId, from, to, holidays };
  }
}

/** Another school than the caller's: the 404 of a school that does not exist. */
function inScope(scope: SchoolScope, schoolId: string): void {
  if (!actsFor(scope, schoolId)) throw schoolNotFound(schoolId);
}
