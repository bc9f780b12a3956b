import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { metricSample } from "../test-support/metrics-scrape.ts";
import { insertPoll } from "../test-support/stored-votes.ts";
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import { createWriterTestBed, type WriterTestBed } from "../test-support/writer-test-bed.ts";
import { consumerLag, createWriterMetrics } from "./writer-metrics.ts";

// The consumer's lag as the dashboards read it: undelivered and ack-pending apart (a
// writer stuck holding messages shows as ack-pending, a writer that is not keeping up as
// undelivered), and whether JetStream answered at all.

describe("writer metrics: the consumer's lag", () => {
  let bed: WriterTestBed;

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
  });
  after(() => bed?.close());

  test("undelivered, ack-pending and their sum come from JetStream; reachable is 1", async () => {
    for (let i = 0; i < 3; i++)
      await publishVotes(bed.js, bed.names.subjectPrefix, [
        makeVote({ pollId: "lunch", optionId: "pizza" }),
      ]);
    // One message delivered and held, unacked (as a writer in the middle of a batch).
    const consumer = await bed.js.consumers.get(bed.config.streamName, bed.config.consumerName);
    const held = await consumer.next({ expires: 5_000 });
    assert.ok(held, "one message delivered");
    const metrics = createWriterMetrics(() =>
      consumerLag(bed.jsm, bed.config.streamName, bed.config.consumerName),
    );
    const text = await metrics.registry.metrics();
    assert.equal(metricSample(text, "tallyflow_writer_consumer_undelivered_messages"), 2);
    assert.equal(metricSample(text, "tallyflow_writer_consumer_ack_pending_messages"), 1);
    assert.equal(metricSample(text, "tallyflow_writer_consumer_pending_messages"), 3);
    assert.equal(metricSample(text, "tallyflow_writer_jetstream_reachable"), 1);
    held.ack();
  });

  test("JetStream unreachable: the lag reads NaN and reachable 0, the scrape still answers", async () => {
    const nc = await connect({ servers: bed.config.natsUrl, name: "writer-lag-test" });
    const jsm = await jetstreamManager(nc);
    await nc.close();
    const metrics = createWriterMetrics(() =>
      consumerLag(jsm, bed.config.streamName, bed.config.consumerName),
    );
    const text = await metrics.registry.metrics();
    assert.equal(metricSample(text, "tallyflow_writer_jetstream_reachable"), 0);
    assert.ok(Number.isNaN(metricSample(text, "tallyflow_writer_consumer_undelivered_messages")));
  });
});
