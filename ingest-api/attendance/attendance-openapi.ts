import { z } from "zod";
import { idSchema, voterIdSchema } from "../../common/vote.ts";
import type { AttendanceReadsConfig } from "../config.ts";
import { kioskAttendanceAnswerSchema } from "../kiosks/kiosk-schemas.ts";
import { errors, refusals } from "../openapi/error-responses.ts";
import {
  ANY_ROUTE,
  adminCaller,
  adminSecurity,
  anyRoute,
  empty,
  fileAnswer,
  json,
  jsonBodyErrors,
  KIOSK_CALLER,
  kioskSecurity,
  notModified,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import { personIdSchema } from "../people/people-schemas.ts";
import { attendanceSettingsAnswerSchema } from "../schools/school-schemas.ts";
import {
  periodPageAnswerSchema,
  periodQuerySchema,
  personAttendanceAnswerSchema,
  personDaysQuerySchema,
} from "./attendance-reads-schemas.ts";
import { attendanceSettingsPatchSchema } from "./attendance-settings-schemas.ts";
import { dayEventsQuerySchema, dayQuerySchema } from "./day-answers.ts";
import { dayCountsAnswerSchema, dayDocumentAnswerSchema } from "./day-schemas.ts";
import {
  dateRangeSchema,
  holidayAnswerSchema,
  holidayListAnswerSchema,
  localDaySchema,
  putHolidaySchema,
} from "./holidays-schemas.ts";

const school = z.object({ schoolId: idSchema });
const admin = { tags: ["attendance"], security: adminSecurity };
const eventStream = fileAnswer(
  "text/event-stream",
  "`event: attendance`, `data: {schoolId, day, version}` per new version, the current first",
);

/** Attendance: a kiosk's door check, a school's rules, holidays, day documents and reads. */
export function attendanceRouteDescriptions(limits: AttendanceReadsConfig): RouteDescriptions {
  return {
    "/v1/kiosk/people/{personId}/attendance": {
      get: {
        tags: ["kiosks"],
        summary: "A person's state today, after a badge scan at the door (no-store)",
        security: kioskSecurity,
        requestParams: { path: z.object({ personId: voterIdSchema }) },
        responses: {
          "200": json(kioskAttendanceAnswerSchema, "in, out or none, and since when"),
          ...refusals(
            ...KIOSK_CALLER,
            ...ANY_ROUTE,
            "invalid_request",
            "attendance_not_allowed",
            "unknown_person",
            "attendance_state_rebuilding",
            "redis_unavailable",
          ),
        },
      },
    },
    "/v1/schools/{schoolId}/attendance": {
      patch: {
        ...admin,
        summary: "Change the school's presence rules",
        requestParams: { path: school },
        requestBody: {
          required: true,
          content: {
            "application/json": {
              schema: attendanceSettingsPatchSchema.meta({ id: "AttendanceSettingsPatch" }),
            },
          },
        },
        responses: {
          "200": json(attendanceSettingsAnswerSchema, "the school's rules"),
          ...adminCaller,
          ...jsonBodyErrors,
          ...errors(404),
          ...anyRoute,
        },
      },
      get: {
        ...admin,
        summary:
          "Without `period`: the school's day document (ETag, 304). With `period=week|month`: a page of its people's present days (no-store)",
        requestParams: {
          path: school,
          query: periodQuerySchema(limits).in.partial().extend(dayQuerySchema.shape),
        },
        responses: {
          "200": {
            description: "the day document, or (with `period`) a page of the period",
            content: {
              "application/json": {
                schema: z.union([dayDocumentAnswerSchema, periodPageAnswerSchema]),
              },
            },
          },
          ...notModified,
          ...adminCaller,
          ...errors(400, 404, 503),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/attendance/events": {
      get: {
        ...admin,
        summary: "Server-Sent Events: each new version of the school's day documents",
        requestParams: { path: school, query: dayEventsQuerySchema },
        responses: {
          "200": eventStream,
          ...adminCaller,
          ...errors(400, 404, 503),
          ...anyRoute,
        },
      },
      head: {
        ...admin,
        summary: "The event stream's headers, no body",
        requestParams: { path: school, query: dayEventsQuerySchema },
        responses: {
          "200": empty("the stream's headers"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
    "/v1/public/schools/{schoolId}/attendance": {
      get: {
        tags: ["attendance"],
        summary: "The counts-only day document, when the school's publicCounts is on (ETag, 304)",
        requestParams: { path: school, query: dayQuerySchema },
        responses: {
          "200": json(dayCountsAnswerSchema, "the counts"),
          ...notModified,
          ...refusals(
            ...ANY_ROUTE,
            "invalid_request",
            "school_not_found",
            "attendance_not_ready",
            "redis_unavailable",
          ),
        },
      },
    },
    "/v1/schools/{schoolId}/holidays": {
      get: {
        ...admin,
        summary: "The school's holidays in a range",
        requestParams: {
          path: school,
          query: dateRangeSchema(limits.holidaysRangeMaxDays, "HOLIDAYS_RANGE_MAX_DAYS"),
        },
        responses: {
          "200": json(holidayListAnswerSchema, "the holidays"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/holidays/{date}": {
      put: {
        ...admin,
        summary: "Create or rename a holiday",
        requestParams: { path: z.object({ schoolId: idSchema, date: localDaySchema }) },
        requestBody: {
          required: true,
          content: { "application/json": { schema: putHolidaySchema.meta({ id: "PutHoliday" }) } },
        },
        responses: {
          "200": json(holidayAnswerSchema, "renamed"),
          "201": json(holidayAnswerSchema, "created"),
          ...adminCaller,
          ...jsonBodyErrors,
          ...errors(404),
          ...anyRoute,
        },
      },
      delete: {
        ...admin,
        summary: "Delete a holiday",
        requestParams: { path: z.object({ schoolId: idSchema, date: localDaySchema }) },
        responses: {
          "200": json(holidayAnswerSchema, "the holiday deleted"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/people/{personId}/attendance": {
      get: {
        ...admin,
        summary: "A person's days in a range, and the range judged as a period (no-store)",
        requestParams: {
          path: z.object({ schoolId: idSchema, personId: personIdSchema }),
          query: personDaysQuerySchema(limits.personRangeMaxDays),
        },
        responses: {
          "200": json(personAttendanceAnswerSchema, "the person's days"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
  };
}
