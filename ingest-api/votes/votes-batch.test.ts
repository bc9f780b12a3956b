import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import {
  createKiosk,
  createPoll,
  expectError,
  isoFromNow,
  issueFields,
  issueFor,
  minutes,
  type TestKiosk,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import {
  type StreamMessage,
  streamMessageCount,
  streamMessages,
} from "../../test-support/streams.ts";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface StoredVote {
  eventId: string;
  pollId: string;
  optionId: string;
  kioskId: string;
}

describe("POST /v1/votes/batch", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;

  const batch = (body: unknown) =>
    request(h.app)
      .post("/v1/votes/batch")
      .set(kiosk.auth)
      .send(body as object);
  const messages = () => streamMessages(h.config.natsUrl, h.names.streamName);
  /** Messages published since `before` was taken. */
  const newMessages = async (before: StreamMessage[]) => {
    const seen = new Set(before.map((m) => m.seq));
    return (await messages()).filter((m) => !seen.has(m.seq));
  };
  const votesOf = (m: StreamMessage) => (m.body as { votes: StoredVote[] }).votes;
  const conflictMetric = async () => {
    return metricSample(await h.metrics(), "tallyflow_votes_total", { status: "conflict" }) ?? 0;
  };

  before(async () => {
    h = await startIngestHarness({ MAX_BATCH_ITEMS: "5", MAX_BATCH_BODY_BYTES: "2048" });
    await createPoll(h.app, {
      id: "lunch",
      options: [
        { id: "pizza", label: "Pizza" },
        { id: "salad", label: "Salad" },
      ],
    });
    await createPoll(h.app, { id: "dessert" });
    await createPoll(h.app, {
      id: "closed",
      opensAt: isoFromNow(-minutes(300)),
      closesAt: isoFromNow(-minutes(200)),
    });
    await createPoll(h.app, { id: "archived" });
    await request(h.app)
      .patch("/v1/polls/archived")
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    kiosk = await createKiosk(h.app, "k1");
  });
  after(() => h?.close());

  test("good and bad items: per-item results in input order, good ones published", async () => {
    const before = await messages();
    const e0 = randomUUID();
    const e1 = randomUUID();
    const e3 = randomUUID();
    const res = await batch({
      votes: [
        { eventId: e0, pollId: "lunch", optionId: "pizza" },
        { eventId: e1, pollId: "lunch", optionId: "soup" },
        { pollId: "lunch", castAt: "noon" },
        { eventId: e3, pollId: "nope", optionId: "pizza" },
        { pollId: "lunch", optionId: "salad" },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, 2);
    assert.equal(res.body.duplicates, 0);
    assert.equal(res.body.rejected, 3);
    const results = res.body.results as Record<string, unknown>[];
    assert.deepEqual(
      results.map((r) => [r.index, r.status]),
      [
        [0, "accepted"],
        [1, "rejected"],
        [2, "rejected"],
        [3, "rejected"],
        [4, "accepted"],
      ],
    );
    assert.deepEqual(results[0], { index: 0, eventId: e0, status: "accepted" });
    assert.deepEqual(results[1], {
      index: 1,
      eventId: e1,
      status: "rejected",
      error: {
        status: 422,
        code: "unknown_option",
        message: 'optionId "soup" is not an option of poll "lunch"',
        details: { field: "votes.1.optionId", optionCount: 2 },
      },
    });
    const invalid = results[2] as { eventId: unknown; error: Record<string, unknown> };
    assert.equal(invalid.eventId, null);
    assert.equal(invalid.error.status, 400);
    assert.equal(invalid.error.code, "invalid_request");
    const issues = (invalid.error.details as { issues: { field: string }[] }).issues;
    assert.deepEqual(issues.map((i) => i.field).sort(), ["votes.2.castAt", "votes.2.optionId"]);
    const unknownPoll = results[3] as { eventId: unknown; error: Record<string, unknown> };
    assert.equal(unknownPoll.eventId, e3);
    assert.equal(unknownPoll.error.status, 404);
    assert.equal(unknownPoll.error.code, "poll_not_found");
    const generated = results[4] as { eventId: string };
    assert.match(generated.eventId, UUID_V7);

    // One message for the poll, holding exactly the accepted votes, in input order.
    const published = await newMessages(before);
    assert.equal(published.length, 1);
    const message = published[0]!;
    assert.equal(message.subject, `${h.names.subjectPrefix}.lunch`);
    assert.match(message.msgId ?? "", /^batch-/);
    assert.deepEqual(
      votesOf(message).map((v) => [v.eventId, v.optionId, v.kioskId]),
      [
        [e0, "pizza", "k1"],
        [generated.eventId, "salad", "k1"],
      ],
    );
  });

  test("the same eventId twice in one batch: the second is a duplicate, published once", async () => {
    const before = await messages();
    const eventId = randomUUID();
    const res = await batch({
      votes: [
        { eventId, pollId: "lunch", optionId: "pizza" },
        { eventId, pollId: "lunch", optionId: "pizza" },
      ],
    }).expect(200);
    assert.deepEqual(res.body, {
      accepted: 1,
      duplicates: 1,
      rejected: 0,
      results: [
        { index: 0, eventId, status: "accepted" },
        { index: 1, eventId, status: "duplicate" },
      ],
    });
    const published = await newMessages(before);
    assert.equal(published.length, 1);
    assert.deepEqual(
      votesOf(published[0]!).map((v) => v.eventId),
      [eventId],
    );
  });

  test("the same eventId for another vote of the poll in one batch: 409 event_id_conflict naming votes.N.eventId; in another poll, another event", async () => {
    const before = await messages();
    const conflictsBefore = await conflictMetric();
    const eventId = randomUUID();
    const res = await batch({
      votes: [
        { eventId, pollId: "lunch", optionId: "pizza" },
        { eventId, pollId: "lunch", optionId: "salad" },
        { eventId, pollId: "dessert", optionId: "yes" },
        { eventId, pollId: "lunch", optionId: "pizza" },
        { eventId, pollId: "lunch", optionId: "pizza", voterId: "v1" },
      ],
    }).expect(200);
    const conflict = (index: number) => ({
      index,
      eventId,
      status: "rejected",
      error: {
        status: 409,
        code: "event_id_conflict",
        message: `eventId "${eventId}" is already used by votes.0 of this batch for another option or voter of the poll; a retry must resend the same vote, a new vote needs a new eventId`,
        details: { field: `votes.${index}.eventId`, conflictsWith: "votes.0" },
      },
    });
    // An event is its poll and eventId (migration 047): dessert's is another event.
    assert.deepEqual(res.body, {
      accepted: 2,
      duplicates: 1,
      rejected: 2,
      results: [
        { index: 0, eventId, status: "accepted" },
        conflict(1),
        { index: 2, eventId, status: "accepted" },
        { index: 3, eventId, status: "duplicate" },
        conflict(4),
      ],
    });
    const published = await newMessages(before);
    assert.deepEqual(
      published
        .flatMap((m) => votesOf(m).map((v) => [v.eventId, v.pollId, v.optionId]))
        .sort((a, b) => a[1]!.localeCompare(b[1]!)),
      [
        [eventId, "dessert", "yes"],
        [eventId, "lunch", "pizza"],
      ],
    );
    assert.equal((await conflictMetric()) - conflictsBefore, 2);
  });

  test("resending the identical batch answers duplicate for each item and publishes nothing", async () => {
    const votes = [
      { eventId: randomUUID(), pollId: "lunch", optionId: "pizza" },
      { eventId: randomUUID(), pollId: "lunch", optionId: "soup" },
      { eventId: randomUUID(), pollId: "dessert", optionId: "yes" },
    ];
    const first = await batch({ votes }).expect(200);
    assert.deepEqual(
      first.body.results.map((r: { status: string }) => r.status),
      ["accepted", "rejected", "accepted"],
    );
    const before = await messages();
    const again = await batch({ votes }).expect(200);
    assert.equal(again.body.accepted, 0);
    assert.equal(again.body.duplicates, 2);
    assert.equal(again.body.rejected, 1);
    assert.deepEqual(
      again.body.results.map((r: { eventId: string; status: string }) => [r.eventId, r.status]),
      [
        [votes[0]!.eventId, "duplicate"],
        [votes[1]!.eventId, "rejected"],
        [votes[2]!.eventId, "duplicate"],
      ],
    );
    assert.deepEqual(await newMessages(before), []);
  });

  test("votes of two polls in one batch: one message per poll, results in input order", async () => {
    const before = await messages();
    const ids = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const res = await batch({
      votes: [
        { eventId: ids[0], pollId: "lunch", optionId: "pizza" },
        { eventId: ids[1], pollId: "dessert", optionId: "yes" },
        { eventId: ids[2], pollId: "lunch", optionId: "salad" },
        { eventId: ids[3], pollId: "dessert", optionId: "no" },
      ],
    }).expect(200);
    assert.deepEqual(res.body, {
      accepted: 4,
      duplicates: 0,
      rejected: 0,
      results: ids.map((eventId, index) => ({ index, eventId, status: "accepted" })),
    });
    const published = await newMessages(before);
    assert.equal(published.length, 2);
    const bySubject = new Map(published.map((m) => [m.subject, votesOf(m)]));
    assert.deepEqual(
      bySubject.get(`${h.names.subjectPrefix}.lunch`)?.map((v) => [v.eventId, v.optionId]),
      [
        [ids[0], "pizza"],
        [ids[2], "salad"],
      ],
    );
    assert.deepEqual(
      bySubject.get(`${h.names.subjectPrefix}.dessert`)?.map((v) => [v.eventId, v.optionId]),
      [
        [ids[1], "yes"],
        [ids[3], "no"],
      ],
    );
  });

  test("items for closed or archived polls are rejected with their 409", async () => {
    const res = await batch({
      votes: [
        { pollId: "closed", optionId: "yes" },
        { pollId: "archived", optionId: "yes" },
      ],
    }).expect(200);
    assert.deepEqual(
      res.body.results.map((r: { error?: { status: number; code: string } }) => [
        r.error?.status,
        r.error?.code,
      ]),
      [
        [409, "poll_closed"],
        [409, "poll_archived"],
      ],
    );
  });

  test("a castAt ahead of the server beyond the skew (a fast kiosk clock) is stored at the receive time, never refused", async () => {
    const before = await messages();
    const eventId = randomUUID();
    const res = await batch({
      votes: [
        { eventId, pollId: "lunch", optionId: "pizza", castAt: isoFromNow(minutes(2 * 24 * 60)) },
      ],
    }).expect(200);
    assert.deepEqual(res.body.results, [
      { index: 0, eventId, status: "accepted", castAtClamped: true },
    ]);
    const [vote] = (await messages())
      .slice(before.length)
      .flatMap(
        (m) =>
          (m.body as { votes: { eventId: string; castAt: string; receivedAt: string }[] }).votes,
      );
    assert.equal(vote?.eventId, eventId);
    assert.equal(vote?.castAt, vote?.receivedAt, "castAt clamped to the receive time");
  });

  test("items that are not vote objects are rejected, named by their index", async () => {
    const before = await messages();
    const res = await batch({
      votes: [42, null, "vote", { pollId: "lunch", optionId: "pizza", x: 1 }],
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.rejected, 4);
    const fields = res.body.results.map(
      (r: { eventId: unknown; error: { details: { issues: { field: string }[] } } }) => [
        r.eventId,
        r.error.details.issues.map((i) => i.field),
      ],
    );
    assert.deepEqual(fields, [
      [null, ["votes.0"]],
      [null, ["votes.1"]],
      [null, ["votes.2"]],
      [null, ["votes.3.x"]],
    ]);
    assert.deepEqual(await newMessages(before), []);
  });

  test("MAX_BATCH_ITEMS votes are accepted; one more is 413 batch_too_large", async () => {
    const vote = () => ({ pollId: "dessert", optionId: "yes" });
    const full = await batch({ votes: Array.from({ length: 5 }, vote) });
    assert.equal(full.status, 200, full.text);
    assert.equal(full.body.accepted, 5);

    const before = await messages();
    const over = await batch({ votes: Array.from({ length: 6 }, vote) });
    const error = expectError(over, 413, "batch_too_large");
    assert.deepEqual(error.details, { maxItems: 5 });
    assert.deepEqual(await newMessages(before), []);
  });

  test("a body over MAX_BATCH_BODY_BYTES is 413 body_too_large", async () => {
    const res = await batch({
      votes: [{ pollId: "lunch", optionId: "pizza", voterId: "v".repeat(2_100) }],
    });
    const error = expectError(res, 413, "body_too_large");
    assert.deepEqual(error.details, { limitBytes: 2048 });
    assert.equal(error.message, "body is larger than 2048 bytes (MAX_BATCH_BODY_BYTES)");
  });

  test("a body that is not {votes: [...]} is 400 naming votes", async () => {
    for (const body of [
      {},
      { vote: [{ pollId: "lunch", optionId: "pizza" }] },
      { votes: { pollId: "lunch", optionId: "pizza" } },
      { votes: "all of them" },
      { votes: null },
      [{ pollId: "lunch", optionId: "pizza" }],
    ]) {
      const res = await batch(body);
      assert.deepEqual(issueFields(res), ["votes"], JSON.stringify(body));
    }
    for (const text of ["null", '"votes"', "7"]) {
      const res = await request(h.app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .set("Content-Type", "application/json")
        .send(text);
      assert.deepEqual(issueFields(res), ["votes"], text);
    }
  });

  test("a field beside votes is refused, naming it, and nothing is published", async () => {
    const before = await streamMessageCount(h.config.natsUrl, h.names.streamName);
    const res = await batch({ votes: [{ pollId: "lunch", optionId: "pizza" }], kioskId: "k2" });
    assert.deepEqual(issueFields(res), ["kioskId"]);
    assert.equal(issueFor(res, "kioskId").message, "is not a known field");
    assert.equal(await streamMessageCount(h.config.natsUrl, h.names.streamName), before);
  });

  test("an empty votes array is 400", async () => {
    const res = await batch({ votes: [] });
    assert.deepEqual(issueFields(res), ["votes"]);
    assert.equal(res.body.error.details.issues[0].message, "must hold at least one vote");
  });

  test("malformed JSON is 400, a body that is not JSON is 415", async () => {
    const malformed = await request(h.app)
      .post("/v1/votes/batch")
      .set(kiosk.auth)
      .set("Content-Type", "application/json")
      .send('{"votes": [');
    expectError(malformed, 400, "malformed_json");
    const plain = await request(h.app)
      .post("/v1/votes/batch")
      .set(kiosk.auth)
      .set("Content-Type", "text/csv")
      .send("lunch,pizza");
    expectError(plain, 415, "unsupported_media_type");
  });

  test("a batch needs a kiosk token", async () => {
    const res = await request(h.app)
      .post("/v1/votes/batch")
      .send({ votes: [{ pollId: "lunch", optionId: "pizza" }] });
    expectError(res, 401, "unauthorized");
  });
});
