import { z } from "zod";
import type { ErrorCode } from "../../common/error-codes.ts";
import { idSchema } from "../../common/vote.ts";
import type { RegistersConfig } from "../config.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ADMIN_CALLER,
  ANY_ROUTE,
  adminSecurity,
  JSON_BODY,
  json,
  KIOSK_CALLER,
  kioskSecurity,
  notModified,
  type RouteDescriptions,
  teacherSecurity,
} from "../openapi/route-parts.ts";
import {
  completeSchema,
  completionAnswerSchema,
  createTeacherSchema,
  groupStatsAnswerSchema,
  issuedTeacherAnswerSchema,
  overdueListAnswerSchema,
  overdueQuerySchema,
  registerDocumentAnswerSchema,
  schoolStatsAnswerSchema,
  statsQuerySchema,
  teacherAnswerSchema,
  teacherListAnswerSchema,
} from "./register-schemas.ts";

const school = z.object({ schoolId: idSchema });
const register = { path: z.object({ pollId: idSchema }) };
const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});
const admin = { tags: ["registers"], security: adminSecurity };
/** The reads a teacher shares with the admins: its own school's only. */
const adminOrTeacher = { tags: ["registers"], security: [...adminSecurity, ...teacherSecurity] };

/** An admin's or a teacher's bearer token missing or wrong (a teacher passes: no 403). */
const READER: ErrorCode[] = ["unauthorized", "rate_limited"];

/** The lesson registers (docs/registers.md): teachers, the completion, documents, statistics. */
export function registerRouteDescriptions(limits: RegistersConfig): RouteDescriptions {
  const stats = { path: school, query: statsQuerySchema(limits) };
  return {
    "/v1/schools/{schoolId}/teachers": {
      post: {
        ...admin,
        summary: "Issue a teacher's token (`tft_…`, shown this once, no-store)",
        requestParams: { path: school },
        requestBody: body(createTeacherSchema.meta({ id: "CreateTeacher" })),
        responses: {
          "201": json(issuedTeacherAnswerSchema, "the teacher and its token"),
          ...refusals(...ADMIN_CALLER, ...JSON_BODY, ...ANY_ROUTE, "school_not_found"),
        },
      },
      get: {
        ...admin,
        summary: "A school's teachers (never their tokens)",
        requestParams: { path: school },
        responses: {
          "200": json(teacherListAnswerSchema, "the teachers"),
          ...refusals(...ADMIN_CALLER, ...ANY_ROUTE, "invalid_request", "school_not_found"),
        },
      },
    },
    "/v1/schools/{schoolId}/teachers/{teacherId}": {
      delete: {
        ...admin,
        summary: "Revoke a teacher (its token is refused at once)",
        requestParams: { path: z.object({ schoolId: idSchema, teacherId: idSchema }) },
        responses: {
          "200": json(teacherAnswerSchema, "the teacher revoked"),
          ...refusals(
            ...ADMIN_CALLER,
            ...ANY_ROUTE,
            "invalid_request",
            "school_not_found",
            "teacher_not_found",
          ),
        },
      },
    },
    "/v1/registers/{pollId}/complete": {
      post: {
        tags: ["registers"],
        summary:
          "Complete a lesson register (a kiosk, a teacher or an admin): everyone of the group not reported absent is present",
        security: [...kioskSecurity, ...teacherSecurity, ...adminSecurity],
        requestParams: register,
        requestBody: body(completeSchema.meta({ id: "CompleteRegister" })),
        responses: {
          "202": json(
            completionAnswerSchema,
            "published to the queue (or a retry of one that was: `duplicate`)",
          ),
          ...refusals(
            ...KIOSK_CALLER,
            ...JSON_BODY,
            ...ANY_ROUTE,
            "poll_not_allowed",
            "poll_not_found",
            "poll_not_open",
            "poll_archived",
            "nats_unavailable",
            "queue_full",
          ),
        },
      },
    },
    "/v1/registers/{pollId}": {
      get: {
        ...adminOrTeacher,
        summary:
          "A lesson register's document: present, absent, still to be said (ETag, 304, private, no-store)",
        requestParams: register,
        responses: {
          "200": json(registerDocumentAnswerSchema, "the register's published document"),
          ...notModified,
          ...refusals(
            ...READER,
            ...ANY_ROUTE,
            "invalid_request",
            "poll_not_found",
            "register_not_ready",
            "redis_unavailable",
          ),
        },
      },
    },
    "/v1/schools/{schoolId}/groups/{groupId}/stats": {
      get: {
        ...adminOrTeacher,
        summary: "A group's lessons in a range of school-local days, and each person's (no-store)",
        requestParams: {
          path: z.object({ schoolId: idSchema, groupId: idSchema }),
          query: stats.query,
        },
        responses: {
          "200": json(groupStatsAnswerSchema, "the group's totals and its people's"),
          ...refusals(...READER, ...ANY_ROUTE, "invalid_request", "school_not_found"),
        },
      },
    },
    "/v1/schools/{schoolId}/registers/stats": {
      get: {
        ...adminOrTeacher,
        summary: "A school's lessons in a range of school-local days, and each group's (no-store)",
        requestParams: stats,
        responses: {
          "200": json(schoolStatsAnswerSchema, "the school's totals and its groups'"),
          ...refusals(...READER, ...ANY_ROUTE, "invalid_request", "school_not_found"),
        },
      },
    },
    "/v1/schools/{schoolId}/registers": {
      get: {
        ...admin,
        summary:
          "The registers not completed by `endsAt` + REGISTER_COMPLETION_GRACE_MS, oldest first",
        requestParams: { path: school, query: overdueQuerySchema },
        responses: {
          "200": json(overdueListAnswerSchema, "the overdue registers"),
          ...refusals(...ADMIN_CALLER, ...ANY_ROUTE, "invalid_request", "school_not_found"),
        },
      },
    },
  };
}
