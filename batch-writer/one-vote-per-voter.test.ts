import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StoredVote } from "../common/vote.ts";
import { eventually } from "../harness/waiting.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { assertRollupsMatchVotes, insertPoll, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";
import { storeBatch } from "./store-batch.ts";

const VOTERS = 20;

describe("batch writer: one vote per voter", () => {
  let bed: WriterTestBed;
  const writers: InProcessWriter[] = [];
  let storedSoFar = 0;

  const rejected = async (pollId: string) =>
    (
      await bed.db.pool.query<{ event_id: string; voter_id: string; reason: string }>(
        "select event_id, voter_id, reason from rejected_votes where poll_id = $1 order by voter_id",
        [pollId],
      )
    ).rows;
  const stored = async (pollId: string) =>
    (
      await bed.db.pool.query<{ event_id: string; voter_id: string | null; option_id: string }>(
        "select event_id, voter_id, option_id from votes where poll_id = $1 order by voter_id",
        [pollId],
      )
    ).rows;
  const rejectedCount = () => queryNumber(bed.db.pool, "select count(*) from rejected_votes");
  const publish = (votes: StoredVote[]) => publishVotes(bed.js, bed.config.subjectPrefix, votes);

  before(async () => {
    // One message per batch: two writers write the two votes of a voter in two transactions.
    bed = await createWriterTestBed({ BATCH_MAX_MESSAGES: "1" });
    await insertPoll(bed.db.pool, "board", ["alice", "bob"], { oneVotePerVoter: true });
    await insertPoll(bed.db.pool, "open", ["yes", "no"]);
    writers.push(await startWriterInProcess(bed.env), await startWriterInProcess(bed.env));
  });

  after(async () => {
    await Promise.all(writers.map((w) => w.close()));
    await bed?.close();
  });

  test("the same voter at two kiosks at once: one vote counts, the other is rejected", async () => {
    await eventually("both writers are pulling", async () => {
      const info = await bed.jsm.consumers.info(bed.config.streamName, bed.config.consumerName);
      return info.num_waiting >= 2;
    });
    const castAt = new Date();
    const pairs = Array.from({ length: VOTERS }, (_, i) => {
      const voterId = `member-${String(i).padStart(2, "0")}`;
      return [
        makeVote({ pollId: "board", optionId: "alice", kioskId: "hall", voterId, castAt }),
        makeVote({ pollId: "board", optionId: "bob", kioskId: "door", voterId, castAt }),
      ] as const;
    });
    await Promise.all(pairs.flatMap(([a, b]) => [publish([a]), publish([b])]));
    storedSoFar += VOTERS;
    await waitForVotes(bed, storedSoFar);
    await eventually(
      "every second vote is rejected",
      async () => (await rejectedCount()) === VOTERS,
    );

    const votes = await stored("board");
    const refused = await rejected("board");
    assert.equal(votes.length, VOTERS);
    assert.equal(refused.length, VOTERS);
    for (const [i, [a, b]] of pairs.entries()) {
      const kept = votes[i]!;
      const other = refused[i]!;
      assert.equal(kept.voter_id, a.voterId);
      assert.equal(other.voter_id, a.voterId);
      assert.deepEqual(
        [kept.event_id, other.event_id].sort(),
        [a.eventId, b.eventId].sort(),
        `${a.voterId}: one of the two is stored, the other rejected`,
      );
      assert.equal(other.reason, "voter_already_voted");
    }
    // The ballot names the vote that counts.
    const ballots = await bed.db.pool.query<{ voter_id: string; event_id: string }>(
      "select voter_id, event_id from voter_ballots where poll_id = 'board' order by voter_id",
    );
    assert.deepEqual(
      ballots.rows,
      votes.map((v) => ({ voter_id: v.voter_id, event_id: v.event_id })),
    );
    assert.equal(
      await queryNumber(bed.db.pool, "select sum(count) from vote_rollups where poll_id = 'board'"),
      VOTERS,
    );
    await assertRollupsMatchVotes(bed.db.pool);

    // Both writers took part (each message is its own batch).
    const committed = await Promise.all(
      writers.map(
        async (w) =>
          (await w.metrics.batches.get()).values.find((v) => v.labels.outcome === "committed")
            ?.value ?? 0,
      ),
    );
    assert.ok(
      committed.every((n) => n > 0),
      `batches per writer: ${committed.join(", ")}`,
    );

    // The rejected vote sent again is neither stored nor rejected twice.
    const [again] = pairs[0]!.filter((v) => refused[0]!.event_id === v.eventId);
    assert.ok(again);
    await publish([again]);
    await eventually("the resend is handled", async () => (await bed.pending()) === 0);
    await waitForVotes(bed, storedSoFar);
    assert.equal(await rejectedCount(), VOTERS);
  });

  test("two votes of one voter in one batch: the earlier cast counts", async () => {
    const t0 = Date.now() - 60_000;
    const first = makeVote({
      pollId: "board",
      optionId: "bob",
      voterId: "batch-voter",
      castAt: new Date(t0 + 1_000),
    });
    const second = makeVote({
      pollId: "board",
      optionId: "alice",
      voterId: "batch-voter",
      castAt: new Date(t0 + 5_000),
    });
    const other = makeVote({ pollId: "board", optionId: "alice", voterId: "someone-else" });
    const anonymous = makeVote({ pollId: "board", optionId: "alice" });
    // The later vote comes first in the message: cast time decides, not position.
    await publish([second, other, first, anonymous]);
    // In a poll without the rule, the same voter may vote twice.
    const open = [
      makeVote({ pollId: "open", optionId: "yes", voterId: "batch-voter" }),
      makeVote({ pollId: "open", optionId: "no", voterId: "batch-voter" }),
    ];
    await publish(open);
    storedSoFar += 3 + 2;
    await waitForVotes(bed, storedSoFar);

    const votes = await stored("board");
    assert.deepEqual(
      votes.filter((v) => v.voter_id === "batch-voter"),
      [{ event_id: first.eventId, voter_id: "batch-voter", option_id: "bob" }],
    );
    assert.ok(votes.some((v) => v.event_id === other.eventId));
    assert.ok(votes.some((v) => v.event_id === anonymous.eventId && v.voter_id === null));
    const refused = (await rejected("board")).filter((r) => r.voter_id === "batch-voter");
    assert.deepEqual(refused, [
      { event_id: second.eventId, voter_id: "batch-voter", reason: "voter_already_voted" },
    ]);
    assert.equal((await stored("open")).length, 2);
    assert.equal(await rejectedCount(), VOTERS + 1);
    assert.equal(
      await queryNumber(bed.db.pool, "select sum(count) from vote_rollups where poll_id = 'board'"),
      VOTERS + 3,
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("two transactions claiming the same ballot at the same moment: one wins", async () => {
    // Another transaction holds the voter's ballot key uncommitted, so both writers'
    // transactions block on it; when it rolls back they race for the same key for real.
    const blocker = await bed.db.pool.connect();
    try {
      await blocker.query("begin");
      await blocker.query(
        "insert into voter_ballots (poll_id, voter_id, event_id) values ('board', 'racer', $1)",
        [crypto.randomUUID()],
      );
      const castAt = new Date();
      const a = makeVote({ pollId: "board", optionId: "alice", voterId: "racer", castAt });
      const b = makeVote({ pollId: "board", optionId: "bob", voterId: "racer", castAt });
      const stream = bed.config.streamName;
      const racing = Promise.all([
        storeBatch(bed.db.pool, stream, [{ ...a, streamSeq: 900_001 }], []),
        storeBatch(bed.db.pool, stream, [{ ...b, streamSeq: 900_002 }], []),
      ]);
      await eventually("both transactions wait for the ballot", async () => {
        const waiting = await queryNumber(
          bed.db.pool,
          `select count(*) from pg_stat_activity
           where datname = current_database() and wait_event_type = 'Lock'`,
        );
        return waiting === 2;
      });
      await blocker.query("rollback");
      const results = await racing;

      assert.deepEqual(results.map((r) => [r.inserted, r.rejected]).sort(), [
        [0, 1],
        [1, 0],
      ]);
      const kept = (await stored("board")).filter((v) => v.voter_id === "racer");
      const refused = (await rejected("board")).filter((r) => r.voter_id === "racer");
      assert.equal(kept.length, 1);
      assert.equal(refused.length, 1);
      assert.deepEqual(
        [kept[0]!.event_id, refused[0]!.event_id].sort(),
        [a.eventId, b.eventId].sort(),
      );
      assert.equal(refused[0]!.reason, "voter_already_voted");
      await assertRollupsMatchVotes(bed.db.pool);
    } finally {
      await blocker.query("rollback").catch(() => {});
      blocker.release();
    }
  });

  test("first votes stay on the direct path; a second vote, a voter twice in a batch or a redelivery go through staging", async () => {
    const stream = bed.config.streamName;
    let seq = 910_000;
    const store = (votes: StoredVote[]) =>
      storeBatch(
        bed.db.pool,
        stream,
        votes.map((v) => ({ ...v, streamSeq: ++seq })),
        [],
      );
    const castAt = new Date();
    const vote = (voterId: string | undefined, optionId = "alice", pollId = "board") =>
      makeVote({ pollId, optionId, castAt, ...(voterId === undefined ? {} : { voterId }) });

    // First votes of three voters, beside votes of a poll that does not enforce it and a
    // vote without a voter: one COPY, each ballot claimed and naming its vote.
    const first = [vote("path-a"), vote("path-b", "bob"), vote("path-c"), vote(undefined)];
    const open = [vote("path-a", "yes", "open"), vote("path-a", "no", "open")];
    const firstBatch = [...first, ...open].map((v) => ({ ...v, streamSeq: ++seq }));
    const direct = await storeBatch(bed.db.pool, stream, firstBatch, []);
    assert.deepEqual([direct.path, direct.inserted, direct.rejected], ["direct", 6, 0]);
    const { rows: ballots } = await bed.db.pool.query<{ voter_id: string; event_id: string }>(
      "select voter_id, event_id from voter_ballots where poll_id = 'board' and voter_id like 'path-%' order by voter_id",
    );
    assert.deepEqual(
      ballots.map((b) => [b.voter_id, b.event_id]),
      first.slice(0, 3).map((v) => [v.voterId, v.eventId]),
    );

    // A second vote of path-a beside a new voter's first: the batch goes through staging,
    // which stores the first vote and refuses the second.
    const second = await store([vote("path-a", "bob"), vote("path-d")]);
    assert.deepEqual([second.path, second.inserted, second.rejected], ["staging", 1, 1]);

    // The same voter twice in one batch: staging (the earlier cast counts).
    const twice = await store([
      makeVote({
        pollId: "board",
        optionId: "bob",
        voterId: "path-e",
        castAt: new Date(castAt.getTime() + 1_000),
      }),
      makeVote({ pollId: "board", optionId: "alice", voterId: "path-e", castAt }),
    ]);
    assert.deepEqual([twice.path, twice.inserted, twice.rejected], ["staging", 1, 1]);
    const { rows: e } = await bed.db.pool.query<{ option_id: string }>(
      "select option_id from votes where poll_id = 'board' and voter_id = 'path-e'",
    );
    assert.deepEqual(e, [{ option_id: "alice" }]);

    // The first batch redelivered: its ballots are taken by its own votes, so staging counts
    // every vote as a duplicate; nothing is inserted or refused.
    const again = await storeBatch(bed.db.pool, stream, firstBatch, []);
    assert.deepEqual(
      [again.path, again.inserted, again.rejected, again.duplicates],
      ["staging", 0, 0, 6],
    );
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select count(*) from voter_ballots where voter_id like 'path-%'",
      ),
      5,
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });
});
