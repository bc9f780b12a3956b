import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../harness/waiting.ts";
import {
  type InProcessWriter,
  startWriterInProcess,
  writerRows,
} from "../test-support/in-process-writer.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  insertPoll,
  queryNumber,
} from "../test-support/stored-votes.ts";
import { makeVote, publishVotes, type VoteSpec } from "../test-support/vote-messages.ts";
import { createWriterTestBed, type WriterTestBed } from "../test-support/writer-test-bed.ts";
import type { DecodedVote } from "./decode.ts";
import { storeBatch } from "./store-batch.ts";

// An eventId reused in its poll by another kiosk, or for another option or voter, is a
// conflict: kept in conflicting_votes, counted nowhere, never a duplicate. A true retry (same
// kiosk, poll, option and voter; castAt may differ) stays a duplicate. The same eventId in
// another poll is another event (migration 047): a vote of that poll.
describe("batch writer: eventId clashes are conflicts, not duplicates", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;
  let seq = 10_000;

  const decoded = (spec: VoteSpec): DecodedVote => ({ ...makeVote(spec), streamSeq: seq++ });
  const store = (votes: DecodedVote[]) => storeBatch(bed.db.pool, bed.config.streamName, votes, []);
  const conflictsOf = async (eventId: string) =>
    (
      await bed.db.pool.query(
        `select kiosk_id, poll_id, option_id, voter_id from conflicting_votes
         where event_id = $1 order by id`,
        [eventId],
      )
    ).rows;
  const duplicatesCounted = (pollId: string) =>
    queryNumber(
      bed.db.pool,
      "select coalesce(sum(count), 0) from duplicate_counts where poll_id = $1",
      [pollId],
    );
  const rowsMetric = (outcome: string) => writerRows(writer!, outcome);

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(bed.db.pool, "color", ["red", "blue"]);
    await insertPoll(bed.db.pool, "council", ["ann", "bob"], { oneVotePerVoter: true });
    await insertPoll(bed.db.pool, "stream", ["yes", "no"]);
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("another kiosk, option or voter on an eventId stored in the poll is a conflict, kept once", async () => {
    const original = decoded({ pollId: "lunch", optionId: "pizza", kioskId: "k-a", voterId: "v1" });
    assert.equal((await store([original])).inserted, 1);
    const rollups = await queryNumber(bed.db.pool, "select sum(count) from vote_rollups");
    const { eventId } = original;
    const clashes = [
      decoded({ eventId, pollId: "lunch", optionId: "pizza", kioskId: "k-b", voterId: "v1" }),
      decoded({ eventId, pollId: "lunch", optionId: "salad", kioskId: "k-a", voterId: "v1" }),
      decoded({ eventId, pollId: "lunch", optionId: "pizza", kioskId: "k-a" }),
      decoded({ eventId, pollId: "lunch", optionId: "pizza", kioskId: "k-a", voterId: "v2" }),
    ];
    for (const clash of clashes)
      assert.deepEqual(await store([clash]), {
        received: 1,
        inserted: 0,
        rejected: 0,
        duplicates: 0,
        conflicts: 1,
        pollDeleted: 0,
        pastRetention: 0,
        deadLettered: 0,
        personDays: 0,
        path: "staging",
      });
    // Delivered again (a redelivery or a resend): still a conflict, recorded only once.
    const again = await store(clashes.map((c) => ({ ...c, streamSeq: seq++ })));
    assert.equal(again.conflicts, 4);
    assert.equal(again.duplicates, 0);

    assert.deepEqual(await conflictsOf(eventId), [
      { kiosk_id: "k-b", poll_id: "lunch", option_id: "pizza", voter_id: "v1" },
      { kiosk_id: "k-a", poll_id: "lunch", option_id: "salad", voter_id: "v1" },
      { kiosk_id: "k-a", poll_id: "lunch", option_id: "pizza", voter_id: null },
      { kiosk_id: "k-a", poll_id: "lunch", option_id: "pizza", voter_id: "v2" },
    ]);
    assert.equal(await duplicatesCounted("lunch"), 0, "a clash is never a duplicate");
    assert.equal(await queryNumber(bed.db.pool, "select sum(count) from vote_rollups"), rollups);
    const stored = await bed.db.pool.query(
      "select kiosk_id, option_id from votes where event_id = $1",
      [eventId],
    );
    assert.deepEqual(
      stored.rows,
      [{ kiosk_id: "k-a", option_id: "pizza" }],
      "the first vote stays",
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("a true retry with another castAt is a duplicate, counted once per resend", async () => {
    const original = decoded({
      pollId: "lunch",
      optionId: "salad",
      kioskId: "k-c",
      castAt: "2026-03-01T10:00:00.000Z",
    });
    await store([original]);
    const retry = { ...original, castAt: "2026-03-01T10:05:00.000Z", streamSeq: seq++ };
    assert.deepEqual(await store([retry, decoded({ pollId: "lunch", optionId: "pizza" })]), {
      received: 2,
      inserted: 1,
      rejected: 0,
      duplicates: 1,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });
    assert.equal(await duplicatesCounted("lunch"), 1);
    assert.deepEqual(await conflictsOf(original.eventId), []);
    const castAt = await bed.db.pool.query<{ cast_at: Date }>(
      "select cast_at from votes where event_id = $1",
      [original.eventId],
    );
    assert.equal(castAt.rows[0]!.cast_at.toISOString(), original.castAt, "the first castAt wins");
  });

  test("two votes with one new eventId in one batch: the first is stored, the other a conflict", async () => {
    const first = decoded({ pollId: "color", optionId: "red", kioskId: "k-a" });
    const other = {
      ...decoded({ pollId: "color", optionId: "blue", kioskId: "k-b" }),
      eventId: first.eventId,
    };
    const same = { ...first, streamSeq: seq++ };
    const result = await store([first, other, same]);
    assert.deepEqual(result, {
      received: 3,
      inserted: 1,
      rejected: 0,
      duplicates: 1,
      conflicts: 1,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });
    assert.deepEqual(await conflictsOf(first.eventId), [
      { kiosk_id: "k-b", poll_id: "color", option_id: "blue", voter_id: null },
    ]);
    assert.equal(
      await queryNumber(bed.db.pool, "select count(*) from votes where event_id = $1", [
        first.eventId,
      ]),
      1,
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("a clash in a one-vote-per-voter poll claims no ballot: that voter can still vote", async () => {
    const ann = decoded({ pollId: "council", optionId: "ann", kioskId: "k-a", voterId: "alice" });
    assert.equal((await store([ann])).inserted, 1);
    // Kiosk B reuses the eventId for another voter: a conflict, not bob's ballot.
    const clash = {
      ...decoded({ pollId: "council", optionId: "bob", kioskId: "k-b", voterId: "bob" }),
      eventId: ann.eventId,
    };
    const result = await store([clash]);
    assert.equal(result.conflicts, 1);
    assert.equal(result.rejected, 0);
    assert.equal(
      await queryNumber(bed.db.pool, "select count(*) from voter_ballots where voter_id = 'bob'"),
      0,
    );
    const bobsOwn = decoded({ pollId: "council", optionId: "bob", kioskId: "k-b", voterId: "bob" });
    assert.equal((await store([bobsOwn])).inserted, 1, "bob's real vote is counted");

    // Both new, in one batch: both claim a ballot, the one not stored gives it back.
    const carol = decoded({ pollId: "council", optionId: "ann", kioskId: "k-a", voterId: "carol" });
    const dave = {
      ...decoded({ pollId: "council", optionId: "bob", kioskId: "k-b", voterId: "dave" }),
      eventId: carol.eventId,
    };
    const both = await store([carol, dave]);
    assert.equal(both.inserted, 1);
    assert.equal(both.conflicts, 1);
    assert.deepEqual(
      (
        await bed.db.pool.query(
          "select voter_id from voter_ballots where event_id = $1 order by voter_id",
          [carol.eventId],
        )
      ).rows,
      [{ voter_id: "carol" }],
    );
    const davesOwn = decoded({
      pollId: "council",
      optionId: "bob",
      kioskId: "k-b",
      voterId: "dave",
    });
    assert.equal((await store([davesOwn])).inserted, 1, "dave's real vote is counted");
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from rejected_votes"), 0);
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("the same eventId in another poll is another event: a vote of that poll, counted there", async () => {
    const ofPolls = async (eventId: string) =>
      (
        await bed.db.pool.query<{ poll_id: string; option_id: string }>(
          "select poll_id, option_id from votes where event_id = $1 order by poll_id",
          [eventId],
        )
      ).rows.map((r) => `${r.poll_id}:${r.option_id}`);
    const totalOf = (pollId: string) =>
      queryNumber(
        bed.db.pool,
        "select coalesce(sum(count), 0) from vote_rollups where poll_id = $1",
        [pollId],
      );
    const colorBefore = await totalOf("color");
    const dupsBefore = await duplicatesCounted("lunch");
    const colorDupsBefore = await duplicatesCounted("color");
    const lunch = decoded({ pollId: "lunch", optionId: "pizza", kioskId: "k-x", voterId: "v7" });
    const { eventId } = lunch;
    assert.equal((await store([lunch])).inserted, 1);
    // Alone in its batch (the direct COPY): stored, not a unique violation.
    const color = decoded({
      eventId,
      pollId: "color",
      optionId: "red",
      kioskId: "k-x",
      voterId: "v7",
    });
    assert.deepEqual(await store([color]), {
      received: 1,
      inserted: 1,
      rejected: 0,
      duplicates: 0,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "direct",
    });
    // A one-vote-per-voter poll (its voter's first vote: the direct path, claiming the
    // ballot first): stored, and it claims its ballot.
    const council = decoded({
      eventId,
      pollId: "council",
      optionId: "bob",
      kioskId: "k-x",
      voterId: "v7",
    });
    const claimed = await store([council]);
    assert.deepEqual(
      [claimed.path, claimed.inserted, claimed.conflicts, claimed.rejected],
      ["direct", 1, 0, 0],
    );
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select count(*) from voter_ballots where poll_id = 'council' and voter_id = 'v7' and event_id = $1",
        [eventId],
      ),
      1,
    );
    assert.deepEqual(await ofPolls(eventId), ["color:red", "council:bob", "lunch:pizza"]);

    // Each resent, with a new vote of the first poll under the same id beside them: each
    // poll's copy is a duplicate of its own poll's, counted there (the not-inserted rows are
    // matched by poll and id), the lunch clash a conflict of lunch alone.
    const lunchClash = { ...lunch, optionId: "salad", streamSeq: seq++ };
    const again = await store(
      [lunch, color, council, lunchClash].map((v) => ({ ...v, streamSeq: seq++ })),
    );
    assert.deepEqual([again.inserted, again.duplicates, again.conflicts], [0, 3, 1]);
    assert.equal(await duplicatesCounted("lunch"), dupsBefore + 1);
    assert.equal(await duplicatesCounted("color"), colorDupsBefore + 1);
    assert.deepEqual(await conflictsOf(eventId), [
      { kiosk_id: "k-x", poll_id: "lunch", option_id: "salad", voter_id: "v7" },
    ]);

    // New, one id in two polls in one batch, and a stored id of lunch resent beside a new
    // vote of color under it: the new ones stored, the resend a duplicate of lunch.
    const pair = decoded({ pollId: "lunch", optionId: "salad", kioskId: "k-y" });
    const pairColor = {
      ...decoded({ pollId: "color", optionId: "blue", kioskId: "k-y" }),
      eventId: pair.eventId,
    };
    assert.deepEqual(
      [await store([pair, pairColor])].map((r) => [r.inserted, r.duplicates, r.conflicts]),
      [[2, 0, 0]],
    );
    const stored = decoded({ pollId: "lunch", optionId: "pizza", kioskId: "k-z" });
    await store([stored]);
    const mixed = await store([
      { ...stored, streamSeq: seq++ },
      { ...decoded({ pollId: "color", optionId: "red", kioskId: "k-z" }), eventId: stored.eventId },
    ]);
    assert.deepEqual([mixed.inserted, mixed.duplicates, mixed.conflicts], [1, 1, 0]);
    assert.equal(await duplicatesCounted("lunch"), dupsBefore + 2, "the resend counted in lunch");
    assert.equal(await totalOf("color"), colorBefore + 3);
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("through JetStream: a clash published as a new message is a conflict in the metrics", async () => {
    writer = await startWriterInProcess(bed.env);
    const original = makeVote({ pollId: "stream", optionId: "yes", kioskId: "k-a" });
    await publishVotes(bed.js, bed.config.subjectPrefix, [original]);
    await eventually("the original is stored", async () => (await rowsMetric("inserted")) === 1);
    const stored = await countVotes(bed.db.pool);

    // Beyond the duplicate window, or a restarted stream: a new message id each time.
    const clash = { ...original, kioskId: "k-b", receivedAt: new Date().toISOString() };
    const retry = { ...original, receivedAt: new Date().toISOString() };
    for (const votes of [[clash], [retry], [clash]]) {
      const ack = await publishVotes(bed.js, bed.config.subjectPrefix, votes);
      assert.equal(ack.duplicate, false);
    }
    await eventually(
      "the clash and the retry are classified",
      async () =>
        (await rowsMetric("conflict")) === 2 &&
        (await rowsMetric("duplicate")) === 1 &&
        (await bed.pending()) === 0,
    );
    assert.equal(await rowsMetric("inserted"), 1);
    assert.equal(await countVotes(bed.db.pool), stored);
    assert.equal(await duplicatesCounted("stream"), 1, "the retry, once");
    assert.deepEqual(await conflictsOf(original.eventId), [
      { kiosk_id: "k-b", poll_id: "stream", option_id: "yes", voter_id: null },
    ]);
    await assertRollupsMatchVotes(bed.db.pool);
  });
});
