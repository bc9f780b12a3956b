import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { StoredVote } from "../common/vote.ts";
import { eventually } from "../harness/waiting.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { shuffle } from "../test-support/shuffle.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  insertPoll,
  queryNumber,
} from "../test-support/stored-votes.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { makeVote, publishMany } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

const OPTIONS = ["red", "green", "blue"];

function messages(pollId: string, singles: number, batches: number, perBatch: number) {
  const out: StoredVote[][] = [];
  const vote = (i: number) => makeVote({ pollId, optionId: OPTIONS[i % OPTIONS.length]! });
  for (let i = 0; i < singles; i++) out.push([vote(i)]);
  for (let b = 0; b < batches; b++) out.push(Array.from({ length: perBatch }, (_, i) => vote(i)));
  return out;
}

describe("batch writer: Postgres unavailable for a while", () => {
  let bed: WriterTestBed;
  let proxy: TcpProxy;
  let writer: InProcessWriter | undefined;
  let expected = 0;

  const permanentFailures = async () =>
    (await writer!.metrics.permanentFailures.get()).values[0]?.value ?? 0;
  const metric = async (name: "rows" | "retries", outcome?: string) => {
    const values = (await writer!.metrics[name].get()).values;
    return values.find((v) => outcome === undefined || v.labels.outcome === outcome)?.value ?? 0;
  };

  before(async () => {
    bed = await createWriterTestBed();
    await insertPoll(bed.db.pool, "colors", OPTIONS);
    const direct = new URL(bed.db.url);
    proxy = new TcpProxy(direct.hostname, Number(direct.port || 5432));
    await proxy.up();
    const viaProxy = new URL(bed.db.url);
    viaProxy.port = String(proxy.port);
    writer = await startWriterInProcess({
      ...bed.env,
      DATABASE_URL: viaProxy.toString(),
      RETRY_MIN_MS: "50",
      RETRY_MAX_MS: "500",
      // Small batches: a backlog takes many transactions, so a cut lands in the middle.
      BATCH_MAX_MESSAGES: "50",
      // One attempt before isolating on a non-transient failure: were any outage error
      // taken for one, votes would be dead-lettered at once and the checks below fail.
      PERMANENT_FAILURE_ATTEMPTS: "1",
    });
  });

  after(async () => {
    await proxy?.up().catch(() => {});
    await writer?.close();
    await proxy?.down();
    await bed?.close();
  });

  test("votes published during an outage are stored once it is over", async () => {
    const beforeOutage = messages("colors", 20, 4, 20);
    await publishMany(bed.js, bed.config.subjectPrefix, beforeOutage);
    expected += 100;
    await waitForVotes(bed, expected);

    await proxy.down();
    const retriesBefore = await metric("retries");
    const during = messages("colors", 100, 10, 20);
    await publishMany(bed.js, bed.config.subjectPrefix, during);
    expected += 300;
    await eventually(
      "the writer fails and retries",
      async () => (await metric("retries")) >= retriesBefore + 3,
    );
    // Held, not lost and not given up on: unacked, nothing stored, nothing dead-lettered.
    await sleep(3_000);
    assert.equal(await countVotes(bed.db.pool), 100);
    assert.ok((await bed.pending()) > 0);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await permanentFailures(), 0, "an outage is never a permanent failure");

    await proxy.up();
    await waitForVotes(bed, expected);
    assert.equal(await metric("rows", "inserted"), expected);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await assertRollupsMatchVotes(bed.db.pool), expected);
  });

  test("connections cut in the middle of writing a backlog lose and double nothing", async () => {
    const backlog = shuffle(messages("colors", 2_000, 40, 500));
    const start = await countVotes(bed.db.pool);
    await publishMany(bed.js, bed.config.subjectPrefix, backlog);
    expected += 22_000;

    for (let cut = 0; cut < 2; cut++) {
      const progress = await countVotes(bed.db.pool);
      await eventually(
        "the writer is storing the backlog",
        async () => (await countVotes(bed.db.pool)) > progress,
        { timeoutMs: 20_000, intervalMs: 10 },
      );
      assert.ok((await bed.pending()) > 0, "cut while there is work left");
      await proxy.down();
      await sleep(1_000);
      await proxy.up();
    }
    assert.ok((await countVotes(bed.db.pool)) - start < 22_000, "cut before the end");

    await waitForVotes(bed, expected);
    assert.equal(
      await queryNumber(bed.db.pool, "select count(distinct event_id) from votes"),
      expected,
    );
    assert.equal(await assertRollupsMatchVotes(bed.db.pool), expected);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await permanentFailures(), 0, "a cut connection is never a permanent failure");
  });

  test("sessions terminated by an administrator (57P01) are retried, never dead-lettered", async () => {
    const backlog = shuffle(messages("colors", 1_000, 20, 500));
    await publishMany(bed.js, bed.config.subjectPrefix, backlog);
    expected += 11_000;
    const database = new URL(bed.db.url).pathname.slice(1);
    const retriesBefore = await metric("retries");
    // Until a batch in flight was hit (the rest kills idle pool clients, a pool error only).
    // Only this file's database: other writers on the shared server are left alone.
    await eventually(
      "a terminated session failed a batch, which was retried",
      async () => {
        await bed.db.pool.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where datname = $1 and application_name = 'batch-writer'`,
          [database],
        );
        return (await metric("retries")) > retriesBefore;
      },
      { timeoutMs: 20_000, intervalMs: 10 },
    );
    await waitForVotes(bed, expected);
    assert.equal(await assertRollupsMatchVotes(bed.db.pool), expected);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await permanentFailures(), 0);
  });
});
