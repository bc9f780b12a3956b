import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// Answers stay proportional to requests (issue #11): a rejected item's error does not list
// every option of the poll, nor echo the bulk of what the kiosk sent.

interface Rejected {
  status: string;
  eventId: string | null;
  error: { code: string; message: string; details?: unknown };
}

describe("batch responses proportional to the request", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  const batch = (votes: unknown[]) =>
    request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes });

  before(async () => {
    h = await startIngestHarness();
    await createPoll(h.app, {
      id: "wide",
      options: Array.from({ length: 100 }, (_, i) => ({
        id: `option-with-a-long-id-${String(i).padStart(3, "0")}`,
        label: `Option ${i}`,
      })),
    });
    kiosk = await createKiosk(h.app, "k1");
  });
  after(() => h?.close());

  test("1,000 unknown options of a 100-option poll: under 300 bytes an item, the count not the list", async () => {
    const votes = Array.from({ length: 1_000 }, () => ({ pollId: "wide", optionId: "nope" }));
    const res = await batch(votes);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.equal(res.body.rejected, 1_000);
    const bytes = Buffer.byteLength(res.text);
    assert.ok(bytes < 300 * 1_000, `${bytes} bytes for 1,000 items`);
    const first = res.body.results[0] as Rejected;
    assert.equal(first.error.code, "unknown_option");
    assert.deepEqual(first.error.details, { field: "votes.0.optionId", optionCount: 100 });
  });

  test("unknown fields: three named, each cut to 64 characters, the rest counted", async () => {
    const long = "k".repeat(10_000);
    const item: Record<string, unknown> = { pollId: "wide", optionId: "option-with-a-long-id-000" };
    for (let i = 0; i < 50; i++) item[`${long}${i}`] = 1;
    const res = await batch([item]);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.ok(Buffer.byteLength(res.text) < 1_000, `${Buffer.byteLength(res.text)} bytes`);
    const rejected = res.body.results[0] as Rejected;
    assert.equal(rejected.error.code, "invalid_request");
    const issues = (rejected.error.details as { issues: { field: string; message: string }[] })
      .issues;
    assert.equal(issues.length, 1);
    assert.equal(issues[0]!.message, "is not a known field");
    assert.match(
      issues[0]!.field,
      /^votes\.0\.k{64}…, votes\.0\.k{64}…, votes\.0\.k{64}… \(and 47 more\)$/,
    );
  });

  test("an eventId is echoed when it could be one, not when it is a wall of text", async () => {
    const eventId = randomUUID();
    const res = await batch([
      { eventId, pollId: "wide", optionId: "nope" },
      { eventId: "x".repeat(100_000), pollId: "wide", optionId: "nope" },
      { eventId: "not-a-uuid", pollId: "wide", optionId: "nope" },
    ]);
    assert.equal(res.status, 200, res.text.slice(0, 500));
    assert.ok(Buffer.byteLength(res.text) < 2_000, `${Buffer.byteLength(res.text)} bytes`);
    const results = res.body.results as Rejected[];
    assert.deepEqual(
      results.map((r) => r.eventId),
      [eventId, null, "not-a-uuid"],
    );
    assert.deepEqual(
      results.map((r) => r.error.code),
      ["unknown_option", "invalid_request", "invalid_request"],
    );
  });
});
