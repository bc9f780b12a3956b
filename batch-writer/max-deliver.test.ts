import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JsMsg } from "@nats-io/jetstream";
import { encodeVoteMessage } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { streamMessageCount } from "../test-support/streams.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  createWriterTestBed,
  type InProcessWriter,
  insertPoll,
  makeVote,
  queryNumber,
  runDlq,
  startWriterInProcess,
  type WriterTestBed,
  waitForVotes,
  waitUntil,
} from "../test-support/writer.ts";

describe("batch writer: a message that exhausts MaxDeliver", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;

  before(async () => {
    bed = await createWriterTestBed({
      MAX_DELIVER: "2",
      ACK_WAIT_MS: "1000",
      REDELIVERY_BACKOFF_MS: "1000",
    });
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("lands in dead_letters, leaves the stream, and dlq replay --all stores it", async () => {
    const { streamName, consumerName, subjectPrefix, natsUrl } = bed.config;
    const vote = makeVote({ pollId: "lunch", optionId: "salad", voterId: "stuck" });
    const data = encodeVoteMessage([vote]);
    const ack = await bed.js.publish(voteSubject(subjectPrefix, "lunch"), data, {
      msgID: vote.eventId,
    });

    // A consumer that takes the message on the writers' durable consumer and never acks
    // it (a writer stuck or crashing on it), until JetStream gives up on it.
    const consumer = await bed.js.consumers.get(streamName, consumerName);
    const deliveries: JsMsg[] = [];
    await waitUntil(
      "the message is delivered twice without an ack",
      async () => {
        const m = await consumer.next({ expires: 1_500 });
        if (m) deliveries.push(m);
        return deliveries.length === 2;
      },
      15_000,
      0,
    );
    assert.deepEqual(
      deliveries.map((m) => [m.seq, m.info.deliveryCount]),
      [
        [ack.seq, 1],
        [ack.seq, 2],
      ],
    );
    // JetStream notices the exhausted message when it would deliver it again, so keep
    // asking: nothing comes, and the advisory is published (and captured by the stream).
    await waitUntil(
      "the max-deliveries advisory is captured",
      async () => {
        const m = await consumer.next({ expires: 1_000 });
        assert.equal(m, null, "no third delivery");
        return (await streamMessageCount(natsUrl, `${streamName}_MAXDELIVER`)) === 1;
      },
      15_000,
      0,
    );
    assert.equal(await bed.pending(), 0, "JetStream no longer delivers it");
    assert.equal(await streamMessageCount(natsUrl, streamName), 1, "but the stream still holds it");

    writer = await startWriterInProcess(bed.env);
    await waitUntil(
      "the writer moves it to dead_letters",
      async () => (await queryNumber(bed.db.pool, "select count(*) from dead_letters")) === 1,
    );
    const { rows } = await bed.db.pool.query(
      "select stream, stream_seq, item_index, subject, raw, error, deliveries, replayed_at from dead_letters",
    );
    assert.equal(rows.length, 1);
    const dead = rows[0]!;
    assert.match(dead.error, /MaxDeliver/);
    assert.deepEqual(
      { ...dead, error: undefined },
      {
        stream: streamName,
        stream_seq: ack.seq,
        item_index: -1,
        subject: voteSubject(subjectPrefix, "lunch"),
        raw: Buffer.from(data),
        error: undefined,
        deliveries: 2,
        replayed_at: null,
      },
    );
    await waitUntil(
      "the message is gone from the stream and the advisory acked",
      async () =>
        (await streamMessageCount(natsUrl, streamName)) === 0 &&
        (await streamMessageCount(natsUrl, `${streamName}_MAXDELIVER`)) === 0,
      10_000,
    );
    assert.equal(await countVotes(bed.db.pool), 0);
    const moved = (await writer.metrics.deadLetters.get()).values.find(
      (v) => v.labels.reason === "max_deliveries",
    )?.value;
    assert.equal(moved, 1);

    const replay = await runDlq(
      {
        DATABASE_URL: bed.db.url,
        NATS_URL: natsUrl,
        STREAM_NAME: streamName,
        SUBJECT_PREFIX: subjectPrefix,
      },
      ["replay", "--all"],
    );
    assert.equal(replay.code, 0, replay.stderr);
    assert.match(replay.stdout, /^#\d+ replayed as stream seq \d+\n$/);
    await waitForVotes(bed, 1);
    const stored = await bed.db.pool.query("select event_id, voter_id from votes");
    assert.deepEqual(stored.rows, [{ event_id: vote.eventId, voter_id: "stuck" }]);
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select count(*) from dead_letters where replayed_at is not null",
      ),
      1,
    );
    await assertRollupsMatchVotes(bed.db.pool);

    const nothingLeft = await runDlq(
      { DATABASE_URL: bed.db.url, NATS_URL: natsUrl, STREAM_NAME: streamName },
      ["replay", "--all"],
    );
    assert.equal(nothingLeft.code, 1);
    assert.match(nothingLeft.stderr, /nothing to replay/);
  });
});
