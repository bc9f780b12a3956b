import { DateTime } from "luxon";
import type { LocalDay } from "../../common/attendance/school-day.ts";
import { type AdminClient, describe, errorCode } from "./admin-client.ts";
import type { SeededKiosk, SeededSchool } from "./kiosk-file.ts";
import type { RosterScheme } from "./roster.ts";

// What an attendance run needs of the seeded world: a register (a poll of kind
// `attendance`) at each school's door, created when missing, the school's lateAfter set so
// that the late tail shows as late, and the school's kiosks (seeded with pollIds null: they
// may take the register's events).

/** The register every simulated school gets (its slug; the poll id is the API's). */
export const REGISTER_SLUG = "main-door";
/** The school's lateAfter the runs set: the bell (08:00) + 15 minutes. */
export const LATE_AFTER = "08:15";

export interface AttendanceSchool {
  id: string;
  timeZone: string;
  registerId: string;
  people: RosterScheme;
  kiosks: { id: string; token: string }[];
}

async function findRegister(admin: AdminClient, schoolId: string): Promise<string | undefined> {
  const polls = await admin.list<{ id: string; slug: string; kind?: string }>(
    `/v1/polls?schoolId=${encodeURIComponent(schoolId)}`,
    "polls",
  );
  return polls.find((p) => p.slug === REGISTER_SLUG && p.kind === "attendance")?.id;
}

/** Presence rules a run sets besides lateAfter (PATCH /v1/schools/:schoolId/attendance). */
export interface RunSettings {
  dayEndsAt?: string;
  weekdays?: number[];
}

/** The school's register, created when missing; its lateAfter (and `settings`) set. */
export async function ensureRegister(
  admin: AdminClient,
  schoolId: string,
  settings: RunSettings = {},
): Promise<string> {
  let id = await findRegister(admin, schoolId);
  if (id === undefined) {
    const res = await admin.call("POST", "/v1/polls", {
      id: REGISTER_SLUG,
      schoolId,
      kind: "attendance",
      title: "Main door",
    });
    if (res.status === 201) id = (res.body as { id: string }).id;
    else if (res.status === 409 && errorCode(res.body) === "poll_exists")
      id = await findRegister(admin, schoolId);
    if (id === undefined) throw new Error(`register of ${schoolId}: ${describe(res)}`);
  }
  const patch = await admin.call(
    "PATCH",
    `/v1/schools/${encodeURIComponent(schoolId)}/attendance`,
    { lateAfter: LATE_AFTER, ...settings },
  );
  if (patch.status !== 200) throw new Error(`settings of ${schoolId}: ${describe(patch)}`);
  return id;
}

/** Every school of the file with a roster and a kiosk, with its register (created as needed). */
export async function attendanceSchools(
  admin: AdminClient,
  schools: readonly SeededSchool[],
  kiosks: readonly SeededKiosk[],
  concurrency = 8,
  settings: RunSettings = {},
): Promise<{ schools: AttendanceSchool[]; skipped: string[] }> {
  const byschool = new Map<string, { id: string; token: string }[]>();
  for (const k of kiosks) {
    const list = byschool.get(k.schoolId) ?? [];
    list.push({ id: k.id, token: k.token });
    byschool.set(k.schoolId, list);
  }
  const skipped: string[] = [];
  const wanted = schools.filter((s) => {
    if (s.people === null || s.people.count === 0) skipped.push(`${s.id}: no roster`);
    else if (!byschool.has(s.id)) skipped.push(`${s.id}: no kiosk in the file`);
    else return true;
    return false;
  });
  const out: AttendanceSchool[] = new Array(wanted.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, wanted.length) }, async () => {
      while (next < wanted.length) {
        const i = next++;
        const s = wanted[i]!;
        out[i] = {
          id: s.id,
          timeZone: s.timeZone,
          registerId: await ensureRegister(admin, s.id, settings),
          people: s.people!,
          kiosks: byschool.get(s.id)!,
        };
      }
    }),
  );
  return { schools: out, skipped };
}

/**
 * The last `count` school days (Monday to Friday, the schools' default weekdays) before the
 * school-local today, oldest first: whole days in the past, so that every event's castAt
 * is before now (the API stores a castAt far in the future at its receive time).
 */
export function pastSchoolDays(nowMs: number, timeZone: string, count: number): LocalDay[] {
  const days: LocalDay[] = [];
  let d = DateTime.fromMillis(nowMs, { zone: timeZone }).startOf("day");
  while (days.length < count) {
    d = d.minus({ days: 1 });
    if (d.weekday <= 5) days.unshift(d.toISODate()!);
  }
  return days;
}
