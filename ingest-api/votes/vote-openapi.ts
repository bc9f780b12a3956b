import { errors } from "../openapi/error-responses.ts";
import {
  anyRoute,
  json,
  jsonBodyErrors,
  kioskCaller,
  kioskSecurity,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import {
  batchAnswerSchema,
  batchBodySchema,
  voteAnswerSchema,
  voteBodySchema,
} from "./vote-schemas.ts";

/** The vote routes as /openapi.json describes them (docs/api.md: Vote rules). */
export const voteRouteDescriptions: RouteDescriptions = {
  "/v1/votes": {
    post: {
      tags: ["votes"],
      summary: "Cast one vote (or check-in/out of an attendance register)",
      security: kioskSecurity,
      requestBody: { required: true, content: { "application/json": { schema: voteBodySchema } } },
      responses: {
        "202": json(voteAnswerSchema, "published to the queue (or a retry of one that was)"),
        ...kioskCaller,
        ...jsonBodyErrors,
        ...errors(403, 404, 409, 422, 503),
        ...anyRoute,
      },
    },
  },
  "/v1/votes/batch": {
    post: {
      tags: ["votes"],
      summary: "Cast many votes (an outbox's flush); each is judged on its own",
      security: kioskSecurity,
      requestBody: { required: true, content: { "application/json": { schema: batchBodySchema } } },
      responses: {
        "200": json(batchAnswerSchema, "each vote's outcome, in input order"),
        ...kioskCaller,
        ...jsonBodyErrors,
        ...errors(409, 503),
        ...anyRoute,
      },
    },
  },
};
