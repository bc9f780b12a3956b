import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StoredVote } from "../common/vote.ts";
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
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";
import type { DecodedVote } from "./decode.ts";
import { storeBatch } from "./store-batch.ts";

describe("batch writer: a batch delivered again changes no count", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;

  const snapshot = async () => {
    const rollups = await bed.db.pool.query(
      "select poll_id, option_id, bucket_start, count from vote_rollups order by 1, 2, 3",
    );
    const changes = await bed.db.pool.query(
      "select poll_id, change_seq, last_stream_seq, changed_at from poll_changes order by 1",
    );
    const votes = await bed.db.pool.query(
      "select event_id, stream_seq, stored_at from votes order by event_id",
    );
    return { rollups: rollups.rows, changes: changes.rows, votes: votes.rows };
  };

  const rowsMetric = (outcome: string) => writerRows(writer!, outcome);

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(bed.db.pool, "color", ["red", "blue"]);
    await insertPoll(bed.db.pool, "direct", ["yes", "no"]);
    await insertPoll(bed.db.pool, "mixed", ["yes", "no"]);
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("the same votes published again as new messages are stored once", async () => {
    writer = await startWriterInProcess(bed.env);
    const batch = Array.from({ length: 30 }, (_, i) =>
      makeVote({ pollId: "lunch", optionId: i % 3 === 0 ? "salad" : "pizza", voterId: `v${i}` }),
    );
    const singles = Array.from({ length: 10 }, (_, i) =>
      makeVote({ pollId: "color", optionId: i % 2 === 0 ? "red" : "blue" }),
    );
    await publishVotes(bed.js, bed.config.subjectPrefix, batch);
    for (const v of singles) await publishVotes(bed.js, bed.config.subjectPrefix, [v]);
    await waitForVotes(bed, 40);
    await assertRollupsMatchVotes(bed.db.pool);
    const before = await snapshot();
    assert.equal(await rowsMetric("inserted"), 40);
    assert.equal(await rowsMetric("duplicate"), 0);

    // A kiosk resending after the duplicate window, or a redelivery: new message ids, same
    // event ids; and the batch split differently this time.
    const resend: StoredVote[][] = [batch.slice(0, 10), batch.slice(10), singles.slice(0, 5)];
    for (const v of singles.slice(5)) resend.push([v]);
    for (const votes of resend) {
      const ack = await publishVotes(bed.js, bed.config.subjectPrefix, votes);
      assert.equal(ack.duplicate, false, "JetStream sees a new message");
    }
    await eventually("the resent votes are all seen as duplicates", async () => {
      return (await rowsMetric("duplicate")) >= 40 && (await bed.pending()) === 0;
    });

    // Each resent vote was written once more (no spurious redelivery), and inserted nothing.
    assert.equal(await rowsMetric("duplicate"), 40);
    assert.equal(await rowsMetric("inserted"), 40);
    assert.deepEqual(await snapshot(), before, "votes, rollups and poll_changes unchanged");
    assert.equal(await countVotes(bed.db.pool), 40);
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("storeBatch twice with the same rows inserts nothing the second time", async () => {
    const votes: DecodedVote[] = Array.from({ length: 25 }, (_, i) => ({
      ...makeVote({ pollId: "direct", optionId: i < 15 ? "yes" : "no", voterId: `d${i}` }),
      streamSeq: 1_000 + i,
    }));
    const stored = await countVotes(bed.db.pool);
    const stream = bed.config.streamName;

    const first = await storeBatch(bed.db.pool, stream, votes, []);
    assert.deepEqual(first, {
      received: 25,
      inserted: 25,
      rejected: 0,
      duplicates: 0,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "direct",
    });
    const before = await snapshot();

    const second = await storeBatch(bed.db.pool, stream, votes, []);
    assert.deepEqual(second, {
      received: 25,
      inserted: 0,
      rejected: 0,
      duplicates: 25,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });
    assert.deepEqual(await snapshot(), before, "nothing changed, not even change_seq");

    // A batch that carries the same vote twice, next to a new one.
    const fresh: DecodedVote = {
      ...makeVote({ pollId: "direct", optionId: "no" }),
      streamSeq: 2_000,
    };
    const third = await storeBatch(bed.db.pool, stream, [votes[0]!, fresh, votes[0]!, fresh], []);
    assert.deepEqual(third, {
      received: 4,
      inserted: 1,
      rejected: 0,
      duplicates: 3,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });

    assert.equal(await countVotes(bed.db.pool), stored + 26);
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select sum(count) from vote_rollups where poll_id = 'direct' and option_id = 'no'",
      ),
      11,
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });

  test("a batch mixing stored and new votes stores only the new ones, once", async () => {
    // The direct COPY fails on the first stored vote; the staging path takes over.
    const stream = bed.config.streamName;
    const old: DecodedVote[] = Array.from({ length: 30 }, (_, i) => ({
      ...makeVote({ pollId: "mixed", optionId: "yes" }),
      streamSeq: 3_000 + i,
    }));
    assert.equal((await storeBatch(bed.db.pool, stream, old, [])).inserted, 30);
    const fresh: DecodedVote[] = Array.from({ length: 20 }, (_, i) => ({
      ...makeVote({ pollId: "mixed", optionId: "no" }),
      streamSeq: 4_000 + i,
    }));
    const mixed = [...fresh.slice(0, 10), ...old.slice(0, 15), ...fresh.slice(10)];
    assert.deepEqual(await storeBatch(bed.db.pool, stream, mixed, []), {
      received: 35,
      inserted: 20,
      rejected: 0,
      duplicates: 15,
      conflicts: 0,
      pollDeleted: 0,
      pastRetention: 0,
      deadLettered: 0,
      personDays: 0,
      path: "staging",
    });
    assert.equal(
      await queryNumber(bed.db.pool, "select count(*) from votes where poll_id = 'mixed'"),
      50,
    );
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select sum(count) from duplicate_counts where poll_id = 'mixed'",
      ),
      15,
    );
    await assertRollupsMatchVotes(bed.db.pool);
  });
});
