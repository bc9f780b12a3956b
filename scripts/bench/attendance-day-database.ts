import type { Logger } from "../../common/logger.ts";
import { migrate } from "../../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../../common/postgres.ts";

// The database of a bench that plays one school day of attendance (bench:attendance-writer,
// profile-keep-days): made anew and migrated, the day's month given its partitions in every
// monthly table, as a deployment's maintenance gives it (the migrations make only this
// month's and three ahead: the events and the presence rows then land where they would on
// the day, not in the default partitions), and the schools with their doors, attendance
// registers of the roster with the options `in` and `out`.

export interface BenchSchool {
  id: string;
  timeZone: string;
}

export interface BenchDoor {
  id: string;
  schoolId: string;
}

/** A new database at `url` for `day` (YYYY-MM-DD); one connection, the caller ends it. */
export async function attendanceDayDatabase(
  url: string,
  logger: Logger,
  day: string,
  schools: readonly BenchSchool[],
  doors: readonly BenchDoor[],
): Promise<Pool> {
  await dropDatabase(url);
  await ensureDatabase(url);
  const pool = createPool(url, logger, { max: 1 });
  await migrate(pool, logger);
  await pool.query(
    `select time_partitions_ensure(parent, interval '0 months', $1::timestamptz, 0)
     from time_partitioned_tables`,
    [`${day}T12:00:00Z`],
  );
  await pool.query(
    `insert into schools (id, name, time_zone)
     select id, 'Bench ' || id, tz from unnest($1::text[], $2::text[]) as u(id, tz)`,
    [schools.map((s) => s.id), schools.map((s) => s.timeZone)],
  );
  await pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters)
     select id, id, 'Door ' || id, school_id, 'attendance', 'roster'
     from unnest($1::text[], $2::text[]) as u(id, school_id)`,
    [doors.map((d) => d.id), doors.map((d) => d.schoolId)],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p, o, o, n from unnest($1::text[]) p, unnest(array['in', 'out']) with ordinality as x(o, n)`,
    [doors.map((d) => d.id)],
  );
  return pool;
}
