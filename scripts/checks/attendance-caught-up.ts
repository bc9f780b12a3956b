import { setTimeout as sleep } from "node:timers/promises";
import { attendanceCursorKey } from "../../common/attendance-contract.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";

// When the attendance publisher has published everything committed before a moment: the
// change log rows of that moment (migration 051: the school-days written, the schools whose
// roster or rules changed) are consumed, which the leader does only once it has written their
// documents (a school change's documents still owed are logged again as its days, and stay),
// and its marker is in Redis (written once a leadership's documents stand for the log: not
// while a first start's rebuild is still owed). What a check of the published documents
// against the events waits for after the writer drained: a check made before it compares a
// document the publisher is still to rewrite (a loaded publisher's runs lag by tens of
// seconds), and a pass over many schools made once and never again (each school's day
// computed from the raw events takes seconds) reports the first schools from their earliest
// look. No transaction id, no snapshot: a transaction left open elsewhere holds nothing.

/** The change log's school-days and schools at a moment. */
export interface PendingChanges {
  schoolIds: string[];
  days: string[];
  /** Schools logged as changed. */
  schools: string[];
}

/** What the change logs hold now (committed): what the documents must come to show. */
export async function pendingChangesNow(pool: Pool): Promise<PendingChanges> {
  const days = await pool.query<{ school_id: string; day: string }>(
    "select distinct school_id, day::text as day from attendance_day_changes",
  );
  const schools = await pool.query<{ school_id: string }>(
    "select distinct school_id from attendance_school_change_log",
  );
  return {
    schoolIds: days.rows.map((r) => r.school_id),
    days: days.rows.map((r) => r.day),
    schools: schools.rows.map((r) => r.school_id),
  };
}

/** Whether a row of `pending`'s school-days or schools is still in the logs. */
async function stillLogged(pool: Pool, pending: PendingChanges): Promise<boolean> {
  const { rows } = await pool.query<{ logged: boolean }>(
    `select exists (
       select 1 from attendance_day_changes l
       join unnest($1::text[], $2::date[]) as u(school_id, day)
         on l.school_id = u.school_id and l.day = u.day
     ) or exists (select 1 from attendance_day_changes where school_id = any($3::text[]))
       or exists (select 1 from attendance_school_change_log where school_id = any($3::text[]))
       as logged`,
    [pending.schoolIds, pending.days, pending.schools],
  );
  return rows[0]!.logged;
}

/**
 * Waits until the attendance publisher (under `prefix`) has published what `pending` names:
 * its marker in Redis and none of those school-days or schools left in the logs. Resolves to
 * the milliseconds waited, or undefined when `timeoutMs` passed first.
 */
export async function waitForAttendancePublisher(
  pool: Pool,
  redis: RedisClient,
  prefix: string,
  pending: PendingChanges,
  timeoutMs: number,
  pollMs = 500,
): Promise<number | undefined> {
  const started = performance.now();
  for (;;) {
    const marker = await redis.get(attendanceCursorKey(prefix));
    if (marker !== null && !(await stillLogged(pool, pending))) return performance.now() - started;
    if (performance.now() - started >= timeoutMs) return undefined;
    await sleep(pollMs);
  }
}
