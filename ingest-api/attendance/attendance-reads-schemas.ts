import { z } from "zod";
import type { AttendanceReadsConfig } from "../config.ts";
import { groupIdSchema, once, pageAfterSchema, pageLimitSchema } from "../people/people-schemas.ts";
import type { PeriodQuery } from "./attendance-period.ts";
import { dateRangeSchema, localDaySchema } from "./holidays-schemas.ts";

// The query strings of the attendance reads.

/** `GET …/attendance?period=week|month&date=[&group=][&limit=][&after=]`. */
export function periodQuerySchema(limits: Pick<AttendanceReadsConfig, "pageDefault" | "pageMax">) {
  return z
    .strictObject({
      period: once('"week" or "month"').pipe(
        z.enum(["week", "month"], { error: 'must be "week" or "month"' }),
      ),
      date: localDaySchema,
      group: once("a group id").pipe(groupIdSchema).optional(),
      limit: pageLimitSchema(limits.pageMax).optional(),
      after: pageAfterSchema.optional(),
    })
    .transform(
      (q): PeriodQuery => ({
        period: q.period,
        date: q.date,
        group: q.group,
        limit: q.limit ?? limits.pageDefault,
        after: q.after,
      }),
    );
}

/** `GET …/people/:personId/attendance?from=&to=`. */
export const personDaysQuerySchema = (maxDays: number) =>
  dateRangeSchema(maxDays, "ATTENDANCE_RANGE_MAX_DAYS");

// Answers of the attendance reads.

const periodStatusSchema = z.enum(["present", "absent"]);

export const periodPageAnswerSchema = z.strictObject({
  schoolId: z.string(),
  period: z.enum(["week", "month"]),
  date: z.iso.date(),
  from: z.iso.date(),
  to: z.iso.date(),
  through: z.iso.date().nullable(),
  schoolDays: z.int(),
  minPresentDaysPct: z.number(),
  group: z.string().nullable(),
  items: z.array(
    z.strictObject({
      id: z.string(),
      name: z.string().nullable(),
      groups: z.array(z.string()),
      presentDays: z.int(),
      schoolDays: z.int(),
      share: z.number(),
      status: periodStatusSchema,
    }),
  ),
  next: z.string().nullable(),
});

export const personAttendanceAnswerSchema = z.strictObject({
  schoolId: z.string(),
  personId: z.string(),
  name: z.string().nullable(),
  from: z.iso.date(),
  to: z.iso.date(),
  days: z.array(
    z.strictObject({
      date: z.iso.date(),
      schoolDay: z.boolean(),
      minutes: z.number(),
      present: z.boolean(),
      inNow: z.boolean(),
      autoClosed: z.boolean(),
      late: z.boolean(),
      fever: z.boolean(),
      maxTemperatureC: z.number().nullable(),
      anomalies: z.int(),
      firstIn: z.iso.datetime({ offset: true }).nullable(),
      lastOut: z.iso.datetime({ offset: true }).nullable(),
      events: z.int(),
    }),
  ),
  summary: z.strictObject({
    through: z.iso.date().nullable(),
    schoolDays: z.int(),
    presentDays: z.int(),
    share: z.number(),
    status: periodStatusSchema,
  }),
});
