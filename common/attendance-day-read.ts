import type { LocalDay } from "./attendance/school-day.ts";
import { type AttendanceDayDocument, attendanceDayKeys } from "./attendance-contract.ts";
import type { RedisClient } from "./redis.ts";

// The one way to read a whole published day document of a school, whatever the
// publisher's layout in Redis: today one JSON value under attendanceDayKeys(...).json. The
// checks (npm run reconcile, npm run verify, bench:attendance) read documents through this,
// so a change of layout (a document in segments, per group) changes this function only.

/** The school's published day document, or null when there is none (not published yet, expired). */
export async function readAttendanceDay(
  redis: RedisClient,
  prefix: string,
  schoolId: string,
  day: LocalDay,
): Promise<AttendanceDayDocument | null> {
  const raw = await redis.get(attendanceDayKeys(prefix, schoolId, day).json);
  return raw === null ? null : (JSON.parse(raw) as AttendanceDayDocument);
}
