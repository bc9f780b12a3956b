import type { ApiPaths } from "./api-types.ts";

// The API's shapes the outbox sends and reads, taken from the types generated from
// /openapi.json (api-types.ts): when the API changes what it takes or answers, the outbox's
// code stops compiling instead of drifting. Types only: nothing of this reaches a browser.

type VoteBatch = ApiPaths["/v1/votes/batch"]["post"];

/** One vote as POST /v1/votes and each item of POST /v1/votes/batch take it. */
export type ApiVote = VoteBatch["requestBody"]["votes"][number];

/** The body of POST /v1/votes/batch. */
export type BatchBody = VoteBatch["requestBody"];

/** The 200 answer of POST /v1/votes/batch: one item per vote, in input order. */
export type BatchAnswer = VoteBatch["responses"]["200"];

/** One vote's outcome in a batch answer. */
export type BatchItemAnswer = BatchAnswer["results"][number];

/** The server's error for one refused item. */
export type RejectedItemError = Extract<BatchItemAnswer, { status: "rejected" }>["error"];

/** What POST /v1/kiosk/heartbeat takes, and X-Kiosk-Status carries. */
export type HeartbeatBody = ApiPaths["/v1/kiosk/heartbeat"]["post"]["requestBody"];
