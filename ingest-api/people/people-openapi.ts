import { z } from "zod";
import { idSchema } from "../../common/vote.ts";
import type { PeopleConfig } from "../config.ts";
import { errors } from "../openapi/error-responses.ts";
import {
  adminCaller,
  adminSecurity,
  anyRoute,
  fileAnswer,
  json,
  jsonBodyErrors,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import {
  erasureAnswerSchema,
  importAnswerSchema,
  importQuerySchema,
  patchPersonSchema,
  peoplePageAnswerSchema,
  peopleQuerySchema,
  personAnswerSchema,
  personIdSchema,
  putPersonSchema,
} from "./people-schemas.ts";

const school = z.object({ schoolId: idSchema });
const person = { path: z.object({ schoolId: idSchema, personId: personIdSchema }) };
const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});
const admin = { tags: ["people"], security: adminSecurity };

/** A school's roster (docs/people.md), with the configured page sizes. */
export function peopleRouteDescriptions(limits: PeopleConfig): RouteDescriptions {
  return {
    "/v1/schools/{schoolId}/people": {
      get: {
        ...admin,
        summary: "A page of the school's people, in id order (no-store)",
        requestParams: { path: school, query: peopleQuerySchema(limits).in },
        responses: {
          "200": json(peoplePageAnswerSchema, "a page"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/people/import": {
      post: {
        ...admin,
        summary: "Upsert a roster CSV (header id,name,groups)",
        requestParams: { path: school, query: importQuerySchema },
        requestBody: {
          required: true,
          content: { "text/csv": { schema: z.string().meta({ description: "UTF-8 CSV" }) } },
        },
        responses: {
          "200": json(importAnswerSchema, "what the import did, and each row's error"),
          ...adminCaller,
          ...jsonBodyErrors,
          ...errors(404, 409),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/people/export": {
      get: {
        ...admin,
        summary: "The active people as a roster CSV (streamed)",
        requestParams: { path: school },
        responses: {
          "200": fileAnswer("text/csv", "the roster"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
    "/v1/schools/{schoolId}/people/{personId}": {
      put: {
        ...admin,
        summary: "Create or replace a person",
        requestParams: person,
        requestBody: body(putPersonSchema.meta({ id: "PutPerson" })),
        responses: {
          "200": json(personAnswerSchema, "replaced"),
          "201": json(personAnswerSchema, "created"),
          ...adminCaller,
          ...jsonBodyErrors,
          ...errors(404),
          ...anyRoute,
        },
      },
      get: {
        ...admin,
        summary: "A person (names for the school's own admin only)",
        requestParams: person,
        responses: {
          "200": json(personAnswerSchema, "the person"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
      patch: {
        ...admin,
        summary: "Change a person",
        requestParams: person,
        requestBody: body(patchPersonSchema.meta({ id: "PatchPerson" })),
        responses: {
          "200": json(personAnswerSchema, "the person as changed"),
          ...adminCaller,
          ...jsonBodyErrors,
          ...errors(404),
          ...anyRoute,
        },
      },
      delete: {
        ...admin,
        summary: "Erase a person (events kept under a pseudonym)",
        requestParams: person,
        responses: {
          "200": json(erasureAnswerSchema, "the erasure"),
          ...adminCaller,
          ...errors(400, 404),
          ...anyRoute,
        },
      },
    },
  };
}
