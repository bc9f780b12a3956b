import type { LocalDay } from "../../common/attendance/school-day.ts";
import type { Pool, PoolClient } from "../../common/postgres.ts";
import { attendanceSchoolsChangedSql } from "../registry/registry-changes.ts";

// Postgres access for a school's holidays (school_holidays, migration 019): SQL only, the
// rules are holidays-service.ts's. Days travel as "YYYY-MM-DD" text both ways: a date is no
// instant, and node-pg would otherwise make it a Date at the API's own midnight. Each write
// records its school's change for the attendance publishers in the same statement
// (attendanceSchoolsChangedSql, migration 057): a holiday changes who is absent that day.

type Db = Pool | PoolClient;

/** A day the school is closed although it is one of its weekdays. */
export interface Holiday {
  date: LocalDay;
  name: string;
}

/** Creates the holiday, or renames it: `created` tells which (a row inserted has no xmax). */
export async function putHoliday(
  db: Db,
  schoolId: string,
  date: LocalDay,
  name: string,
): Promise<{ holiday: Holiday; created: boolean }> {
  const { rows } = await db.query<{ date: string; name: string; created: boolean }>(
    attendanceSchoolsChangedSql(
      `insert into school_holidays as h (school_id, day, name) values ($1, $2::date, $3)
       on conflict (school_id, day) do update set name = excluded.name
       returning h.school_id, h.day::text as date, h.name, (xmax = 0) as created`,
      "date, name, created",
    ),
    [schoolId, date, name],
  );
  const { created, ...holiday } = rows[0]!;
  return { holiday, created };
}

/** Deletes the holiday; undefined when there was none. */
export async function deleteHoliday(
  db: Db,
  schoolId: string,
  date: LocalDay,
): Promise<Holiday | undefined> {
  const { rows } = await db.query<Holiday>(
    attendanceSchoolsChangedSql(
      `delete from school_holidays where school_id = $1 and day = $2::date
       returning school_id, day::text as date, name`,
      "date, name",
    ),
    [schoolId, date],
  );
  return rows[0];
}

/** The school's holidays from `from` to `to` (both included), in date order. */
export async function listHolidays(
  db: Db,
  schoolId: string,
  from: LocalDay,
  to: LocalDay,
): Promise<Holiday[]> {
  const { rows } = await db.query<Holiday>(
    `select day::text as date, name from school_holidays
     where school_id = $1 and day between $2::date and $3::date order by day`,
    [schoolId, from, to],
  );
  return rows;
}
