import { z } from "zod";
import { temperatureSchema } from "../../common/vote.ts";

// What `PATCH /v1/schools/:schoolId/attendance` takes: any of a school's presence rules
// (common/registry-types.ts AttendanceSettings; what each does: docs/attendance.md). Each
// field is checked alone here; what holds between fields (min below max) is checked by
// attendance-settings-service.ts against the settings the patch lands on.

const HHMM = /^([01]\d|2[0-3]):[0-5]\d$/;

/** A school-local wall time, "HH:MM" from 00:00 to 23:59 (no seconds: the rules have none). */
export const wallTimeSchema = z
  .string({ error: 'must be a time "HH:MM" (00:00 to 23:59)' })
  .regex(HHMM, { error: 'must be a time "HH:MM" (00:00 to 23:59)' });

const wholeNumber = (min: number, max: number) =>
  z
    .number({ error: `must be a whole number from ${min} to ${max}` })
    .int({ error: `must be a whole number from ${min} to ${max}` })
    .min(min, { error: `must be a whole number from ${min} to ${max}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}` });

/** ISO weekdays, 1 = Monday … 7 = Sunday. */
const weekdaySchema = wholeNumber(1, 7);

export const attendanceSettingsPatchSchema = z.strictObject({
  // A day that ended at 00:00 would close every check-in at the day's first instant.
  dayEndsAt: wallTimeSchema
    .refine((t) => t !== "00:00", { error: "must be after 00:00" })
    .optional(),
  minPresentMinutes: wholeNumber(0, 1440).optional(),
  lateAfter: wallTimeSchema.nullable().optional(),
  minPresentDaysPct: wholeNumber(0, 100).optional(),
  weekdays: z
    .array(weekdaySchema, { error: "must be an array of ISO weekdays (1 = Monday … 7 = Sunday)" })
    .min(1, { error: "must hold at least one weekday" })
    .max(7, { error: "must hold at most 7 weekdays" })
    .refine((days) => new Set(days).size === days.length, { error: "must not repeat a weekday" })
    .transform((days) => [...days].sort((a, b) => a - b))
    .optional(),
  feverThresholdC: temperatureSchema.optional(),
  temperatureMinC: temperatureSchema.optional(),
  temperatureMaxC: temperatureSchema.optional(),
  publicCounts: z.boolean({ error: "must be true or false" }).optional(),
});
export type AttendanceSettingsPatch = z.infer<typeof attendanceSettingsPatchSchema>;
