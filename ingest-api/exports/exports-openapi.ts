import { z } from "zod";
import type { ErrorCode } from "../../common/error-codes.ts";
import type { AttendanceReadsConfig } from "../config.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ADMIN_CALLER,
  ANY_ROUTE,
  adminSecurity,
  fileAnswer,
  pathParams,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import {
  ATTENDANCE_COLUMNS,
  attendanceExportQuerySchema,
  BUCKET_RESULTS_COLUMNS,
  RESULTS_COLUMNS,
  resultsQuerySchema,
  VOTES_COLUMNS,
} from "./export-schemas.ts";

// The CSV exports described (docs/console.md, "Exports"). Every answer is a file to save
// (Content-Disposition: attachment) with a header row; text cells that a spreadsheet would
// read as a formula start with an apostrophe.

const READ: ErrorCode[] = [...ADMIN_CALLER, ...ANY_ROUTE];
const exports = { tags: ["exports"], security: adminSecurity };
const poll = pathParams({ pollId: "the poll's id" });
const school = pathParams({ schoolId: "the school's id" });

const csvFile = (columns: readonly string[], what: string) => ({
  ...fileAnswer("text/csv", `${what}; header row ${columns.join(",")}`),
  headers: z.object({
    "Content-Disposition": z.string().meta({ description: "attachment, with the file's name" }),
  }),
});

export function exportRouteDescriptions(
  limits: Pick<AttendanceReadsConfig, "personRangeMaxDays">,
): RouteDescriptions {
  return {
    "/v1/polls/{pollId}/results.csv": {
      get: {
        ...exports,
        summary:
          "A poll's results as CSV: per option (`by=option`, the default) or per option and 10-minute UTC bucket (`by=bucket`: buckets with votes only), from what is stored when the download starts",
        requestParams: { path: poll, query: resultsQuerySchema },
        responses: {
          "200": csvFile(
            RESULTS_COLUMNS,
            `by=option; by=bucket: ${BUCKET_RESULTS_COLUMNS.join(",")} (bucket_start ISO, UTC)`,
          ),
          ...refusals(...READ, "invalid_request", "poll_not_found"),
        },
      },
    },
    "/v1/polls/{pollId}/votes.csv": {
      get: {
        ...exports,
        summary:
          "A poll's stored votes as CSV, in cast order (streamed; the voter ids for the poll's school's own admin only; logged in the audit log)",
        requestParams: { path: poll },
        responses: {
          "200": csvFile(VOTES_COLUMNS, "every vote stored when the download starts"),
          ...refusals(...READ, "invalid_request", "poll_not_found"),
        },
      },
    },
    "/v1/schools/{schoolId}/attendance.csv": {
      get: {
        ...exports,
        summary: `A school's stored person-days from \`from\` to \`to\` (at most ${limits.personRangeMaxDays} days, ATTENDANCE_RANGE_MAX_DAYS) as CSV, by day then person, viewed with the school's rules (status present, in or absent; flags late, fever, auto_closed, anomalies); names for the school's own admin only; logged in the audit log`,
        requestParams: {
          path: school,
          query: attendanceExportQuerySchema(limits.personRangeMaxDays),
        },
        responses: {
          "200": csvFile(ATTENDANCE_COLUMNS, "one row per stored person-day"),
          ...refusals(...READ, "invalid_request", "school_not_found"),
        },
      },
    },
  };
}
