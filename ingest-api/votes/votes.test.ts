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
import { streamMessageCount, streamMessages } from "../../test-support/streams.ts";
import { voteMessageId } from "./message-id.ts";

interface StoredVote {
  eventId: string;
  pollId: string;
  optionId: string;
  kioskId: string;
  voterId?: string;
  castAt: string;
  receivedAt: string;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("POST /v1/votes", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  let otherKiosk: TestKiosk;
  let closedRecently: { closesAt: string };
  let windowed: { opensAt: string };

  const vote = (body: unknown) =>
    request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send(body as object);
  const count = () => streamMessageCount(h.config.natsUrl, h.names.streamName);
  const messageFor = async (eventId: string) => {
    const found = (await streamMessages(h.config.natsUrl, h.names.streamName)).filter(
      (m) => (m.body as { votes: { eventId: string }[] }).votes[0]?.eventId === eventId,
    );
    assert.equal(found.length, 1, `messages with id ${eventId}`);
    return found[0]!;
  };

  before(async () => {
    h = await startIngestHarness({
      MAX_VOTE_BODY_BYTES: "1024",
      LATE_VOTE_GRACE_MS: String(minutes(10)),
      CAST_AT_MAX_SKEW_MS: String(minutes(1)),
    });
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "lunch",
        title: "Lunch",
        options: [
          { id: "pizza", label: "Pizza" },
          { id: "salad", label: "Salad" },
        ],
      })
      .expect(201);
    closedRecently = (await createPoll(h.app, {
      id: "closed-recently",
      opensAt: isoFromNow(-minutes(120)),
      closesAt: isoFromNow(-minutes(5)),
    })) as { closesAt: string };
    await createPoll(h.app, {
      id: "closed-long-ago",
      opensAt: isoFromNow(-minutes(180)),
      closesAt: isoFromNow(-minutes(20)),
    });
    await createPoll(h.app, {
      id: "not-yet-open",
      opensAt: isoFromNow(minutes(60)),
      closesAt: isoFromNow(minutes(120)),
    });
    windowed = (await createPoll(h.app, {
      id: "windowed",
      opensAt: isoFromNow(-minutes(120)),
      closesAt: isoFromNow(minutes(120)),
    })) as { opensAt: string };
    await createPoll(h.app, { id: "old-poll" });
    await request(h.app)
      .patch("/v1/polls/old-poll")
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    kiosk = await createKiosk(h.app, "k1", "Hall");
    otherKiosk = await createKiosk(h.app, "k2", "Lobby");
  });
  after(() => h?.close());

  test("a vote is acknowledged with 202 after JetStream acked it", async () => {
    const res = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "lunch", optionId: "pizza" })
      .expect(202);
    assert.deepEqual(Object.keys(res.body).sort(), ["eventId", "status"]);
    assert.equal(res.body.status, "accepted");
    assert.match(res.body.eventId, UUID_V7);
  });

  test("the published message carries the vote, the kiosk of the token and both clocks", async () => {
    const res = await vote({ pollId: "lunch", optionId: "salad", voterId: "voter 7" }).expect(202);
    const message = await messageFor(res.body.eventId);
    assert.equal(message.subject, `${h.names.subjectPrefix}.lunch`);
    const body = message.body as { v: number; votes: Record<string, string>[] };
    assert.equal(body.v, 1);
    assert.equal(body.votes.length, 1);
    const stored = body.votes[0]!;
    assert.deepEqual(Object.keys(stored).sort(), [
      "castAt",
      "eventId",
      "kioskId",
      "optionId",
      "pollId",
      "pollIncarnation",
      "receivedAt",
      "voterId",
    ]);
    assert.equal(stored.eventId, res.body.eventId);
    // The writer stores the vote only into this incarnation of the poll (migration 007).
    const { rows } = await h.db.pool.query("select incarnation from polls where id = 'lunch'");
    assert.equal(stored.pollIncarnation, rows[0].incarnation);
    assert.equal(stored.pollId, "lunch");
    assert.equal(stored.optionId, "salad");
    assert.equal(stored.kioskId, "k1");
    assert.equal(stored.voterId, "voter 7");
    // Without castAt, the vote was cast when it was received.
    assert.equal(stored.castAt, stored.receivedAt);
    assert.ok(!Number.isNaN(Date.parse(stored.receivedAt!)));
  });

  test("a kiosk-chosen eventId is echoed back; the message id digests the vote's identity", async () => {
    const eventId = "0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b";
    const res = await vote({ eventId, pollId: "lunch", optionId: "pizza" }).expect(202);
    assert.deepEqual(res.body, { eventId, status: "accepted" });
    const message = await messageFor(eventId);
    const stored = (message.body as { votes: StoredVote[] }).votes[0]!;
    assert.equal(stored.eventId, eventId);
    assert.equal(message.msgId, voteMessageId(stored));
    assert.match(message.msgId ?? "", /^vote-[A-Za-z0-9_-]{43}$/);
  });

  test("eventIds are case-insensitive: an upper-case resend is the same vote", async () => {
    const eventId = "0190a5b2-7c3d-7e4f-8a5b-00000000abcd";
    const first = await vote({
      eventId: eventId.toUpperCase(),
      pollId: "lunch",
      optionId: "pizza",
    });
    assert.equal(first.status, 202);
    assert.deepEqual(first.body, { eventId, status: "accepted" });
    const second = await vote({ eventId, pollId: "lunch", optionId: "pizza" }).expect(202);
    assert.deepEqual(second.body, { eventId, status: "duplicate" });
  });

  test("resending the same eventId answers duplicate and leaves one message", async () => {
    const before = await count();
    const body = {
      eventId: "5b0f3c1e-8f0e-4c1a-9a51-1d2f3e4a5b6c",
      pollId: "lunch",
      optionId: "salad",
    };
    const first = await vote(body).expect(202);
    const second = await vote(body).expect(202);
    const third = await vote(body).expect(202);
    assert.deepEqual(first.body, { eventId: body.eventId, status: "accepted" });
    assert.deepEqual(second.body, { eventId: body.eventId, status: "duplicate" });
    assert.deepEqual(third.body, { eventId: body.eventId, status: "duplicate" });
    assert.equal(await count(), before + 1);
  });

  test("a retry with another castAt is the same vote: duplicate, one message", async () => {
    const before = await count();
    const body = { eventId: randomUUID(), pollId: "lunch", optionId: "pizza" };
    await vote({ ...body, castAt: isoFromNow(-minutes(2)) }).expect(202);
    const retry = await vote({ ...body, castAt: isoFromNow(-minutes(1)) }).expect(202);
    assert.deepEqual(retry.body, { eventId: body.eventId, status: "duplicate" });
    assert.equal(await count(), before + 1);
  });

  test("another kiosk, option or voter reusing an eventId is not a duplicate: each is published", async () => {
    // Inside JetStream's duplicate window: the API cannot know what is stored, so each goes
    // on to the writer, which records it as a conflict (batch-writer/event-id-conflicts).
    const eventId = randomUUID();
    const body = { eventId, pollId: "lunch", optionId: "pizza" };
    const first = await vote(body).expect(202);
    assert.equal(first.body.status, "accepted");
    const clashes = [
      request(h.app).post("/v1/votes").set(otherKiosk.auth).send(body),
      vote({ ...body, optionId: "salad" }),
      vote({ ...body, voterId: "voter 9" }),
    ];
    for (const clash of clashes) {
      const res = await clash.expect(202);
      assert.deepEqual(res.body, { eventId, status: "accepted" }, "never answered duplicate");
    }
    const published = (await streamMessages(h.config.natsUrl, h.names.streamName)).filter(
      (m) => (m.body as { votes: StoredVote[] }).votes[0]?.eventId === eventId,
    );
    assert.deepEqual(
      published.map((m) => {
        const v = (m.body as { votes: StoredVote[] }).votes[0]!;
        return [v.kioskId, v.optionId, v.voterId ?? null];
      }),
      [
        ["k1", "pizza", null],
        ["k2", "pizza", null],
        ["k1", "salad", null],
        ["k1", "pizza", "voter 9"],
      ],
    );
    assert.equal(new Set(published.map((m) => m.msgId)).size, 4, "four message ids");
    // The original kiosk's true retry is still a duplicate.
    assert.deepEqual((await vote(body).expect(202)).body, { eventId, status: "duplicate" });
  });

  test("malformed JSON is 400 malformed_json", async () => {
    for (const text of ['{"pollId": "lunch",', "{pollId: lunch}", "", "nul"]) {
      const res = await request(h.app)
        .post("/v1/votes")
        .set(kiosk.auth)
        .set("Content-Type", "application/json")
        .send(text);
      if (text === "") {
        // An empty JSON body parses as an empty object: the vote's fields are missing.
        assert.deepEqual(issueFields(res), ["pollId", "optionId"]);
        continue;
      }
      expectError(res, 400, "malformed_json");
    }
  });

  test("an unknown field is refused, naming the field", async () => {
    const res = await vote({ pollId: "lunch", optionId: "pizza", colour: "red" });
    assert.deepEqual(issueFields(res), ["colour"]);
    assert.equal(issueFor(res, "colour").message, "is not a known field");
  });

  test("the kiosk id cannot be sent in the body: it comes from the token", async () => {
    const res = await vote({ pollId: "lunch", optionId: "pizza", kioskId: "k2" });
    assert.deepEqual(issueFields(res), ["kioskId"]);
  });

  test("a missing pollId is refused as required", async () => {
    const res = await vote({ optionId: "pizza" });
    assert.deepEqual(issueFields(res), ["pollId"]);
    assert.equal(issueFor(res, "pollId").message, "is required");
  });

  test("a field of the wrong type is named with what it must be, not as missing", async () => {
    const res = await vote({ pollId: 42, optionId: "pizza" });
    assert.deepEqual(issueFields(res), ["pollId"]);
    assert.equal(issueFor(res, "pollId").message, "must be a string");
  });

  test("a bad eventId is refused, naming eventId", async () => {
    for (const eventId of ["not-a-uuid", "", "5b0f3c1e8f0e4c1a9a511d2f3e4a5b6c", 12]) {
      const res = await vote({ eventId, pollId: "lunch", optionId: "pizza" });
      assert.deepEqual(issueFields(res), ["eventId"], `eventId ${JSON.stringify(eventId)}`);
    }
  });

  test("a bad castAt is refused, naming castAt", async () => {
    for (const castAt of [
      "yesterday",
      "2026-05-01",
      "2026-05-01T12:00:00", // no time zone
      "2026-02-30T12:00:00Z",
      "0000-01-01T00:00:00Z", // Postgres has no year 0
      1_714_563_600_000,
    ]) {
      const res = await vote({ pollId: "lunch", optionId: "pizza", castAt });
      assert.deepEqual(issueFields(res), ["castAt"], `castAt ${JSON.stringify(castAt)}`);
    }
  });

  test("a bad voterId or optionId is refused, naming the field", async () => {
    for (const [field, value] of [
      ["voterId", ""],
      ["voterId", "x".repeat(129)],
      ["voterId", "line\nbreak"],
      ["voterId", "back\\slash"],
      ["optionId", "has space"],
      ["optionId", null],
    ] as const) {
      const res = await vote({ pollId: "lunch", optionId: "pizza", [field]: value });
      assert.deepEqual(issueFields(res), [field], `${field} ${JSON.stringify(value)}`);
    }
  });

  test("a voterId Postgres would rewrite to U+FFFD is refused, naming voterId", async () => {
    const raw = (bytes: Buffer) =>
      request(h.app)
        .post("/v1/votes")
        .set(kiosk.auth)
        .set("Content-Type", "application/json")
        .serialize((b: Buffer) => b as unknown as string)
        .send(bytes);
    const json = (voterId: string) =>
      Buffer.from(`{"pollId":"lunch","optionId":"pizza","voterId":"${voterId}"}`);
    for (const body of [
      json("\\ud800x"), // a lone surrogate, escaped
      Buffer.concat([json("").subarray(0, -2), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]),
      Buffer.concat([json("").subarray(0, -2), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
    ]) {
      const before = await count();
      const res = await raw(body);
      assert.deepEqual(issueFields(res), ["voterId"], body.toString("latin1"));
      assert.equal(await count(), before, "nothing published");
    }
  });

  test("every bad field is named at once", async () => {
    const res = await vote({ eventId: "x", optionId: 1, castAt: "soon", extra: true });
    assert.deepEqual(issueFields(res).sort(), ["castAt", "eventId", "extra", "optionId", "pollId"]);
  });

  test("a body that is not a JSON object is 400", async () => {
    for (const text of ["null", "[]", '"pizza"', "42", "true"]) {
      const res = await request(h.app)
        .post("/v1/votes")
        .set(kiosk.auth)
        .set("Content-Type", "application/json")
        .send(text);
      assert.deepEqual(issueFields(res), ["body"], text);
    }
  });

  test("a body that is not JSON is 415", async () => {
    const plain = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .set("Content-Type", "text/plain")
      .send('{"pollId":"lunch","optionId":"pizza"}');
    expectError(plain, 415, "unsupported_media_type");
    const form = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .type("form")
      .send({ pollId: "lunch", optionId: "pizza" });
    expectError(form, 415, "unsupported_media_type");
    const none = await request(h.app).post("/v1/votes").set(kiosk.auth);
    expectError(none, 415, "unsupported_media_type");
  });

  test("a body over MAX_VOTE_BODY_BYTES is 413 and publishes nothing", async () => {
    const before = await count();
    const body = JSON.stringify({ pollId: "lunch", optionId: "pizza", voterId: "v".repeat(1_100) });
    const res = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .set("Content-Type", "application/json")
      .send(body);
    const error = expectError(res, 413, "body_too_large");
    assert.deepEqual(error.details, { limitBytes: 1024 });
    assert.equal(error.message, "body is larger than 1024 bytes (MAX_VOTE_BODY_BYTES)");
    assert.equal(await count(), before);
  });

  test("an unknown poll is 404 poll_not_found", async () => {
    const res = await vote({ pollId: "dinner", optionId: "pizza" });
    const error = expectError(res, 404, "poll_not_found");
    assert.match(error.message, /dinner/);
  });

  test("an option the poll does not have is 422 unknown_option, with the option count", async () => {
    const res = await vote({ pollId: "lunch", optionId: "soup" });
    const error = expectError(res, 422, "unknown_option");
    assert.deepEqual(error.details, { field: "optionId", optionCount: 2 });
  });

  test("a vote after the close is 409 poll_closed", async () => {
    // Cast now, after closesAt (still within the late-vote grace): closed.
    const now = await vote({ pollId: "closed-recently", optionId: "yes" });
    const error = expectError(now, 409, "poll_closed");
    assert.deepEqual(error.details, { field: "castAt", closesAt: closedRecently.closesAt });
    // Cast exactly at closesAt: closed (the window is [opensAt, closesAt)).
    const atClose = await vote({
      pollId: "closed-recently",
      optionId: "yes",
      castAt: closedRecently.closesAt,
    });
    expectError(atClose, 409, "poll_closed");
  });

  test("a vote cast before the close but sent after the grace period is 409 poll_closed", async () => {
    const res = await vote({
      pollId: "closed-long-ago",
      optionId: "yes",
      castAt: isoFromNow(-minutes(30)),
    });
    expectError(res, 409, "poll_closed");
  });

  test("a vote cast before the close and sent within the grace period is accepted", async () => {
    const castAt = isoFromNow(-minutes(10));
    const res = await vote({ pollId: "closed-recently", optionId: "no", castAt }).expect(202);
    assert.equal(res.body.status, "accepted");
    const stored = (await messageFor(res.body.eventId)).body as { votes: { castAt: string }[] };
    assert.equal(stored.votes[0]!.castAt, castAt);
  });

  test("a vote before the poll opens is 409 poll_not_open", async () => {
    const early = await vote({ pollId: "not-yet-open", optionId: "yes" });
    expectError(early, 409, "poll_not_open");
    const castBefore = await vote({
      pollId: "windowed",
      optionId: "yes",
      castAt: isoFromNow(-minutes(180)),
    });
    const error = expectError(castBefore, 409, "poll_not_open");
    assert.deepEqual(error.details, { field: "castAt", opensAt: windowed.opensAt });
  });

  test("castAt in the future beyond the allowed clock skew is 400 castAt", async () => {
    const res = await vote({ pollId: "lunch", optionId: "pizza", castAt: isoFromNow(minutes(5)) });
    assert.deepEqual(issueFields(res), ["castAt"]);
    assert.match(issueFor(res, "castAt").message, /future/);
  });

  test("castAt older than CAST_AT_MAX_AGE_MS (a kiosk clock reset to 1970) is 400 castAt", async () => {
    const res = await vote({ pollId: "lunch", optionId: "pizza", castAt: "1970-01-01T00:00:05Z" });
    assert.deepEqual(issueFields(res), ["castAt"]);
    assert.match(issueFor(res, "castAt").message, /within the last 30 days/);
  });

  test("castAt slightly in the future, within the skew, is accepted", async () => {
    const castAt = isoFromNow(30_000);
    const res = await vote({ pollId: "lunch", optionId: "pizza", castAt }).expect(202);
    assert.equal(res.body.status, "accepted");
  });

  test("an old castAt within the poll's window is accepted and kept, normalized to UTC", async () => {
    const castAt = new Date(Date.now() - minutes(90));
    castAt.setUTCMilliseconds(0);
    // The same instant written with a +02:00 offset.
    const local = new Date(castAt.getTime() + minutes(120)).toISOString().slice(0, 19);
    const res = await vote({ pollId: "windowed", optionId: "no", castAt: `${local}+02:00` });
    assert.equal(res.status, 202, res.text);
    const stored = (await messageFor(res.body.eventId)).body as { votes: { castAt: string }[] };
    assert.equal(stored.votes[0]!.castAt, castAt.toISOString());
  });

  test("a vote for an archived poll is 409 poll_archived", async () => {
    const res = await vote({ pollId: "old-poll", optionId: "yes" });
    expectError(res, 409, "poll_archived");
  });

  test("client mistakes never cause a 500", async () => {
    const bodies = [
      '{"pollId":{"$gt":""},"optionId":"pizza"}',
      '{"__proto__":{"pollId":"lunch"},"optionId":"pizza"}',
      '{"constructor":{"prototype":{"x":1}},"pollId":"lunch","optionId":"pizza"}',
      '{"pollId":"lunch","optionId":"pizza","castAt":null}',
      '{"pollId":"lunch","optionId":"pizza","eventId":null}',
      '{"pollId":"lunch","optionId":"pizza","voterId":12345}',
      '{"pollId":["lunch"],"optionId":"pizza"}',
      '{"pollId":"lunch","optionId":"pizza","castAt":"9999-12-31T23:59:59Z"}',
      `{"pollId":"lunch","optionId":"pizza","voterId":"${"\\u0000"}"}`,
      `{"pollId":"${"p".repeat(65)}","optionId":"pizza"}`,
      `${"[".repeat(200)}${"]".repeat(200)}`,
      '{"pollId":"lunch","optionId":"pizza"}{"again":1}',
    ];
    for (const text of bodies) {
      const res = await request(h.app)
        .post("/v1/votes")
        .set(kiosk.auth)
        .set("Content-Type", "application/json")
        .send(text);
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} for ${text}: ${res.text}`);
      expectError(res, res.status, res.body.error.code);
    }
    // A body that says it is gzip but is not.
    const corrupt = await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .set("Content-Type", "application/json")
      .set("Content-Encoding", "gzip")
      .serialize((b: Buffer) => b as unknown as string)
      .send(Buffer.from('{"pollId":"lunch","optionId":"pizza"}'));
    expectError(corrupt, 400, "unreadable_body");
  });

  test("an unknown route is 404 route_not_found in the same error shape", async () => {
    expectError(await request(h.app).get("/v1/votes").set(kiosk.auth), 404, "route_not_found");
    expectError(await request(h.app).post("/v1/vote").set(kiosk.auth), 404, "route_not_found");
  });
});
