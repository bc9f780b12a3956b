import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request, { type Response, type Test } from "supertest";
import { v7 as uuidv7 } from "uuid";
import { encodeVoteMessage } from "../../common/vote.ts";
import { voteSubject } from "../../common/votes-stream.ts";
import { eventually } from "../../harness/waiting.ts";
import {
  type InProcessWriter,
  startWriterInProcess,
} from "../../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers, operationsOf } from "../../test-support/openapi-answers.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { writerEnv } from "../../test-support/service-env.ts";
import { deleteStreams } from "../../test-support/streams.ts";
import { makeVote } from "../../test-support/vote-messages.ts";
import type { OpenApiDocument } from "../openapi/openapi-document.ts";
import { deadLetterRouteDescriptions } from "./dead-letter-openapi.ts";

// The dead letters' routes against a real writer: a dead letter is listed with its reason,
// paged and filtered; replayed it is stored once, however often it is replayed; replay-all
// takes the pending ones only; a school admin is refused; each replay is in the audit log.
// Every answer is held to /openapi.json, and every operation the routes describe is called.

type Method = "get" | "post";

describe("dead letters: list and replay", () => {
  let h: IngestHarness;
  let writer: InProcessWriter;
  let answers: OpenApiAnswers;
  let head: TestSchoolAdmin;

  const call = async (method: Method, path: string, prepare: (t: Test) => Test = (t) => t) =>
    answers.check(method.toUpperCase(), path, await prepare(request(h.app)[method](path)));
  const admin = (t: Test) => t.set(ADMIN);
  const expect = (res: Response, status: number, code?: string) => {
    assert.equal(res.status, status, `${res.status}: ${String(res.text ?? "").slice(0, 500)}`);
    if (code !== undefined) assert.equal(res.body.error.code, code);
    return res;
  };
  const storedVotes = async (eventIds: string[]) =>
    (
      await h.db.pool.query<{ n: number }>(
        "select count(*)::int as n from votes where event_id = any($1::uuid[])",
        [eventIds],
      )
    ).rows[0]!.n;

  /** A dead letter as the writer records one: a whole message, or one vote of a batch. */
  const deadLetter = async (
    pollId: string,
    reason: "invalid" | "store_failed" | "max_deliveries",
    item: boolean,
  ) => {
    const vote = makeVote({ pollId, optionId: "pizza" });
    const raw = item ? Buffer.from(JSON.stringify(vote)) : Buffer.from(encodeVoteMessage([vote]));
    const { rows } = await h.db.pool.query<{ id: string }>(
      `insert into dead_letters (stream, stream_seq, item_index, subject, raw, error, deliveries, reason, msg_id)
       values ($1, $2, $3, $4, $5, 'P0001: refused for the test', 1, $6, $7) returning id`,
      [
        h.names.streamName,
        Math.floor(Math.random() * 1e6),
        item ? 0 : -1,
        voteSubject(h.names.subjectPrefix, pollId),
        raw,
        reason,
        uuidv7(),
      ],
    );
    return { id: String(rows[0]!.id), eventId: vote.eventId };
  };

  before(async () => {
    h = await startIngestHarness();
    writer = await startWriterInProcess(
      writerEnv(h.names, h.db.url, { BATCH_LINGER_MS: "50", SHUTDOWN_DEADLINE_MS: "5000" }),
    );
    answers = new OpenApiAnswers(
      (await request(h.app).get("/openapi.json")).body as OpenApiDocument,
    );
    for (const id of ["lunch", "dinner"])
      await request(h.app)
        .post("/v1/polls")
        .set(ADMIN)
        .send({ id, title: id, options: [{ id: "pizza", label: "Pizza" }] })
        .expect(201);
    await createSchool(h.app, "north");
    head = await issueSchoolAdmin(h.app, "north");
  });
  after(async () => {
    await writer?.close();
    if (h) await deleteStreams(h.config.natsUrl, [`${h.names.streamName}_MAXDELIVER`]);
    await h?.close();
  });

  test("listed with its reason, replayed once or twice: stored exactly once", async () => {
    const one = await deadLetter("lunch", "store_failed", false);
    const page = expect(await call("get", "/v1/dead-letters", admin), 200);
    const listed = page.body.deadLetters.find((d: { id: string }) => d.id === one.id);
    assert.ok(listed, page.text);
    assert.equal(listed.reason, "store_failed");
    assert.equal(listed.pollId, "lunch");
    assert.equal(listed.error, "P0001: refused for the test");
    assert.match(listed.raw, new RegExp(one.eventId));
    assert.equal(listed.replayedAt, null);

    const first = expect(await call("post", `/v1/dead-letters/${one.id}/replay`, admin), 200);
    assert.equal(first.body.duplicate, false);
    await eventually(
      "the replayed vote stored",
      async () => (await storedVotes([one.eventId])) === 1,
    );
    // Again (a second operator, a retry): JetStream drops it, the vote counts once.
    const again = expect(await call("post", `/v1/dead-letters/${one.id}/replay`, admin), 200);
    assert.equal(again.body.duplicate, true);
    assert.equal(again.body.seq, first.body.seq);
    // A replay-all after it does not take it again: it is no longer pending.
    const all = expect(await call("post", "/v1/dead-letters/replay?pollId=lunch", admin), 200);
    assert.deepEqual(all.body, { replayed: [], more: false });
    // Time for a repeat the stream let through to be stored (the writer lingers 50 ms).
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(await storedVotes([one.eventId]), 1);

    const pending = expect(await call("get", "/v1/dead-letters", admin), 200);
    assert.ok(!pending.body.deadLetters.some((d: { id: string }) => d.id === one.id));
    const replayed = expect(await call("get", "/v1/dead-letters?state=replayed", admin), 200);
    const marked = replayed.body.deadLetters.find((d: { id: string }) => d.id === one.id);
    assert.ok(marked?.replayedAt, replayed.text);

    // Each replay is an admin change the audit log recorded.
    await eventually("the replays in the audit log", async () => {
      const res = await request(h.app)
        .get(`/v1/audit?action=${encodeURIComponent("POST /v1/dead-letters/:id/replay")}`)
        .set(ADMIN);
      return (
        res.body.entries?.filter((e: { objectId: string }) => e.objectId === one.id).length === 2
      );
    });
  });

  test("paged by keyset, filtered by poll and reason; replay-all takes the pending ones", async () => {
    const letters = [
      await deadLetter("dinner", "invalid", false),
      await deadLetter("dinner", "max_deliveries", true),
      await deadLetter("dinner", "store_failed", true),
      await deadLetter("lunch", "invalid", false),
    ];
    const dinner = letters.slice(0, 3);
    const first = expect(await call("get", "/v1/dead-letters?pollId=dinner&limit=2", admin), 200);
    assert.deepEqual(
      first.body.deadLetters.map((d: { id: string }) => d.id),
      dinner.slice(0, 2).map((l) => l.id),
    );
    assert.equal(first.body.next, dinner[1]!.id);
    const second = expect(
      await call("get", `/v1/dead-letters?pollId=dinner&limit=2&after=${first.body.next}`, admin),
      200,
    );
    assert.deepEqual(
      second.body.deadLetters.map((d: { id: string }) => d.id),
      [dinner[2]!.id],
    );
    assert.equal(second.body.next, null);
    const items = expect(await call("get", "/v1/dead-letters?reason=max_deliveries", admin), 200);
    assert.deepEqual(
      items.body.deadLetters.map((d: { id: string; itemIndex: number }) => [d.id, d.itemIndex]),
      [[dinner[1]!.id, 0]],
    );
    expect(await call("get", "/v1/dead-letters?limit=0", admin), 400, "invalid_request");
    expect(await call("get", "/v1/dead-letters?reason=lost", admin), 400, "invalid_request");
    expect(await call("get", "/v1/dead-letters?after=x", admin), 400, "invalid_request");

    const all = expect(await call("post", "/v1/dead-letters/replay?pollId=dinner", admin), 200);
    assert.deepEqual(
      all.body.replayed.map((r: { id: string }) => r.id),
      dinner.map((l) => l.id),
    );
    assert.equal(all.body.more, false);
    await eventually(
      "dinner's replayed votes stored (a batch's single vote wrapped in its own message)",
      async () => (await storedVotes(dinner.map((l) => l.eventId))) === 3,
    );
    // lunch's stays pending: the filter kept replay-all to dinner.
    const left = expect(await call("get", "/v1/dead-letters?pollId=lunch", admin), 200);
    assert.deepEqual(
      left.body.deadLetters.map((d: { id: string }) => d.id),
      [letters[3]!.id],
    );
    expect(await call("post", "/v1/dead-letters/replay?reason=x", admin), 400, "invalid_request");
  });

  test("the deployment admin's only: a school admin, a stranger, an unknown id", async () => {
    const { id } = await deadLetter("lunch", "invalid", false);
    const asHead = (t: Test) => t.set(head.auth);
    expect(await call("get", "/v1/dead-letters", asHead), 403, "deployment_admin_required");
    expect(
      await call("post", `/v1/dead-letters/${id}/replay`, asHead),
      403,
      "deployment_admin_required",
    );
    expect(await call("post", "/v1/dead-letters/replay", asHead), 403, "deployment_admin_required");
    expect(await call("get", "/v1/dead-letters"), 401, "unauthorized");
    expect(await call("post", "/v1/dead-letters/replay"), 401, "unauthorized");
    expect(await call("post", `/v1/dead-letters/${id}/replay`), 401, "unauthorized");
    expect(
      await call("post", "/v1/dead-letters/999999999/replay", admin),
      404,
      "dead_letter_not_found",
    );
    expect(await call("post", "/v1/dead-letters/abc/replay", admin), 400, "invalid_request");
    const still = await h.db.pool.query("select replayed_at from dead_letters where id = $1", [id]);
    assert.equal(still.rows[0].replayed_at, null, "a refused replay changed nothing");
  });

  test("every operation the dead letters' routes describe was answered here", () => {
    const called = new Set([...answers.covered].map((c) => c.split(" ").slice(0, 2).join(" ")));
    const missed = operationsOf(deadLetterRouteDescriptions(h.config.deadLetters)).filter(
      (op) => !called.has(op),
    );
    assert.deepEqual(missed, [], "dead letter operations no request here exercised");
  });
});
