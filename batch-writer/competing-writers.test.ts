import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { StoredVote } from "../common/vote.ts";
import { type NodeChild, stopChild } from "../harness/child-processes.ts";
import { freePort } from "../harness/ports.ts";
import { eventually } from "../harness/waiting.ts";
import { scrapeMetric } from "../test-support/metrics-scrape.ts";
import { spawnWriter } from "../test-support/service-children.ts";
import { assertRollupsMatchVotes, insertPoll, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, publishMany } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

const SINGLE_MESSAGES = 4_000;
const BATCH_MESSAGES = 40; // of 25 votes each
const TOTAL = SINGLE_MESSAGES + BATCH_MESSAGES * 25;

describe("batch writer: two writer processes on one consumer", () => {
  let bed: WriterTestBed;

  before(async () => {
    bed = await createWriterTestBed({ BATCH_MAX_MESSAGES: "200" });
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(bed.db.pool, "color", ["red", "blue", "green"]);
  });

  after(async () => {
    await bed?.close();
  });

  test("share the work, store every vote once and shut down cleanly", async (t) => {
    const ports = [await freePort(), await freePort()];
    const writers: NodeChild[] = ports.map((port) =>
      spawnWriter({ ...bed.env, WRITER_METRICS_PORT: String(port) }),
    );
    let exits: unknown[] = [];
    const outputs = () => writers.map((w, i) => `--- writer ${i}:\n${w.output()}`).join("\n");
    try {
      // Both are up and both have a pull request waiting before any vote arrives.
      for (const port of ports)
        await eventually(`writer on port ${port} is ready`, async () => {
          const res = await fetch(`http://127.0.0.1:${port}/healthz`);
          return res.status === 200;
        });
      await eventually("both writers are pulling", async () => {
        const info = await bed.jsm.consumers.info(bed.config.streamName, bed.config.consumerName);
        return info.num_waiting >= 2;
      });

      const messages: StoredVote[][] = [];
      for (let i = 0; i < SINGLE_MESSAGES; i++)
        messages.push([makeVote({ pollId: "lunch", optionId: i % 3 ? "pizza" : "salad" })]);
      for (let i = 0; i < BATCH_MESSAGES; i++)
        messages.push(
          Array.from({ length: 25 }, (_, j) =>
            makeVote({
              pollId: "color",
              optionId: ["red", "blue", "green"][j % 3]!,
              kioskId: "k9",
            }),
          ),
        );
      await publishMany(bed.js, bed.config.subjectPrefix, messages, 100);
      await waitForVotes(bed, TOTAL);

      const inserted = [];
      for (const port of ports)
        inserted.push(
          await scrapeMetric(port, "tallyflow_writer_votes_total", { outcome: "inserted" }),
        );
      t.diagnostic(`votes inserted per writer: ${inserted.join(", ")}`);
      assert.ok(
        inserted.every((n) => n > 0),
        `both writers stored votes: ${inserted.join(" + ")}`,
      );
      assert.equal(
        inserted[0]! + inserted[1]!,
        TOTAL,
        `each vote inserted by exactly one writer: ${inserted.join(" + ")}`,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${outputs()}`, { cause: err });
    } finally {
      exits = await Promise.all(writers.map((w) => stopChild(w)));
    }
    assert.deepEqual(
      exits,
      [
        { code: 0, signal: null },
        { code: 0, signal: null },
      ],
      `SIGTERM: graceful shutdown, exit 0\n${outputs()}`,
    );

    assert.equal(
      await queryNumber(bed.db.pool, "select count(distinct event_id) from votes"),
      TOTAL,
    );
    assert.equal(await assertRollupsMatchVotes(bed.db.pool), TOTAL);
    assert.equal(await bed.pending(), 0);
  });
});
