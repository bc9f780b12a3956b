import { z } from "zod";
import type { ErrorCode } from "../../common/error-codes.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ADMIN_CALLER,
  ANY_ROUTE,
  adminSecurity,
  json,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import type { DeadLetterConfig } from "./dead-letter-config.ts";
import {
  deadLetterPageAnswerSchema,
  deadLetterQuerySchema,
  replayAllAnswerSchema,
  replayAllQuerySchema,
  replayedAnswerSchema,
} from "./dead-letter-schemas.ts";

/** The deployment admin's only: a school admin's token or session is refused (403). */
const READ: ErrorCode[] = [...ADMIN_CALLER, ...ANY_ROUTE, "deployment_admin_required"];
/** A replay: by a console session without its CSRF token, and NATS not confirming. */
const REPLAY: ErrorCode[] = [...READ, "csrf_failed", "nats_unavailable", "queue_full"];

const tagged = { tags: ["dead letters"], security: adminSecurity };

/** The writer's dead letters: listed and replayed (docs/operations.md, "Dead letters"). */
export function deadLetterRouteDescriptions(config: DeadLetterConfig): RouteDescriptions {
  return {
    "/v1/dead-letters": {
      get: {
        ...tagged,
        summary: "A page of dead letters with why each is there, oldest first (no-store)",
        requestParams: { query: deadLetterQuerySchema(config) },
        responses: {
          "200": json(deadLetterPageAnswerSchema, "the page"),
          ...refusals(...READ, "invalid_request"),
        },
      },
    },
    "/v1/dead-letters/replay": {
      post: {
        ...tagged,
        summary: `Replay the pending dead letters (filtered), oldest first, at most ${config.replayMax} a call (DEAD_LETTERS_REPLAY_MAX)`,
        requestParams: { query: replayAllQuerySchema },
        responses: {
          "200": json(replayAllAnswerSchema, "those replayed, and whether others wait"),
          ...refusals(...REPLAY, "invalid_request"),
        },
      },
    },
    "/v1/dead-letters/{id}/replay": {
      post: {
        ...tagged,
        summary:
          "Publish one dead letter to the votes stream again and mark it replayed (safe to repeat)",
        requestParams: { path: z.object({ id: z.string().meta({ description: "its id" }) }) },
        responses: {
          "200": json(replayedAnswerSchema, "the replay"),
          ...refusals(...REPLAY, "invalid_request", "dead_letter_not_found"),
        },
      },
    },
  };
}
