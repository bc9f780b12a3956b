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
