import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { TimeoutError } from "@nats-io/transport-node";
import { createLogger } from "../common/logger.ts";
import { encodeVoteMessage } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { runNode } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  insertPoll,
  queryNumber,
} from "../test-support/stored-votes.ts";
import { streamMessageCount } from "../test-support/streams.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";
import { MaxDeliveriesMover } from "./max-deliveries.ts";
import { consumerLag, createWriterMetrics } from "./writer-metrics.ts";

/**
 * A consumer that takes the message on the writers' durable consumer and never acks it (a
 * writer stuck or crashing on it), until JetStream gives up on it (MAX_DELIVER=2) and the
 * advisory is captured.
 */
async function exhaustDeliveries(bed: WriterTestBed, seq: number): Promise<void> {
  const { streamName, consumerName, natsUrl } = bed.config;
  const consumer = await bed.js.consumers.get(streamName, consumerName);
  const deliveries: JsMsg[] = [];
  await eventually(
    "the message is delivered twice without an ack",
    async () => {
      const m = await consumer.next({ expires: 1_500 });
      if (m) deliveries.push(m);
      return deliveries.length === 2;
    },
    { timeoutMs: 15_000, intervalMs: 0 },
  );
  assert.deepEqual(
    deliveries.map((m) => [m.seq, m.info.deliveryCount]),
    [
      [seq, 1],
      [seq, 2],
    ],
  );
  // JetStream notices the exhausted message when it would deliver it again, so keep
  // asking: nothing comes, and the advisory is published (and captured by the stream).
  await eventually(
    "the max-deliveries advisory is captured",
    async () => {
      const m = await consumer.next({ expires: 1_000 });
      assert.equal(m, null, "no third delivery");
      return (await streamMessageCount(natsUrl, `${streamName}_MAXDELIVER`)) === 1;
    },
    { timeoutMs: 15_000, intervalMs: 0 },
  );
  assert.equal(await bed.pending(), 0, "JetStream no longer delivers it");
  assert.equal(await streamMessageCount(natsUrl, streamName), 1, "but the stream still holds it");
}

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
    const { streamName, subjectPrefix, natsUrl } = bed.config;
    const vote = makeVote({ pollId: "lunch", optionId: "salad", voterId: "stuck" });
    const data = encodeVoteMessage([vote]);
    const ack = await bed.js.publish(voteSubject(subjectPrefix, "lunch"), data, {
      msgID: vote.eventId,
    });

    await exhaustDeliveries(bed, ack.seq);

    writer = await startWriterInProcess(bed.env);
    await eventually(
      "the writer moves it to dead_letters",
      async () => (await queryNumber(bed.db.pool, "select count(*) from dead_letters")) === 1,
    );
    const { rows } = await bed.db.pool.query(
      "select stream, stream_seq, item_index, subject, raw, error, deliveries, reason, replayed_at from dead_letters",
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
        reason: "max_deliveries",
        replayed_at: null,
      },
    );
    await eventually(
      "the message is gone from the stream and the advisory acked",
      async () =>
        (await streamMessageCount(natsUrl, streamName)) === 0 &&
        (await streamMessageCount(natsUrl, `${streamName}_MAXDELIVER`)) === 0,
      { timeoutMs: 10_000 },
    );
    assert.equal(await countVotes(bed.db.pool), 0);
    const moved = (await writer.metrics.deadLetters.get()).values.find(
      (v) => v.labels.reason === "max_deliveries",
    )?.value;
    assert.equal(moved, 1);

    const replay = await runNode("scripts/dlq.ts", ["replay", "--all"], {
      DATABASE_URL: bed.db.url,
      NATS_URL: natsUrl,
      STREAM_NAME: streamName,
      SUBJECT_PREFIX: subjectPrefix,
    });
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

    const nothingLeft = await runNode("scripts/dlq.ts", ["replay", "--all"], {
      DATABASE_URL: bed.db.url,
      NATS_URL: natsUrl,
      STREAM_NAME: streamName,
    });
    assert.equal(nothingLeft.code, 1);
    assert.match(nothingLeft.stderr, /nothing to replay/);
  });
});

/**
 * The real JetStreamManager, except that the first getMessage and the first deleteMessage
 * reject with the timeout a slow or briefly unreachable server produces: a fault injected
 * into the real client, which still does everything else.
 */
function withTransientFaults(jsm: JetStreamManager) {
  const faults = { getMessage: 1, deleteMessage: 1 };
  const injected: string[] = [];
  const streams = new Proxy(jsm.streams, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if ((prop !== "getMessage" && prop !== "deleteMessage") || typeof value !== "function")
        return value;
      return (...args: unknown[]) => {
        if (faults[prop] > 0) {
          faults[prop]--;
          injected.push(prop);
          return Promise.reject(new TimeoutError());
        }
        return Reflect.apply(value, target, args);
      };
    },
  });
  const wrapped = new Proxy(jsm, {
    get: (target, prop, receiver) =>
      prop === "streams" ? streams : Reflect.get(target, prop, receiver),
  });
  return { jsm: wrapped, injected };
}

describe("batch writer: moving a MaxDeliver message when JetStream fails transiently", () => {
  let bed: WriterTestBed;
  let mover: MaxDeliveriesMover | undefined;

  before(async () => {
    bed = await createWriterTestBed({
      MAX_DELIVER: "2",
      ACK_WAIT_MS: "1000",
      REDELIVERY_BACKOFF_MS: "1000",
    });
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
  });

  after(async () => {
    await mover?.stop();
    await bed?.close();
  });

  test("a failed read or delete is retried: the vote still ends in dead_letters and leaves the stream", async () => {
    const { streamName, subjectPrefix, natsUrl } = bed.config;
    const vote = makeVote({ pollId: "lunch", optionId: "pizza", voterId: "unlucky" });
    const ack = await bed.js.publish(
      voteSubject(subjectPrefix, "lunch"),
      encodeVoteMessage([vote]),
      {
        msgID: vote.eventId,
      },
    );
    await exhaustDeliveries(bed, ack.seq);

    // Only the mover runs here (no writer), on a manager that times out once per call kind.
    const faulty = withTransientFaults(bed.jsm);
    const metrics = createWriterMetrics(() =>
      consumerLag(bed.jsm, bed.config.streamName, bed.config.consumerName),
    );
    mover = new MaxDeliveriesMover({
      pool: bed.db.pool,
      js: bed.js,
      jsm: faulty.jsm,
      config: bed.config,
      logger: createLogger("silent"),
      metrics,
      healer: bed.healer,
    });
    mover.start();

    await eventually(
      "the vote is in dead_letters and gone from the stream, the advisory acked",
      async () =>
        (await queryNumber(bed.db.pool, "select count(*) from dead_letters")) === 1 &&
        (await streamMessageCount(natsUrl, streamName)) === 0 &&
        (await streamMessageCount(natsUrl, `${streamName}_MAXDELIVER`)) === 0,
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(faulty.injected, ["getMessage", "deleteMessage"], "both faults were hit");
    const { rows } = await bed.db.pool.query("select stream_seq, deliveries from dead_letters");
    assert.deepEqual(rows, [{ stream_seq: ack.seq, deliveries: 2 }]);
    const moved = (await metrics.deadLetters.get()).values.find(
      (v) => v.labels.reason === "max_deliveries",
    )?.value;
    assert.equal(moved, 1);
  });
});
