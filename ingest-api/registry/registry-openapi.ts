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
import { kioskListQuerySchema, pollListQuerySchema } from "./registry-list-queries.ts";
import {
  createdKioskAnswerSchema,
  createKioskSchema,
  createPollSchema,
  kioskAnswerSchema,
  kioskListAnswerSchema,
  pairingAnswerSchema,
  pollAnswerSchema,
  pollListAnswerSchema,
  updateKioskSchema,
  updatePollSchema,
} from "./registry-schemas.ts";

const byId = { path: z.object({ id: idSchema }) };
const body = (schema: z.ZodType) => ({
  required: true,
  content: { "application/json": { schema } },
});
const admin = { tags: ["registry"], security: adminSecurity };

/** The registry routes (polls and kiosks, admin token), with the configured page sizes. */
export const registryRouteDescriptions = (pages: ListPageConfig): RouteDescriptions => ({
  "/v1/polls": {
    post: {
      ...admin,
      summary: "Create a poll or an attendance register",
      requestBody: body(createPollSchema.meta({ id: "CreatePoll" })),
      responses: {
        "201": json(pollAnswerSchema, "the poll"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404, 409),
        ...anyRoute,
      },
    },
    get: {
      ...admin,
      summary:
        "A page of the polls in creation order (a school admin's own school's only; `next` also as a Link header)",
      requestParams: { query: pollListQuerySchema(pages).in },
      responses: {
        "200": json(pollListAnswerSchema, "a page of polls"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
  "/v1/polls/{id}": {
    get: {
      ...admin,
      summary: "One poll",
      requestParams: byId,
      responses: {
        "200": json(pollAnswerSchema, "the poll"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
    patch: {
      ...admin,
      summary: "Change a poll",
      requestParams: byId,
      requestBody: body(updatePollSchema.meta({ id: "UpdatePoll" })),
      responses: {
        "200": json(pollAnswerSchema, "the poll as changed"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404, 409),
        ...anyRoute,
      },
    },
    delete: {
      ...admin,
      summary: "Delete an archived poll, its votes and rollups",
      requestParams: byId,
      responses: {
        "200": json(pollAnswerSchema, "the poll deleted"),
        ...adminCaller,
        ...errors(400, 404, 409),
        ...anyRoute,
      },
    },
  },
  "/v1/kiosks": {
    post: {
      ...admin,
      summary: "Create a kiosk (its token is shown this once)",
      requestBody: body(createKioskSchema.meta({ id: "CreateKiosk" })),
      responses: {
        "201": json(createdKioskAnswerSchema, "the kiosk and its token"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404, 409),
        ...anyRoute,
      },
    },
    get: {
      ...admin,
      summary:
        "A page of the kiosks and their last status reports, in creation order or by what needs attention first (`next` also as a Link header)",
      requestParams: { query: kioskListQuerySchema(pages).in },
      responses: {
        "200": json(kioskListAnswerSchema, "a page of kiosks"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
  "/v1/kiosks/{id}": {
    patch: {
      ...admin,
      summary: "Rename a kiosk or change the polls it may vote in",
      requestParams: byId,
      requestBody: body(updateKioskSchema.meta({ id: "UpdateKiosk" })),
      responses: {
        "200": json(kioskAnswerSchema, "the kiosk"),
        ...adminCaller,
        ...jsonBodyErrors,
        ...errors(404),
        ...anyRoute,
      },
    },
    delete: {
      ...admin,
      summary: "Revoke a kiosk",
      requestParams: byId,
      responses: {
        "200": json(kioskAnswerSchema, "the kiosk revoked"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
  "/v1/kiosks/{id}/pairing": {
    post: {
      ...admin,
      summary: "A pairing code for a kiosk (no-store)",
      requestParams: byId,
      responses: {
        "201": json(pairingAnswerSchema, "the code, its URL and QR code"),
        ...adminCaller,
        ...errors(400, 404),
        ...anyRoute,
      },
    },
  },
});
