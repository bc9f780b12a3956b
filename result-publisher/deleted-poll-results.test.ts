import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { resultsKeys } from "../common/results-contract.ts";
import { createPoll, expectError } from "../test-support/api.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { drainPollPurges } from "../test-support/poll-purges.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";

// The published results of a deleted poll are the publisher's to remove (the API deletes
// only the poll): the API answers 404 at once from its registry, and the publisher's next
// run (one interval) removes the keys.

describe("results of a deleted poll", () => {
  let p: ResultsPipeline;
  const keysIn = async (pollId: string) => {
    const keys = resultsKeys(p.h.names.redisKeyPrefix, pollId);
    return p.h.redis.exists([keys.json, keys.png, keys.version]);
  };
  const remove = async (pollId: string) => {
    await request(p.h.app)
      .patch(`/v1/polls/${pollId}`)
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    await request(p.h.app).delete(`/v1/polls/${pollId}`).set(ADMIN).expect(200);
    // Its votes, as a writer's background purge removes them (migration 031).
    await drainPollPurges(p.h.db.pool);
  };

  before(async () => {
    p = await startResultsPipeline();
  });
  after(() => p?.close());

  test("404 poll_not_found at once from the API; the keys are gone after the next run", async () => {
    await createPoll(p.h.app, { id: "gone" });
    await createPoll(p.h.app, { id: "stays" });
    await p.voteBatch([
      { pollId: "gone", optionId: "yes" },
      { pollId: "stays", optionId: "no" },
    ]);
    await p.stored(2);
    await p.publisher.run();
    await request(p.h.app).get("/v1/polls/gone/results").expect(200);
    assert.equal(await keysIn("gone"), 3, "json, png and version published");

    await remove("gone");
    for (const path of ["results", "results.png", "events"])
      expectError(await request(p.h.app).get(`/v1/polls/gone/${path}`), 404, "poll_not_found");

    const run = await p.publisher.run();
    assert.deepEqual(run.removed, ["gone"]);
    assert.equal(await keysIn("gone"), 0, "the publisher removed what it published");
    assert.equal(await keysIn("stays"), 3, "another poll's results stay");
    assert.equal((await p.visible("stays")).totalVotes, 1);
  });

  test("deleted while no publisher led: the next leader removes the keys after its first run", async () => {
    await createPoll(p.h.app, { id: "unseen" });
    await p.vote("unseen", "yes");
    await p.stored(2); // "gone" took its vote with it
    await p.publisher.run();
    assert.equal(await keysIn("unseen"), 3);

    // The running publisher (RARE_CRON) never runs again: no run sees the poll go.
    await remove("unseen");
    const next = await p.restartPublisher();
    const first = await next.firstRun;
    assert.ok(first, "the new publisher led and ran");
    assert.deepEqual(first.removed, ["unseen"]);
    assert.equal(await keysIn("unseen"), 0, "no results outlive their poll");
    assert.equal(await keysIn("stays"), 3, "a live poll's results stay");
    assert.deepEqual((await next.run()).removed, [], "found once");
  });

  test("created again before the next run: the old poll's results are not served as the new one's", async () => {
    await createPoll(p.h.app, { id: "again", title: "First" });
    await p.vote("again", "yes");
    await p.stored(2); // "stays" and this one: the others went with their polls
    await p.publisher.run();
    const first = await request(p.h.app).get("/v1/polls/again/results").expect(200);
    assert.equal(first.body.title, "First");

    await remove("again");
    await createPoll(p.h.app, { id: "again", title: "Second" });
    assert.equal(await keysIn("again"), 3, "the first poll's keys, until the next run");
    for (const path of ["results", "results.png"])
      expectError(await request(p.h.app).get(`/v1/polls/again/${path}`), 503, "results_not_ready");

    await p.publisher.run();
    const second = await request(p.h.app).get("/v1/polls/again/results").expect(200);
    assert.equal(second.body.title, "Second");
    assert.equal(second.body.totalVotes, 0);
    await request(p.h.app).get("/v1/polls/again/results.png").expect(200);
  });
});
