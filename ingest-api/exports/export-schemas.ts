import { z } from "zod";
import { dateRangeSchema } from "../attendance/holidays-schemas.ts";
import { once } from "../people/people-schemas.ts";

// What the CSV exports take, and the columns each file has (header row, in this order).

/** `GET /v1/polls/:pollId/results.csv?by=`: totals per option (default), or per 10-minute bucket. */
export const resultsQuerySchema = z.strictObject({
  by: once('"option" or "bucket"')
    .pipe(z.enum(["option", "bucket"], { error: 'must be "option" or "bucket"' }))
    .optional(),
});

/** `GET /v1/schools/:schoolId/attendance.csv?from=&to=`: at most ATTENDANCE_RANGE_MAX_DAYS days. */
export const attendanceExportQuerySchema = (maxDays: number) =>
  dateRangeSchema(maxDays, "ATTENDANCE_RANGE_MAX_DAYS");

export const RESULTS_COLUMNS = ["option_id", "option_label", "votes"] as const;
export const BUCKET_RESULTS_COLUMNS = [
  "bucket_start",
  "option_id",
  "option_label",
  "votes",
] as const;
export const VOTES_COLUMNS = [
  "event_id",
  "option_id",
  "option_label",
  "cast_at",
  "received_at",
  "kiosk_id",
  "voter_id",
  "temperature_c",
] as const;
export const ATTENDANCE_COLUMNS = [
  "date",
  "person_id",
  "name",
  "school_day",
  "minutes",
  "first_in",
  "last_out",
  "status",
  "flags",
  "max_temperature_c",
] as const;
