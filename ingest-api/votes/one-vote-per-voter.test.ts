import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { PrivateNatsServer } from "../../harness/nats-servers.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { drainPollPurges } from "../../test-support/poll-purges.ts";
import { streamMessages } from "../../test-support/streams.ts";

// Polls created with oneVotePerVoter: true take one vote per voterId at ingest (Redis).
// A retry of the same vote (same eventId) is a duplicate, not a second vote.

describe("one vote per voter", () => {
  let nats: PrivateNatsServer | undefined;
  let h: IngestHarness | undefined;
  let kiosk: TestKiosk;
  let otherKiosk: TestKiosk;

  const api = () => h!;
  const vote = (pollId: string, body: Record<string, unknown>, as: TestKiosk = kiosk) =>
    request(api().app)
      .post("/v1/votes")
      .set(as.auth)
      .send({ pollId, optionId: "yes", ...body });
  const batch = (votes: Record<string, unknown>[]) =>
    request(api().app).post("/v1/votes/batch").set(kiosk.auth).send({ votes });
  /** Voter entries Redis holds for a poll. */
  const voterEntries = async (pollId: string) => {
    let entries = 0;
    for await (const keys of api().redis.scanIterator({
      MATCH: `${api().names.redisKeyPrefix}voters:${pollId}:*`,
    }))
      for (const key of keys) entries += await api().redis.hLen(key);
    return entries;
  };
  const published = async (eventId: string) =>
    (await streamMessages(api().config.natsUrl, api().names.streamName)).filter((m) =>
      (m.body as { votes: { eventId: string }[] }).votes.some((v) => v.eventId === eventId),
    ).length;
  const expectAlreadyVoted = (res: request.Response) => {
    const error = expectError(res, 409, "already_voted");
    assert.deepEqual(error.details, { field: "voterId" });
  };

  before(async () => {
    nats = await PrivateNatsServer.create();
    h = await startIngestHarness({ NATS_URL: nats.url, PUBLISH_TIMEOUT_MS: "500" });
    for (const id of [
      "council",
      "board",
      "race",
      "batched",
      "released",
      "archived",
      "reborn",
      "names",
    ])
      await createPoll(h.app, { id, oneVotePerVoter: true });
    await createPoll(h.app, { id: "open", oneVotePerVoter: false });
    kiosk = await createKiosk(h.app, "booth-1");
    otherKiosk = await createKiosk(h.app, "booth-2");
  });
  after(async () => {
    try {
      await h?.close();
    } finally {
      await nats?.destroy();
    }
  });

  test("a second vote by the same voter is 409 already_voted, from any kiosk", async () => {
    const first = await vote("council", { voterId: "alice", eventId: randomUUID() });
    assert.equal(first.status, 202, first.text);
    assert.equal(first.body.status, "accepted");

    const second = randomUUID();
    expectAlreadyVoted(
      await vote("council", { voterId: "alice", eventId: second, optionId: "no" }),
    );
    expectAlreadyVoted(await vote("council", { voterId: "alice" }, otherKiosk));
    assert.equal(await published(second), 0);
    // Another voter is not affected.
    assert.equal((await vote("council", { voterId: "bob" })).status, 202);
  });

  test("resending the same eventId is 202 duplicate, not 409", async () => {
    const eventId = randomUUID();
    const body = { voterId: "carol", eventId };
    assert.deepEqual((await vote("council", body)).body, { eventId, status: "accepted" });
    const again = await vote("council", body);
    assert.equal(again.status, 202, again.text);
    assert.deepEqual(again.body, { eventId, status: "duplicate" });
    assert.equal(await published(eventId), 1);
  });

  test("the rule is per poll: a voter may vote once in each poll", async () => {
    assert.equal((await vote("council", { voterId: "dave" })).status, 202);
    assert.equal((await vote("board", { voterId: "dave" })).status, 202);
    expectAlreadyVoted(await vote("board", { voterId: "dave" }));
  });

  test("concurrent votes by one voter with different eventIds: exactly one is accepted", async () => {
    const eventIds = Array.from({ length: 6 }, () => randomUUID());
    const attempts = await Promise.all(
      eventIds.map((eventId, i) =>
        vote("race", { voterId: "eve", eventId, optionId: i % 2 ? "yes" : "no" }),
      ),
    );
    assert.deepEqual(attempts.map((r) => r.status).sort(), [202, 409, 409, 409, 409, 409]);
    for (const res of attempts) if (res.status === 409) expectAlreadyVoted(res);
    const winner = attempts.findIndex((r) => r.status === 202);
    assert.deepEqual(attempts[winner]!.body, { eventId: eventIds[winner], status: "accepted" });
    // Only the winner reached the stream.
    const counts = await Promise.all(eventIds.map(published));
    assert.deepEqual(
      counts,
      eventIds.map((_, i) => (i === winner ? 1 : 0)),
    );
  });

  test("votes without a voterId are all accepted", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await vote("council", {});
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.status, "accepted");
    }
  });

  test("a poll without the rule accepts repeated votes by one voter", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await vote("open", { voterId: "frank", eventId: randomUUID() });
      assert.equal(res.status, 202, res.text);
      assert.equal(res.body.status, "accepted");
    }
    assert.equal(await voterEntries("open"), 0);
  });

  test("in a batch, a voter's second vote is rejected and a resent batch is all duplicates", async () => {
    assert.equal((await vote("batched", { voterId: "grace" })).status, 202);
    const votes = [
      { pollId: "batched", optionId: "yes", voterId: "heidi", eventId: randomUUID() },
      { pollId: "batched", optionId: "no", voterId: "heidi", eventId: randomUUID() },
      { pollId: "batched", optionId: "no", voterId: "grace", eventId: randomUUID() },
      { pollId: "batched", optionId: "yes", voterId: "ivan", eventId: randomUUID() },
    ];
    const res = await batch(votes);
    assert.equal(res.status, 200, res.text);
    const results = res.body.results as {
      status: string;
      error?: { status: number; code: string };
    }[];
    assert.deepEqual(
      results.map((r) => [r.status, r.error?.code]),
      [
        ["accepted", undefined],
        ["rejected", "already_voted"],
        ["rejected", "already_voted"],
        ["accepted", undefined],
      ],
    );
    assert.deepEqual(results[1], {
      index: 1,
      eventId: votes[1]!.eventId,
      status: "rejected",
      error: {
        status: 409,
        code: "already_voted",
        message: 'voter has already voted in poll "batched"',
        details: { field: "votes.1.voterId" },
      },
    });

    const again = await batch(votes).expect(200);
    assert.deepEqual(
      again.body.results.map((r: { status: string; error?: { code: string } }) => [
        r.status,
        r.error?.code,
      ]),
      [
        ["duplicate", undefined],
        ["rejected", "already_voted"],
        ["rejected", "already_voted"],
        ["duplicate", undefined],
      ],
    );
    // A single resend of a vote that went in through the batch is not a second vote either.
    expectAlreadyVoted(await vote("batched", { voterId: "heidi", eventId: randomUUID() }));
  });

  test("archiving or deleting a poll clears its voter entries", async () => {
    await vote("archived", { voterId: "judy" }).expect(202);
    await vote("reborn", { voterId: "judy" }).expect(202);
    assert.equal(await voterEntries("archived"), 1);
    assert.equal(await voterEntries("reborn"), 1);

    await request(api().app)
      .patch("/v1/polls/archived")
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    assert.equal(await voterEntries("archived"), 0);

    await request(api().app).delete("/v1/polls/reborn").set(ADMIN).expect(200);
    assert.equal(await voterEntries("reborn"), 0);
    // A new poll under the same id (once the old one's rows are purged) starts with no voters.
    await drainPollPurges(api().db.pool);
    await createPoll(api().app, { id: "reborn", oneVotePerVoter: true });
    assert.equal((await vote("reborn", { voterId: "judy" })).status, 202);
    // Other polls keep theirs.
    expectAlreadyVoted(await vote("council", { voterId: "alice" }));
  });

  test("when publishing fails the claim is released: the voter can vote once NATS is back", async () => {
    const server = nats!;
    const retry = randomUUID();
    await server.stop();
    try {
      await eventually("the API sees NATS down", async () =>
        (await request(api().app).get("/readyz")).status === 503 ? true : undefined,
      );
      const failed = await vote("released", { voterId: "mallory", eventId: randomUUID() });
      expectError(failed, 503, "nats_unavailable");
      assert.equal(await voterEntries("released"), 0, "the claim was kept after a failed publish");
    } finally {
      await server.start();
    }
    // The same voter, with a new vote (a different eventId), once NATS is back.
    const answers: string[] = [];
    const accepted = await eventually(
      "the voter's vote is accepted after NATS restarted",
      async () => {
        const res = await vote("released", { voterId: "mallory", eventId: retry });
        answers.push(res.status === 202 ? "202" : `${res.status} ${res.body.error?.code}`);
        return res.status === 202 ? res : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    // Until then only ever 503, never 409: the failed claim is gone.
    assert.deepEqual(
      answers.slice(0, -1).filter((a) => a !== "503 nats_unavailable"),
      [],
      answers.join(", "),
    );
    assert.deepEqual(accepted.body, { eventId: retry, status: "accepted" });
    assert.equal(await voterEntries("released"), 1);
    expectAlreadyVoted(await vote("released", { voterId: "mallory", eventId: randomUUID() }));
  });

  test("voter ids are trimmed and NFC-normalised, case kept: one voter, not three", async () => {
    const composed = "jos\u00e9";
    const decomposed = "jose\u0301";
    const eventId = randomUUID();
    const first = await vote("names", { voterId: composed, eventId });
    assert.equal(first.status, 202, first.text);
    expectAlreadyVoted(await vote("names", { voterId: ` ${composed}` }));
    expectAlreadyVoted(await vote("names", { voterId: decomposed }));
    expectAlreadyVoted(await vote("names", { voterId: `\t${decomposed}\u00a0` }));
    // Case is kept (badge ids are often case-sensitive): "José" is another voter.
    assert.equal((await vote("names", { voterId: "Jos\u00e9" })).status, 202);
    // The same forms inside one batch: one vote, the others refused.
    const res = await batch([
      { pollId: "names", optionId: "yes", voterId: "  ren\u00e9e", eventId: randomUUID() },
      { pollId: "names", optionId: "no", voterId: "rene\u0301e", eventId: randomUUID() },
    ]);
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(
      (res.body.results as { status: string }[]).map((r) => r.status),
      ["accepted", "rejected"],
    );
    // What travels to the writer (and so voter_ballots and the reports) is the normal form.
    const message = (await streamMessages(api().config.natsUrl, api().names.streamName)).find(
      (m) => (m.body as { votes: { eventId: string }[] }).votes[0]?.eventId === eventId,
    );
    assert.ok(message, "the first vote is in the stream");
    assert.equal((message.body as { votes: { voterId: string }[] }).votes[0]!.voterId, composed);
    // Nothing left after trimming is no voter id.
    const blank = expectError(await vote("names", { voterId: " \u3000 " }), 400, "invalid_request");
    assert.match(blank.message, /^voterId: must not be empty/);
  });
});
