import { type AttendanceEvent, dayState } from "../common/attendance/person-day.ts";
import type { Pool } from "../common/postgres.ts";
import { updateSchools } from "../ingest-api/registry/registry-changes.ts";

// attendance_days rows as the batch writer keeps them (migration 019): a person-day's state
// from its events (common/attendance/person-day.ts), stamped with the writing transaction's
// change id and its school-day logged as changed with it (attendance_day_changes, migration
// 051), so the publisher's delta read sees them exactly as it sees the writer's.

/** A check-in or check-out at an instant (ISO), with its temperature if one was taken. */
export interface TestAttendanceEvent {
  kind: "in" | "out";
  at: string;
  temperatureC?: number;
}

/** Stores (or replaces) one person-day from its events, in one transaction of its own. */
export async function storeAttendanceDay(
  pool: Pool,
  schoolId: string,
  personId: string,
  day: string,
  events: readonly TestAttendanceEvent[],
): Promise<void> {
  const s = dayState(
    events.map(
      (e, i): AttendanceEvent => ({
        eventId: `e${i}`,
        kind: e.kind,
        atMs: Date.parse(e.at),
        temperatureC: e.temperatureC ?? null,
      }),
    ),
  );
  const at = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  await pool.query(
    `with written as (
     insert into attendance_days as d (school_id, person_id, day, closed_seconds, first_in,
       last_out, open_since, max_temperature_c, outs_without_in, double_ins, double_outs, events)
     values ($1, $2, $3::date, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     on conflict (school_id, day, person_id) do update set
       closed_seconds = excluded.closed_seconds, first_in = excluded.first_in,
       last_out = excluded.last_out, open_since = excluded.open_since,
       max_temperature_c = excluded.max_temperature_c, outs_without_in = excluded.outs_without_in,
       double_ins = excluded.double_ins, double_outs = excluded.double_outs,
       events = excluded.events, change_id = attendance_change_id(), updated_at = now()
     returning school_id, day
     )
     insert into attendance_day_changes (school_id, day) select school_id, day from written
     on conflict do nothing`,
    [
      schoolId,
      personId,
      day,
      s.closedSeconds,
      at(s.firstInMs),
      at(s.lastOutMs),
      at(s.openSinceMs),
      s.maxTemperatureC,
      s.outsWithoutIn,
      s.doubleIns,
      s.doubleOuts,
      s.events,
    ],
  );
}

/** The school's presence rules, set as the settings API would (the columns of migration 019). */
export async function setAttendanceRules(
  pool: Pool,
  schoolId: string,
  rules: {
    dayEndsAt?: string;
    minPresentMinutes?: number;
    lateAfter?: string | null;
    feverThresholdC?: number;
    publicCounts?: boolean;
  },
): Promise<void> {
  const sets: string[] = [];
  const values: unknown[] = [schoolId];
  const set = (column: string, value: unknown) => {
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  };
  if (rules.dayEndsAt !== undefined) set("attendance_day_ends_at", rules.dayEndsAt);
  if (rules.minPresentMinutes !== undefined)
    set("attendance_min_present_minutes", rules.minPresentMinutes);
  if (rules.lateAfter !== undefined) set("attendance_late_after", rules.lateAfter);
  if (rules.feverThresholdC !== undefined) set("fever_threshold_c", rules.feverThresholdC);
  if (rules.publicCounts !== undefined) set("attendance_public_counts", rules.publicCounts);
  // As the API writes them: notified, and a change of what a day document shows recorded
  // for the attendance publisher in the statement (migration 057's schools_updated).
  await updateSchools(pool, `${sets.join(", ")}, updated_at = now()`, "s.id = $1", values);
}
