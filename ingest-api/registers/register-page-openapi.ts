import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ADMIN_CALLER,
  ANY_ROUTE,
  adminSecurity,
  htmlPage,
  JSON_BODY,
  json,
  type RouteDescriptions,
  teacherSecurity,
} from "../openapi/route-parts.ts";
import {
  registerRosterAnswerSchema,
  signedInTeacherAnswerSchema,
  signInLinkAnswerSchema,
  teacherDayAnswerSchema,
  teacherSignInSchema,
} from "./register-page-schemas.ts";

const tags = ["registers"];

/** The register page and what it reads (docs/registers.md, "The register page"). */
export const registerPageRouteDescriptions: RouteDescriptions = {
  "/v1/schools/{schoolId}/teachers/{teacherId}/sign-in-link": {
    post: {
      tags,
      security: adminSecurity,
      summary:
        "A single-use link that signs a teacher in on the register page (no-store); using it replaces the teacher's token",
      requestParams: { path: z.object({ schoolId: idSchema, teacherId: idSchema }) },
      responses: {
        "201": json(signInLinkAnswerSchema, "the link and its expiry"),
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
  "/v1/teachers/sign-in": {
    post: {
      tags,
      summary:
        "Exchange a sign-in link's code for a new token of its teacher (the code is the credential)",
      requestBody: {
        required: true,
        content: {
          "application/json": { schema: teacherSignInSchema.meta({ id: "TeacherSignIn" }) },
        },
      },
      responses: {
        "200": json(signedInTeacherAnswerSchema, "the teacher's credential, shown once (no-store)"),
        ...refusals(...JSON_BODY, ...ANY_ROUTE, "sign_in_link_invalid"),
      },
    },
  },
  "/v1/teacher": {
    get: {
      tags,
      security: teacherSecurity,
      summary: "The teacher and its school's lesson registers of today (private, no-store)",
      responses: {
        "200": json(teacherDayAnswerSchema, "the teacher's day"),
        ...refusals("unauthorized", ...ANY_ROUTE),
      },
    },
  },
  "/v1/registers/{pollId}/roster": {
    get: {
      tags,
      security: [...adminSecurity, ...teacherSecurity],
      summary:
        "A lesson register's group as it is now: ids, and names for the school's own admins and teachers (private, no-store)",
      requestParams: { path: z.object({ pollId: idSchema }) },
      responses: {
        "200": json(registerRosterAnswerSchema, "the register and its group's people"),
        ...refusals("unauthorized", ...ANY_ROUTE, "invalid_request", "poll_not_found"),
      },
    },
  },
  "/register": { get: htmlPage("Register page: take a lesson register (teachers; works offline)") },
};
