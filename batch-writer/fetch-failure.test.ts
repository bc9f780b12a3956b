import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Consumer, FetchOptions, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { JetStreamError } from "@nats-io/jetstream";
import { createLogger } from "../common/logger.ts";
import { eventually } from "../harness/waiting.ts";
import { assertRollupsMatchVotes, countVotes, insertPoll } from "../test-support/stored-votes.ts";
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import { createWriterTestBed, type WriterTestBed } from "../test-support/writer-test-bed.ts";
import { BatchWriter } from "./writer.ts";
import { consumerLag, createWriterMetrics } from "./writer-metrics.ts";

/**
 * The real JetStream client, except that one pull ends with an error after it delivered
 * `failAfter` messages, as nats.js does ("heartbeats missed") when the event loop was
 * busy. Messages, acks and the consumer are all real; only the pull's ending is forced.
 */
function jetStreamWithOneFailingPull(js: JetStreamClient, failAfter: number): JetStreamClient {
  let delivered = 0;
  let failed = false;
  const wrap = (real: Consumer): Consumer =>
    new Proxy(real, {
      get(target, prop, receiver) {
        if (prop !== "fetch") return Reflect.get(target, prop, receiver);
        return async (opts?: FetchOptions) => {
          const iter = await target.fetch(opts);
          if (failed) return iter;
          return (async function* (): AsyncGenerator<JsMsg> {
            for await (const m of iter) {
              yield m;
              delivered++;
              if (delivered >= failAfter && !failed) {
                failed = true;
                iter.stop();
                throw new JetStreamError("heartbeats missed");
              }
            }
          })();
        };
      },
    });
  const consumers = {
    get: async (stream: string, name: string) => wrap(await js.consumers.get(stream, name)),
  };
  return new Proxy(js, {
    get: (target, prop, receiver) =>
      prop === "consumers" ? consumers : Reflect.get(target, prop, receiver),
  });
}

describe("batch writer: a pull that fails after delivering messages", () => {
  let bed: WriterTestBed;
  let writer: BatchWriter | undefined;

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
  });

  after(async () => {
    await writer?.stop();
    await bed?.close();
  });

  test("the messages it delivered are stored and acked, and the writer does not stall", async () => {
    // Published before the writer starts: its first pull asks for one message, the
    // second for the whole backlog, which is the one that fails after 3 deliveries.
    const votes = Array.from({ length: 50 }, (_, i) =>
      makeVote({ pollId: "lunch", optionId: i % 2 === 0 ? "pizza" : "salad" }),
    );
    for (const v of votes) await publishVotes(bed.js, bed.config.subjectPrefix, [v]);

    const metrics = createWriterMetrics(() =>
      consumerLag(bed.jsm, bed.config.streamName, bed.config.consumerName),
    );
    writer = new BatchWriter({
      pool: bed.db.pool,
      nc: bed.nc,
      js: jetStreamWithOneFailingPull(bed.js, 3),
      config: bed.config,
      logger: createLogger("silent", { service: "batch-writer" }),
      metrics,
      healer: bed.healer,
    });
    writer.start();

    // AckWait is 2 s here: what the failed pull had not yet handed over is redelivered
    // within seconds. What it had handed over is held by the writer, which keeps it
    // alive with working(); before the fix it was never stored, so this timed out.
    await eventually(
      "every vote stored and acked",
      async () => (await countVotes(bed.db.pool)) === 50 && (await bed.pending()) === 0,
      { timeoutMs: 20_000 },
    );
    await assertRollupsMatchVotes(bed.db.pool);
    const ended = await metrics.fetchesEndedEarly.get();
    assert.equal(ended.values[0]?.value, 1, "the failed pull was counted");
  });
});
