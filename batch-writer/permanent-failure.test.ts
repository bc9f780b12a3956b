import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PubAck } from "@nats-io/jetstream";
import type { StoredVote } from "../common/vote.ts";
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
import { makeVote, publishVotes } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

// A failure that is neither transient nor about the data: a trigger on `votes` that raises
// (SQLSTATE P0001) for one poll only, as a buggy trigger or a half-applied deploy would.
// Before, the writer retried such a batch for ever and stored nothing behind it.
const CURSE = `
  create function test_curse() returns trigger language plpgsql as $$
  begin
    if new.poll_id = 'cursed' then
      raise exception 'test trigger refuses poll %', new.poll_id;
    end if;
    return new;
  end $$;
  create trigger test_curse before insert on votes for each row execute function test_curse();`;

const ATTEMPTS = 3;

describe("batch writer: a permanent failure that is not about the data", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;
  const good: StoredVote[] = [];
  const cursed: StoredVote[] = [];
  const cursedAcks: PubAck[] = [];

  const metric = async (
    name: "deadLetters" | "permanentFailures" | "retries",
    labels: Record<string, string> = {},
  ) =>
    (await writer!.metrics[name].get()).values.find((v) =>
      Object.entries(labels).every(
        ([k, value]) => (v.labels as Record<string, unknown>)[k] === value,
      ),
    )?.value ?? 0;

  before(async () => {
    bed = await createWriterTestBed({ PERMANENT_FAILURE_ATTEMPTS: String(ATTEMPTS) });
    await insertPoll(bed.db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(bed.db.pool, "cursed", ["yes", "no"]);
    await bed.db.pool.query(CURSE);
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("the failing messages are dead-lettered after the bounded attempts, the rest is stored", async () => {
    const goodMessage = async (n: number) => {
      const votes = Array.from({ length: n }, (_, i) =>
        makeVote({ pollId: "lunch", optionId: i % 2 ? "pizza" : "salad" }),
      );
      good.push(...votes);
      await publishVotes(bed.js, bed.config.subjectPrefix, votes);
    };
    const cursedMessage = async (n: number) => {
      const votes = Array.from({ length: n }, () =>
        makeVote({ pollId: "cursed", optionId: "yes" }),
      );
      cursed.push(...votes);
      cursedAcks.push(await publishVotes(bed.js, bed.config.subjectPrefix, votes));
    };
    // All in the stream before the writer starts: one batch, the cursed messages among
    // good ones, so the writer has to find them.
    await goodMessage(1);
    await cursedMessage(1);
    await goodMessage(5);
    await goodMessage(1);
    await cursedMessage(3);
    await goodMessage(2);

    writer = await startWriterInProcess(bed.env);
    await waitForVotes(bed, good.length);
    const stored = await bed.db.pool.query<{ event_id: string }>("select event_id from votes");
    assert.deepEqual(stored.rows.map((r) => r.event_id).sort(), good.map((v) => v.eventId).sort());
    await assertRollupsMatchVotes(bed.db.pool);

    const { rows: dead } = await bed.db.pool.query<{
      stream_seq: number;
      item_index: number;
      reason: string;
      error: string;
      deliveries: number;
    }>(
      "select stream_seq, item_index, reason, error, deliveries from dead_letters order by stream_seq",
    );
    assert.deepEqual(
      dead.map((d) => [d.stream_seq, d.item_index, d.reason, d.deliveries]),
      cursedAcks.map((a) => [a.seq, -1, "store_failed", 1]),
    );
    for (const d of dead) assert.match(d.error, /^P0001: test trigger refuses poll cursed$/);

    assert.ok((await metric("permanentFailures")) >= ATTEMPTS, "the batch was retried first");
    assert.equal(await metric("deadLetters", { reason: "store_failed" }), 2);
    assert.equal(await metric("deadLetters", { reason: "invalid" }), 0);
    assert.equal(await metric("retries"), 0, "nothing was taken for an outage");
    // Terminated, not left pending: the stream is empty.
    await eventually(
      "the work-queue stream is empty",
      async () => (await streamMessageCount(bed.config.natsUrl, bed.config.streamName)) === 0,
    );
  });

  test("the writer goes on storing what comes next", async () => {
    const next = [makeVote({ pollId: "lunch", optionId: "pizza" })];
    good.push(...next);
    await publishVotes(bed.js, bed.config.subjectPrefix, next);
    await waitForVotes(bed, good.length);
  });

  test("once the trigger is fixed, dlq replay stores the dead-lettered votes once", async () => {
    await bed.db.pool.query("drop trigger test_curse on votes; drop function test_curse()");
    const env = {
      DATABASE_URL: bed.db.url,
      NATS_URL: bed.config.natsUrl,
      STREAM_NAME: bed.config.streamName,
      SUBJECT_PREFIX: bed.config.subjectPrefix,
      LOG_LEVEL: "warn",
    };
    const list = await runNode("scripts/dlq.ts", ["list"], env);
    assert.equal(list.code, 0, list.stderr);
    assert.equal(
      list.stdout.match(/deliveries=1 {2}reason=store_failed$/gm)?.length,
      2,
      list.stdout,
    );
    assert.match(list.stdout, /error: P0001: test trigger refuses poll cursed/);
    const replay = await runNode("scripts/dlq.ts", ["replay", "--all"], env);
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(replay.stdout.match(/^#\d+ replayed as stream seq \d+$/gm)?.length, 2);
    await waitForVotes(bed, good.length + cursed.length);
    assert.equal(
      await queryNumber(bed.db.pool, "select count(*) from votes where poll_id = 'cursed'"),
      cursed.length,
    );
    await assertRollupsMatchVotes(bed.db.pool);
    // Again: JetStream drops the repeated publish, nothing counts twice.
    const again = await runNode("scripts/dlq.ts", ["replay", "--all"], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /nothing to replay/);
    assert.equal(await countVotes(bed.db.pool), good.length + cursed.length);
  });

  test("a message whose dead letter cannot be written either is held, not lost", async () => {
    await bed.db.pool.query(CURSE);
    await bed.db.pool.query(`
      create function test_refuse_dead_letters() returns trigger language plpgsql as $$
      begin raise exception 'test trigger refuses dead letters'; end $$;
      create trigger test_refuse_dead_letters before insert on dead_letters
        for each row execute function test_refuse_dead_letters();`);
    const before = await queryNumber(bed.db.pool, "select count(*) from dead_letters");
    const failuresBefore = await metric("permanentFailures");
    const ack = await publishVotes(bed.js, bed.config.subjectPrefix, [
      makeVote({ pollId: "cursed", optionId: "no" }),
    ]);
    await eventually(
      "the writer keeps failing at the dead letter",
      async () => (await metric("permanentFailures")) >= failuresBefore + ATTEMPTS + 2,
    );
    assert.ok((await bed.pending()) > 0, "held: neither acked nor terminated");
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), before);

    await bed.db.pool.query(
      "drop trigger test_refuse_dead_letters on dead_letters; drop function test_refuse_dead_letters()",
    );
    await eventually("the dead letter is written", async () => (await bed.pending()) === 0);
    assert.equal(
      await queryNumber(
        bed.db.pool,
        "select count(*) from dead_letters where stream_seq = $1 and reason = 'store_failed'",
        [ack.seq],
      ),
      1,
    );
    await bed.db.pool.query("drop trigger test_curse on votes; drop function test_curse()");
  });
});
