import type { ErrorCode } from "../../common/error-codes.ts";
import { refusals } from "../openapi/error-responses.ts";
import {
  ANY_ROUTE,
  JSON_BODY,
  json,
  KIOSK_CALLER,
  kioskSecurity,
  type RouteDescriptions,
  teacherSecurity,
} from "../openapi/route-parts.ts";
import {
  batchAnswerSchema,
  batchBodySchema,
  voteAnswerSchema,
  voteBodySchema,
} from "./vote-schemas.ts";

/** What stops a vote being queued: the stream, or the one-vote-per-voter check's Redis. */
const VOTE_QUEUE: ErrorCode[] = [
  "nats_unavailable",
  "queue_full",
  "redis_unavailable",
  "voter_claims_rebuilding",
];

/** A kiosk, or a teacher reporting absences in its school's lesson registers (docs/registers.md). */
const security = [...kioskSecurity, ...teacherSecurity];

/** The vote routes as /openapi.json describes them (docs/api.md: Vote rules). */
export const voteRouteDescriptions: RouteDescriptions = {
  "/v1/votes": {
    post: {
      tags: ["votes"],
      summary:
        "Cast one vote (or check-in/out of an attendance register, an absence in a lesson register)",
      security,
      requestBody: { required: true, content: { "application/json": { schema: voteBodySchema } } },
      responses: {
        "202": json(voteAnswerSchema, "published to the queue (or a retry of one that was)"),
        ...refusals(
          ...KIOSK_CALLER,
          ...JSON_BODY,
          ...ANY_ROUTE,
          "poll_not_allowed",
          "teacher_not_allowed",
          "poll_not_found",
          "poll_not_open",
          "poll_closed",
          "poll_archived",
          "already_voted",
          "unknown_option",
          "unknown_person",
          "not_in_group",
          "temperature_out_of_range",
          ...VOTE_QUEUE,
        ),
      },
    },
  },
  "/v1/votes/batch": {
    post: {
      tags: ["votes"],
      summary: "Cast many votes (an outbox's flush); each is judged on its own",
      security,
      requestBody: { required: true, content: { "application/json": { schema: batchBodySchema } } },
      responses: {
        "200": json(batchAnswerSchema, "each vote's outcome, in input order"),
        ...refusals(
          ...KIOSK_CALLER,
          ...JSON_BODY,
          ...ANY_ROUTE,
          "batch_too_large",
          "event_id_conflict",
          ...VOTE_QUEUE,
        ),
      },
    },
  },
};
