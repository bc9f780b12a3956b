import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import type { ListPageConfig } from "../http/page-cursor.ts";
import { errors } from "../openapi/error-responses.ts";
import {
  adminCaller,
  adminSecurity,
  anyRoute,
  json,
  jsonBodyErrors,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import { schoolListQuerySchema } from "./school-list-query.ts";
import {
  createSchoolAdminSchema,
  createSchoolSchema,
  issuedSchoolAdminAnswerSchema,
  schoolAdminAnswerSchema,
  schoolAdminListAnswerSchema,
  schoolAnswerSchema,
  schoolListAnswerSchema,
  updateSchoolSchema,
} from "./school-schemas.ts";

const school = { path: z.object({ schoolId: idSchema }) };
const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});
const admin = { tags: ["schools"], security: adminSecurity };

/** The schools and their admins (the deployment admin's; a school admin reads its own). */
export const schoolRouteDescriptions = (pages: ListPageConfig): RouteDescriptions => ({
  "/v1/schools": {
    post: {
      ...admin,
      summary: "Create a school",
      requestBody: body(createSchoolSchema.meta({ id: "CreateSchool" })),
      responses: {
        "201": json(schoolAnswerSchema, "the school"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(409),
        ...anyRoute,
      },
    },
    get: {
      ...admin,
      summary:
        "A page of the schools in id order, with their figures if asked (`next` also as a Link header)",
      requestParams: { query: schoolListQuerySchema(pages).in },
      responses: {
        "200": json(schoolListAnswerSchema, "a page of schools"),
        ...adminCaller,
        ...errors(400),
        ...anyRoute,
      },
    },
  },
  "/v1/schools/{schoolId}": {
    get: {
      ...admin,
      summary: "One school (a school admin: its own)",
      requestParams: school,
      responses: {
        "200": json(schoolAnswerSchema, "the school"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
    patch: {
      ...admin,
      summary: "Rename a school or change its time zone",
      requestParams: school,
      requestBody: body(updateSchoolSchema.meta({ id: "UpdateSchool" })),
      responses: {
        "200": json(schoolAnswerSchema, "the school as changed"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404),
        ...anyRoute,
      },
    },
    delete: {
      ...admin,
      summary: "Delete a school with its polls, kiosks and people",
      requestParams: school,
      responses: {
        "200": json(schoolAnswerSchema, "the school deleted"),
        ...adminCaller,
        ...errors(400, 404, 409),
        ...anyRoute,
      },
    },
  },
  "/v1/schools/{schoolId}/admins": {
    post: {
      ...admin,
      summary: "Issue a school admin's token (shown this once, no-store)",
      requestParams: school,
      requestBody: body(createSchoolAdminSchema.meta({ id: "CreateSchoolAdmin" })),
      responses: {
        "201": json(issuedSchoolAdminAnswerSchema, "the admin and its token"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404),
        ...anyRoute,
      },
    },
    get: {
      ...admin,
      summary: "A school's admins (never their tokens)",
      requestParams: school,
      responses: {
        "200": json(schoolAdminListAnswerSchema, "the admins"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
  "/v1/schools/{schoolId}/admins/{adminId}": {
    delete: {
      ...admin,
      summary: "Revoke a school admin",
      requestParams: { path: z.object({ schoolId: idSchema, adminId: idSchema }) },
      responses: {
        "200": json(schoolAdminAnswerSchema, "the admin revoked"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
});
