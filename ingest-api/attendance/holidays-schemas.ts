import { z } from "zod";
import { isLocalDay, type LocalDay } from "../../common/attendance/school-day.ts";
import { titleSchema } from "../registry/registry-schemas.ts";

// What the holidays API and the attendance reads take: school-local calendar dates
// ("YYYY-MM-DD", a real date: 2027-02-30 is refused) and ranges of them, at most a
// configured number of days long.

export const DATE_MESSAGE = 'must be a date "YYYY-MM-DD"';

/** A school-local calendar date, as a path segment or a query parameter (given once). */
export const localDaySchema = z
  .string({ error: `must be given once, as a date "YYYY-MM-DD"` })
  .refine(isLocalDay, { error: DATE_MESSAGE });

/** Days from `from` to `to`, both counted (dates as UTC midnights: no DST in a count). */
export function daysSpanned(from: LocalDay, to: LocalDay): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;
}

/** `?from=&to=`: both required, `to` not before `from`, at most `maxDays` days. */
export function dateRangeSchema(maxDays: number, variable: string) {
  return z
    .strictObject({ from: localDaySchema, to: localDaySchema })
    .superRefine(({ from, to }, ctx) => {
      // Zod runs this even when a date failed above: judge the range of two dates only.
      if (!isLocalDay(from) || !isLocalDay(to)) return;
      if (to < from)
        ctx.addIssue({ code: "custom", path: ["to"], message: "must not be before from" });
      else if (daysSpanned(from, to) > maxDays)
        ctx.addIssue({
          code: "custom",
          path: ["to"],
          message: `must be at most ${maxDays} days from from, both counted (${variable})`,
        });
    });
}

/** `PUT …/holidays/:date`: the holiday's name ("Easter Monday"), which a PUT may change. */
export const putHolidaySchema = z.strictObject({ name: titleSchema });

// Answers of the holidays API.

const holidayFields = { date: z.iso.date(), name: z.string() };

export const holidayAnswerSchema = z.strictObject({ schoolId: z.string(), ...holidayFields });

export const holidayListAnswerSchema = z.strictObject({
  schoolId: z.string(),
  from: z.iso.date(),
  to: z.iso.date(),
  holidays: z.array(z.strictObject(holidayFields)),
});
