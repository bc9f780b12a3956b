import assert from "node:assert/strict";
import type { Express } from "express";
import request, { type Response } from "supertest";
import { type ErrorCode, statusOf } from "../common/error-codes.ts";
import type { Poll } from "../common/registry-types.ts";
import { eventually } from "../harness/waiting.ts";
import { ADMIN, type IngestHarness } from "./ingest.ts";

// Helpers shared by the ingest API tests: fixtures made through the real API and the
// error-body contract.

export interface ErrorBody {
  code: string;
  message: string;
  details?: unknown;
}

/**
 * Asserts the response is the API's error shape `{"error": {code, message, details?}}`
 * with this status and code, and that nothing internal (a stack trace) leaked.
 */
export function expectError(res: Response, status: number, code: ErrorCode): ErrorBody {
  // The test's expectation must agree with the one table of codes, and so must the answer.
  assert.equal(statusOf(code), status, `the code table gives ${code} status ${statusOf(code)}`);
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text}`);
  assert.match(String(res.headers["content-type"]), /^application\/json/);
  assert.deepEqual(Object.keys(res.body), ["error"], `error body: ${res.text}`);
  const error = res.body.error as ErrorBody;
  assert.equal(error.code, code, `error body: ${res.text}`);
  assert.equal(typeof error.message, "string");
  assert.ok(error.message.length > 0, "error message is empty");
  for (const key of Object.keys(error))
    assert.ok(["code", "message", "details"].includes(key), `unexpected error key "${key}"`);
  assert.doesNotMatch(res.text, /stack|\n\s+at |node_modules|\.ts:\d+/i, "internals leaked");
  return error;
}

/** The fields named in a 400 invalid_request's `details.issues`. */
export function issueFields(res: Response): string[] {
  const error = expectError(res, 400, "invalid_request");
  const details = error.details as { issues: { field: string; message: string }[] };
  assert.ok(Array.isArray(details.issues), `no issues in ${res.text}`);
  return details.issues.map((i) => i.field);
}

/** The issue for one field of a 400 invalid_request (fails if the field is not named). */
export function issueFor(res: Response, field: string): { field: string; message: string } {
  const error = expectError(res, 400, "invalid_request");
  const { issues } = error.details as { issues: { field: string; message: string }[] };
  const issue = issues.find((i) => i.field === field);
  assert.ok(issue, `no issue for "${field}" in ${res.text}`);
  return issue;
}

export interface TestKiosk {
  id: string;
  token: string;
  /** Headers to send as this kiosk. */
  auth: { Authorization: string };
}

export async function createKiosk(app: Express, id: string, name = `Kiosk ${id}`) {
  const res = await request(app).post("/v1/kiosks").set(ADMIN).send({ id, name });
  assert.equal(res.status, 201, res.text);
  const token = res.body.token as string;
  return { id, token, auth: { Authorization: `Bearer ${token}` } } satisfies TestKiosk;
}

export interface PollInput {
  id: string;
  title?: string;
  options?: { id: string; label: string }[];
  timeZone?: string;
  opensAt?: string | null;
  closesAt?: string | null;
  resultsVisibility?: "live" | "after_close";
  oneVotePerVoter?: boolean;
}

export async function createPoll(app: Express, input: PollInput): Promise<Poll> {
  const body = {
    title: `Poll ${input.id}`,
    options: [
      { id: "yes", label: "Yes" },
      { id: "no", label: "No" },
    ],
    ...input,
  };
  const res = await request(app).post("/v1/polls").set(ADMIN).send(body);
  assert.equal(res.status, 201, res.text);
  return res.body as Poll;
}

export const minutes = (n: number) => n * 60_000;

/** An ISO timestamp `offsetMs` from now. */
export function isoFromNow(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}

/**
 * Waits until the harness's registry cache is LISTENing, so that a change made directly in
 * Postgres afterwards reaches the API through NOTIFY (tests that rely on this push the
 * periodic reload out with a long REGISTRY_REFRESH_MS).
 */
export async function listenerReady(h: IngestHarness): Promise<void> {
  await eventually("the registry cache LISTENs", async () => {
    const { rowCount } = await h.db.pool.query(
      `select 1 from pg_stat_activity
       where datname = current_database() and query ilike 'listen tallyflow_registry'`,
    );
    return rowCount ? true : undefined;
  });
}
