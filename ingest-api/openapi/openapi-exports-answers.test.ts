import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request, { type Response, type Test } from "supertest";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers, operationsOf } from "../../test-support/openapi-answers.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { exportRouteDescriptions } from "../exports/exports-openapi.ts";
import type { OpenApiDocument } from "./openapi-document.ts";

// The CSV exports' real answers held to /openapi.json (test-support/openapi-answers.ts), as
// openapi-answers.test.ts holds the rest: each file, and the refusals each route answers
// (a bad query, another school's poll or school, no credential). Every operation the
// exports describe must be answered here.

describe("the exports' answers match /openapi.json", () => {
  let h: IngestHarness;
  let answers: OpenApiAnswers;
  let north: TestSchoolAdmin;
  let south: TestSchoolAdmin;
  let pollId: string;

  const call = async (path: string, prepare: (t: Test) => Test = (t) => t): Promise<Response> =>
    answers.check("GET", path, await prepare(request(h.app).get(path)));
  const as = (auth: Record<string, string>) => (t: Test) => t.set(auth);
  const expect = (res: Response, status: number, code?: string) => {
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 500)}`);
    if (code !== undefined) assert.equal(res.body.error.code, code);
    return res;
  };

  before(async () => {
    h = await startIngestHarness();
    const doc = await request(h.app).get("/openapi.json");
    answers = new OpenApiAnswers(doc.body as OpenApiDocument);
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
    north = await issueSchoolAdmin(h.app, "north");
    south = await issueSchoolAdmin(h.app, "south");
    const made = await request(h.app)
      .post("/v1/polls")
      .set(north.auth)
      .send({ id: "lunch", title: "Lunch", options: [{ id: "a", label: "A" }] });
    assert.equal(made.status, 201, made.text);
    pollId = made.body.id;
    // Two stored votes and their rollup, as the writer would keep them.
    await h.db.pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       values ($1, $3, 'a', 'k', now(), now(), 1), ($2, $3, 'a', 'k', now(), now(), 2)`,
      [randomUUID(), randomUUID(), pollId],
    );
    await h.db.pool.query(
      `insert into vote_rollups (poll_id, option_id, bucket_start, count)
       values ($1, 'a', rollup_bucket_start(now()), 2)`,
      [pollId],
    );
  });
  after(() => h?.close());

  test("a poll's results and votes", async () => {
    const results = `/v1/polls/${pollId}/results.csv`;
    const totals = expect(await call(results, as(north.auth)), 200);
    assert.equal(totals.text, "option_id,option_label,votes\na,A,2\n");
    const buckets = expect(await call(`${results}?by=bucket`, as(ADMIN)), 200);
    assert.match(buckets.text, /^bucket_start,option_id,option_label,votes\n\d{4}-.*Z,a,A,2\n$/);
    expect(await call(`${results}?by=hour`, as(north.auth)), 400, "invalid_request");
    expect(await call(results, as(south.auth)), 404, "poll_not_found");
    expect(await call(results), 401, "unauthorized");

    const votes = `/v1/polls/${pollId}/votes.csv`;
    const all = expect(await call(votes, as(north.auth)), 200);
    assert.equal(all.text.trim().split("\n").length, 3);
    expect(await call("/v1/polls/bad%20id/votes.csv", as(north.auth)), 400, "invalid_request");
    expect(await call(votes, as(south.auth)), 404, "poll_not_found");
    expect(await call(votes), 401, "unauthorized");
  });

  test("a school's attendance", async () => {
    const path = "/v1/schools/north/attendance.csv?from=2026-03-02&to=2026-03-06";
    const file = expect(await call(path, as(north.auth)), 200);
    assert.equal(
      file.text,
      "date,person_id,name,school_day,minutes,first_in,last_out,status,flags,max_temperature_c\n",
    );
    expect(
      await call("/v1/schools/north/attendance.csv?from=2026-03-02", as(north.auth)),
      400,
      "invalid_request",
    );
    expect(await call(path, as(south.auth)), 404, "school_not_found");
    expect(await call(path), 401, "unauthorized");
  });

  test("every operation the exports describe was answered here", () => {
    const called = new Set([...answers.covered].map((c) => c.split(" ").slice(0, 2).join(" ")));
    const missed = operationsOf(exportRouteDescriptions({ personRangeMaxDays: 1 })).filter(
      (op) => !called.has(op),
    );
    assert.deepEqual(missed, [], "export operations of the document no request here exercised");
  });
});
