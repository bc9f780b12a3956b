import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { runNode } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import {
  createPoisonTestBed,
  REFUSED_KIOSK,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";
import { ensureWriterResources } from "./consumer.ts";

// A dead letter is kept under its message's identity: when the stream is re-created (the
// self-heal path) its sequences start at 1 again, and a new message's dead letter at an old
// sequence is a row of its own, with its own bytes, replayed on its own.

interface DeadLetterRow {
  id: number;
  stream_seq: number;
  msg_id: string;
  raw: Buffer;
  replayed_at: Date | null;
}

describe("dead letters across a re-created stream", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;

  const deadLetters = async () =>
    (await bed.db.pool.query<DeadLetterRow>("select * from dead_letters order by id")).rows;
  const dlq = (...args: string[]) =>
    runNode("scripts/dlq.ts", args, {
      DATABASE_URL: bed.db.url,
      NATS_URL: bed.config.natsUrl,
      STREAM_NAME: bed.config.streamName,
      SUBJECT_PREFIX: bed.config.subjectPrefix,
      LOG_LEVEL: "warn",
    });
  /** A vote Postgres refuses while the test's CHECK constraint stands. */
  const refused = () => makeVote({ pollId: "lunch", optionId: "pizza", kioskId: REFUSED_KIOSK });
  const waitForDeadLetters = (count: number) =>
    eventually(`${count} dead letters`, async () => (await deadLetters()).length >= count, {
      timeoutMs: 30_000,
    });

  before(async () => {
    bed = await createPoisonTestBed();
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("dead-letter, replay, re-create the stream, dead-letter others at the same sequences: each kept with its bytes, replay --all stores each once", async () => {
    const old = refused();
    writer = await startWriterInProcess(bed.env);
    const oldAck = await publishVotes(bed.js, bed.config.subjectPrefix, [old]);
    await waitForDeadLetters(1);
    // Replayed while the constraint still refuses it: its replay is dead-lettered too.
    const replay = await dlq("replay", "--all");
    assert.equal(replay.code, 0, replay.stderr);
    await waitForDeadLetters(2);
    await writer.close();
    writer = undefined;

    // The stream is lost and re-created empty: its sequences start at 1 again.
    await bed.jsm.streams.delete(bed.config.streamName);
    await ensureWriterResources(bed.nc, bed.config, "apply");
    const fresh = [refused(), refused()];
    const freshAcks = [];
    for (const v of fresh)
      freshAcks.push(await publishVotes(bed.js, bed.config.subjectPrefix, [v]));
    assert.deepEqual(
      freshAcks.map((a) => a.seq),
      [oldAck.seq, oldAck.seq + 1],
      "the new messages take the old sequences",
    );
    writer = await startWriterInProcess(bed.env);
    await waitForDeadLetters(4);

    const rows = await deadLetters();
    assert.equal(rows.length, 4);
    const bySeq = (seq: number) => rows.filter((r) => r.stream_seq === seq);
    assert.equal(bySeq(oldAck.seq).length, 2, "two dead letters at the first sequence");
    assert.equal(bySeq(oldAck.seq + 1).length, 2, "two dead letters at the second sequence");
    const eventIds = rows.map(
      (r) => (JSON.parse(r.raw.toString("utf8")) as { votes: StoredVote[] }).votes[0]!.eventId,
    );
    // Each row holds its own message's bytes: the old vote (and its replay), the two new ones.
    assert.deepEqual(
      eventIds.sort(),
      [old.eventId, old.eventId, ...fresh.map((v) => v.eventId)].sort(),
    );
    for (const v of fresh)
      assert.ok(
        rows.some((r) => r.raw.equals(Buffer.from(encodeVoteMessage([v])))),
        `the dead letter of ${v.eventId} holds its own bytes`,
      );
    assert.equal(
      rows.filter((r) => r.replayed_at === null).length,
      3,
      "only the first was replayed",
    );

    // The fix, then every dead letter not yet replayed goes back: each vote stored once.
    await bed.db.pool.query("alter table votes drop constraint test_refuses_kiosk");
    const all = await dlq("replay", "--all");
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout.match(/replayed as stream seq/g)?.length, 3, all.stdout);
    await waitForVotes(bed, 3);
    const stored = await bed.db.pool.query<{ event_id: string; n: number }>(
      "select event_id::text, count(*)::int as n from votes group by 1 order by 1",
    );
    assert.deepEqual(
      stored.rows,
      [old, ...fresh]
        .map((v) => ({ event_id: v.eventId, n: 1 }))
        .sort((a, b) => a.event_id.localeCompare(b.event_id)),
    );
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 4);
  });
});
