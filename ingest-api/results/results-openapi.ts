import { z } from "zod";
import type { ErrorCode } from "../../common/error-codes.ts";
import { idSchema } from "../../common/vote.ts";
import { errors, refusals } from "../openapi/error-responses.ts";
import {
  ANY_ROUTE,
  anyRoute,
  empty,
  fileAnswer,
  json,
  notModified,
  type RouteDescriptions,
} from "../openapi/route-parts.ts";
import {
  publicPollAnswerSchema,
  publicPollListAnswerSchema,
  resultsAnswerSchema,
} from "./results-schemas.ts";

/** What a read of a poll's published results may answer instead (results-http.ts). */
const RESULTS_READ: ErrorCode[] = [
  "poll_not_found",
  "results_hidden",
  "results_not_ready",
  "redis_unavailable",
];

const poll = { path: z.object({ pollId: idSchema }) };
const tags = ["results"];

/** The public read path: results, their chart and events, and the public polls. */
export const resultsRouteDescriptions: RouteDescriptions = {
  "/v1/polls/{pollId}/results": {
    get: {
      tags,
      summary: "A poll's published results (ETag = version, 304)",
      requestParams: poll,
      responses: {
        "200": json(resultsAnswerSchema, "the results document"),
        ...notModified,
        ...refusals(...ANY_ROUTE, ...RESULTS_READ),
      },
    },
  },
  "/v1/polls/{pollId}/results.png": {
    get: {
      tags,
      summary: "The chart of the same version (503 chart_unavailable until drawn)",
      requestParams: poll,
      responses: {
        "200": fileAnswer("image/png", "the chart"),
        ...notModified,
        ...refusals(...ANY_ROUTE, ...RESULTS_READ, "chart_unavailable"),
      },
    },
  },
  "/v1/polls/{pollId}/events": {
    get: {
      tags,
      summary: "Server-Sent Events: each new version of the poll's results",
      requestParams: poll,
      responses: {
        "200": fileAnswer(
          "text/event-stream",
          '`event: results`, `data: {"pollId","version"}` per version, the current first',
        ),
        ...errors(403, 404, 503),
        ...anyRoute,
      },
    },
    head: {
      tags,
      summary: "The event stream's headers, no body",
      requestParams: poll,
      responses: { "200": empty("the stream's headers"), ...errors(404), ...anyRoute },
    },
  },
  "/v1/public/polls": {
    get: {
      tags,
      summary: "One school's non-archived polls (ETag, 304)",
      requestParams: { query: z.object({ schoolId: idSchema.optional() }) },
      responses: {
        "200": json(publicPollListAnswerSchema, "the school and its polls"),
        ...notModified,
        ...refusals(...ANY_ROUTE, "invalid_request", "school_not_found"),
      },
    },
  },
  "/v1/public/polls/{pollId}": {
    get: {
      tags,
      summary: "One poll as anyone may see it (ETag, 304)",
      requestParams: poll,
      responses: {
        "200": json(publicPollAnswerSchema, "the poll"),
        ...notModified,
        ...refusals(...ANY_ROUTE, "poll_not_found"),
      },
    },
  },
};
