import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StoredVote } from "../common/vote.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { assertRollupsMatchVotes, insertPoll } from "../test-support/stored-votes.ts";
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

const TEN_MINUTES = 600_000;
const HOUR = 3_600_000;

/** The vote's 10-minute bucket, as date_bin('10 minutes', cast_at, 2000-01-01) computes it. */
function bucketOf(castAt: string): number {
  return Math.floor(Date.parse(castAt) / TEN_MINUTES) * TEN_MINUTES;
}

/** Expected rollups keyed `poll/option/bucketMs`, counted in the test from what it published. */
function expectedRollups(votes: StoredVote[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of votes) {
    const key = `${v.pollId}/${v.optionId}/${bucketOf(v.castAt)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

describe("batch writer: basic flow", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;
  const published: StoredVote[] = [];
  const lastSeqByPoll = new Map<string, number>();

  const publish = async (votes: StoredVote[]) => {
    const ack = await publishVotes(bed.js, bed.config.subjectPrefix, votes);
    assert.equal(ack.duplicate, false);
    published.push(...votes);
    const poll = votes[0]!.pollId;
    lastSeqByPoll.set(poll, Math.max(lastSeqByPoll.get(poll) ?? 0, ack.seq));
    return ack;
  };

  const rollups = async () => {
    const { rows } = await bed.db.pool.query<{
      poll_id: string;
      option_id: string;
      bucket_start: Date;
      count: number;
    }>("select poll_id, option_id, bucket_start, count from vote_rollups");
    return new Map(
      rows.map((r) => [`${r.poll_id}/${r.option_id}/${r.bucket_start.getTime()}`, r.count]),
    );
  };

  const pollChanges = async () => {
    const { rows } = await bed.db.pool.query<{
      poll_id: string;
      change_seq: number;
      last_stream_seq: number;
      changed_at: Date;
    }>(
      "select poll_id, change_seq, last_stream_seq, changed_at from poll_changes order by poll_id",
    );
    return rows;
  };

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad", "soup"]);
    await insertPoll(bed.db.pool, "color", ["red", "blue"]);
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("single-vote and batch messages across two polls are stored exactly once", async () => {
    // Published before the writer runs (a backlog) and while it runs.
    const singles = Array.from({ length: 12 }, (_, i) =>
      makeVote({
        pollId: "lunch",
        optionId: ["pizza", "salad", "soup"][i % 3]!,
        kioskId: `kiosk-${i % 4}`,
        voterId: i % 2 === 0 ? `voter-${i}` : undefined,
      }),
    );
    for (const v of singles.slice(0, 6)) await publish([v]);
    const batch = (pollId: string, options: string[], n: number, kioskId: string) =>
      Array.from({ length: n }, (_, i) =>
        makeVote({ pollId, optionId: options[i % options.length]!, kioskId }),
      );
    await publish(batch("color", ["red", "blue"], 40, "kiosk-hall"));

    writer = await startWriterInProcess(bed.env);

    for (const v of singles.slice(6)) await publish([v]);
    await publish(batch("color", ["red", "blue"], 25, "kiosk-door"));
    await publish(batch("lunch", ["pizza", "soup"], 30, "kiosk-door"));

    await waitForVotes(bed, published.length);

    const { rows } = await bed.db.pool.query<{ event_id: string; n: number }>(
      "select event_id, count(*) as n from votes group by event_id",
    );
    assert.deepEqual(
      rows.map((r) => r.event_id).sort(),
      published.map((v) => v.eventId).sort(),
      "every published vote is stored",
    );
    assert.ok(rows.every((r) => r.n === 1));

    // The row carries what the message carried.
    const sample = singles[0]!;
    const { rows: stored } = await bed.db.pool.query(
      `select poll_id, option_id, kiosk_id, voter_id, cast_at, received_at from votes
       where event_id = $1`,
      [sample.eventId],
    );
    assert.deepEqual(stored, [
      {
        poll_id: sample.pollId,
        option_id: sample.optionId,
        kiosk_id: sample.kioskId,
        voter_id: sample.voterId,
        cast_at: new Date(sample.castAt),
        received_at: new Date(sample.receivedAt),
      },
    ]);

    assert.deepEqual(await rollups(), expectedRollups(published));
    await assertRollupsMatchVotes(bed.db.pool);

    const changes = await pollChanges();
    assert.deepEqual(
      changes.map((c) => [c.poll_id, c.last_stream_seq]),
      [
        ["color", lastSeqByPoll.get("color")],
        ["lunch", lastSeqByPoll.get("lunch")],
      ],
    );
    assert.equal(
      new Set(changes.map((c) => c.change_seq)).size,
      2,
      "each poll has its own change_seq",
    );

    const dead = await bed.db.pool.query("select 1 from dead_letters");
    assert.equal(dead.rowCount, 0);
  });

  test("late votes land in their own bucket and bump the poll's change_seq", async () => {
    const [colorBefore, lunchBefore] = await pollChanges();
    const rollupsBefore = await rollups();

    const threeHoursAgo = new Date(Date.now() - 3 * HOUR);
    const fiveHoursAgo = new Date(Date.now() - 5 * HOUR);
    const late = [
      makeVote({ pollId: "lunch", optionId: "pizza", castAt: threeHoursAgo }),
      makeVote({ pollId: "lunch", optionId: "pizza", castAt: threeHoursAgo }),
      makeVote({ pollId: "lunch", optionId: "soup", castAt: fiveHoursAgo }),
    ];
    await publish([late[0]!]);
    await publish(late.slice(1));
    await waitForVotes(bed, published.length);

    const after = await rollups();
    const pizzaKey = `lunch/pizza/${bucketOf(threeHoursAgo.toISOString())}`;
    const soupKey = `lunch/soup/${bucketOf(fiveHoursAgo.toISOString())}`;
    assert.equal(rollupsBefore.has(pizzaKey), false, "the late bucket is new");
    assert.equal(after.get(pizzaKey), 2);
    assert.equal(after.get(soupKey), 1);
    // Every other bucket is untouched.
    for (const [key, count] of rollupsBefore) assert.equal(after.get(key), count, key);
    assert.equal(after.size, rollupsBefore.size + 2);
    assert.deepEqual(after, expectedRollups(published));
    await assertRollupsMatchVotes(bed.db.pool);

    const [colorAfter, lunchAfter] = await pollChanges();
    assert.deepEqual(colorAfter, colorBefore, "a poll without new votes is not bumped");
    assert.ok(lunchAfter && lunchBefore);
    assert.ok(
      lunchAfter.change_seq > lunchBefore.change_seq,
      `change_seq ${lunchBefore.change_seq} -> ${lunchAfter.change_seq}`,
    );
    assert.equal(lunchAfter.last_stream_seq, lastSeqByPoll.get("lunch"));
    assert.ok(lunchAfter.changed_at >= lunchBefore.changed_at);
  });
});
