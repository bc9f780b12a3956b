import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstream } from "@nats-io/jetstream";
import request from "supertest";
import type { StoredVote } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { eventually } from "../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../test-support/api.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { drainPollPurges } from "../test-support/poll-purges.ts";
import { writerEnv } from "../test-support/service-env.ts";
import { assertRollupsMatchVotes, countVotes, queryNumber } from "../test-support/stored-votes.ts";
import { deleteStreams, withJetStream } from "../test-support/streams.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { pendingMessages } from "../test-support/writer-test-bed.ts";
import { sortByPollIncarnation } from "./poll-incarnations.ts";
import { storeBatch } from "./store-batch.ts";

// A poll archived and deleted while its votes still wait in the stream (the writer
// stopped, or behind): the votes must not come back as orphans, nor count in a new poll
// created later with the same id. They are kept in rejected_votes (poll_deleted) instead.

describe("poll deleted while its votes are still in the stream", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  let writer: InProcessWriter | undefined;
  const oldVotes: string[] = [];
  const newVotes: string[] = [];

  const vote = async (pollId: string, optionId = "yes"): Promise<string> => {
    const res = await request(h.app).post("/v1/votes").set(kiosk.auth).send({ pollId, optionId });
    assert.equal(res.status, 202, res.text);
    return res.body.eventId as string;
  };
  const voteBatch = async (pollId: string, n: number): Promise<string[]> => {
    const votes = Array.from({ length: n }, (_, i) => ({ pollId, optionId: i % 2 ? "yes" : "no" }));
    const res = await request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, n, res.text);
    return (res.body.results as { eventId: string }[]).map((r) => r.eventId);
  };
  const archiveAndDelete = async (pollId: string) => {
    await request(h.app)
      .patch(`/v1/polls/${pollId}`)
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    await request(h.app).delete(`/v1/polls/${pollId}`).set(ADMIN).expect(200);
  };
  const pending = () =>
    withJetStream(h.config.natsUrl, (jsm) =>
      pendingMessages(jsm, h.names.streamName, h.names.consumerName),
    );
  const rejectedForDeletedPolls = async () =>
    (
      await h.db.pool.query<{ event_id: string }>(
        "select event_id from rejected_votes where reason = 'poll_deleted' order by event_id",
      )
    ).rows.map((r) => r.event_id);
  const pollDeletedMetric = async () =>
    (await writer!.metrics.rows.get()).values.find((v) => v.labels.outcome === "poll_deleted")
      ?.value ?? 0;

  before(async () => {
    h = await startIngestHarness();
    kiosk = await createKiosk(h.app, "k1");
  });

  after(async () => {
    await writer?.close();
    await deleteStreams(h.config.natsUrl, [`${h.names.streamName}_MAXDELIVER`]).catch(() => {});
    await h?.close();
  });

  test("re-created under the same id: the old votes are not counted, and are accounted for", async () => {
    // The writer is not running: every vote below waits in the stream.
    const first = await createPoll(h.app, { id: "town" });
    oldVotes.push(await vote("town"), await vote("town", "no"), ...(await voteBatch("town", 4)));
    await createPoll(h.app, { id: "gone" });
    oldVotes.push(await vote("gone"), ...(await voteBatch("gone", 2)));
    await archiveAndDelete("town");
    await archiveAndDelete("gone");

    // The id is taken until the deleted poll's rows are purged (migration 031).
    const early = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "town",
        title: "town",
        options: first.options.map(({ id, label }) => ({ id, label })),
      });
    expectError(early, 409, "poll_purge_pending");
    await drainPollPurges(h.db.pool);
    const second = await createPoll(h.app, { id: "town" });
    assert.deepEqual(second.options, first.options);
    newVotes.push(await vote("town"), ...(await voteBatch("town", 3)));

    writer = await startWriterInProcess(writerEnv(h.names, h.db.url));
    await eventually("every message handled", async () => (await pending()) === 0, {
      timeoutMs: 30_000,
    });
    await eventually(
      "the old votes accounted for",
      async () => (await rejectedForDeletedPolls()).length === oldVotes.length,
    );

    const stored = await h.db.pool.query<{ event_id: string; poll_id: string }>(
      "select event_id, poll_id from votes order by event_id",
    );
    assert.deepEqual(
      stored.rows,
      [...newVotes].sort().map((eventId) => ({ event_id: eventId, poll_id: "town" })),
    );
    assert.equal(await assertRollupsMatchVotes(h.db.pool), newVotes.length);
    assert.equal(
      await queryNumber(h.db.pool, "select count(*) from poll_changes where poll_id = 'gone'"),
      0,
      "nothing was marked changed for the deleted poll",
    );
    assert.deepEqual(await rejectedForDeletedPolls(), [...oldVotes].sort());
    assert.equal(await pollDeletedMetric(), oldVotes.length);
    assert.equal(await queryNumber(h.db.pool, "select count(*) from dead_letters"), 0);
  });

  test("a message from before incarnations is judged by whether its poll exists", async () => {
    // What an API without pollIncarnation published: still decodes.
    const legacy = (pollId: string): StoredVote => makeVote({ pollId, optionId: "yes" });
    const kept = legacy("town");
    const dropped = legacy("gone");
    await withJetStream(h.config.natsUrl, async (_jsm, nc) => {
      for (const v of [kept, dropped])
        await jetstream(nc).publish(
          voteSubject(h.config.subjectPrefix, v.pollId),
          Buffer.from(JSON.stringify({ v: 1, votes: [v] })),
        );
    });
    await eventually("both handled", async () =>
      (await rejectedForDeletedPolls()).includes(dropped.eventId),
    );
    await eventually("nothing pending", async () => (await pending()) === 0);
    assert.equal(
      await queryNumber(h.db.pool, "select count(*) from votes where event_id = $1", [
        kept.eventId,
      ]),
      1,
    );
    assert.equal(await countVotes(h.db.pool), newVotes.length + 1);
    await assertRollupsMatchVotes(h.db.pool);
  });

  test("the staging path drops a stale incarnation too", async () => {
    const incarnation = await queryNumber(
      h.db.pool,
      "select incarnation from polls where id = 'town'",
    );
    const stale = { ...makeVote({ pollId: "town", optionId: "no" }), pollIncarnation: 1 };
    assert.notEqual(incarnation, 1);
    const current = {
      ...makeVote({ pollId: "town", optionId: "no" }),
      pollIncarnation: incarnation,
    };
    // The same vote twice in one batch: only the staging path takes that.
    const batch = [stale, current, current].map((v, i) => ({ ...v, streamSeq: 90_000 + i }));
    const before = await countVotes(h.db.pool);
    const result = await storeBatch(h.db.pool, h.names.streamName, batch, []);
    assert.deepEqual(result, {
      received: 3,
      inserted: 1,
      rejected: 0,
      duplicates: 1,
      conflicts: 0,
      pollDeleted: 1,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });
    assert.equal(await countVotes(h.db.pool), before + 1);
    assert.ok((await rejectedForDeletedPolls()).includes(stale.eventId));
    await assertRollupsMatchVotes(h.db.pool);
  });

  test("a delete waits for a batch of its poll being written; the purge removes what it stored", async () => {
    await createPoll(h.app, { id: "racing" });
    const incarnation = await queryNumber(
      h.db.pool,
      "select incarnation from polls where id = 'racing'",
    );
    await request(h.app).patch("/v1/polls/racing").set(ADMIN).send({ archived: true }).expect(200);
    const client = await h.db.pool.connect();
    try {
      await client.query("begin");
      const v = {
        ...makeVote({ pollId: "racing", optionId: "yes" }),
        pollIncarnation: incarnation,
      };
      const sorted = await sortByPollIncarnation(client, [{ ...v, streamSeq: 1 }]);
      assert.equal(sorted.kept.length, 1);
      const deleting = h.registry.deletePoll("racing", null);
      const database = new URL(h.db.url).pathname.slice(1);
      await eventually("the delete waits for the batch's lock", async () => {
        const waiting = await queryNumber(
          h.db.pool,
          "select count(*) from pg_stat_activity where datname = $1 and wait_event_type = 'Lock'",
          [database],
        );
        return waiting > 0;
      });
      await client.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
         values ($1, 'racing', 'yes', 'k1', now(), now(), 1)`,
        [v.eventId],
      );
      await client.query("commit");
      await deleting;
    } finally {
      client.release();
    }
    assert.equal(
      await queryNumber(h.db.pool, "select count(*) from poll_purges where poll_id = 'racing'"),
      1,
      "queued for the purge",
    );
    await drainPollPurges(h.db.pool);
    assert.equal(
      await queryNumber(h.db.pool, "select count(*) from votes where poll_id = 'racing'"),
      0,
      "the vote committed before the delete went with the poll",
    );
  });
});
