import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { PubAck } from "@nats-io/jetstream";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { runNode } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { assertRollupsMatchVotes, countVotes, queryNumber } from "../test-support/stored-votes.ts";
import { streamMessageCount } from "../test-support/streams.ts";
import { makeVote, publishRaw, publishVotes } from "../test-support/vote-messages.ts";
import {
  createPoisonTestBed,
  REFUSED_KIOSK,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

interface DeadLetterRow {
  id: number;
  stream: string;
  stream_seq: number;
  item_index: number;
  subject: string;
  raw: Buffer;
  error: string;
  reason: string;
  deliveries: number;
  replayed_at: Date | null;
}

// The kiosk whose votes this test database refuses (a CHECK constraint added here only):
// data that passes validation but that Postgres will not store (SQLSTATE 23514).

describe("batch writer: poison messages among good ones", () => {
  let bed: WriterTestBed;
  let writer: InProcessWriter | undefined;
  const good: StoredVote[] = [];
  const seqs: Record<string, PubAck> = {};
  let badItem: unknown;
  let refusedVote: StoredVote;
  let refusedBytes: Uint8Array;

  const deadLetters = async () =>
    (await bed.db.pool.query<DeadLetterRow>("select * from dead_letters order by stream_seq")).rows;
  const dlqEnv = () => ({
    DATABASE_URL: bed.db.url,
    NATS_URL: bed.config.natsUrl,
    STREAM_NAME: bed.config.streamName,
    SUBJECT_PREFIX: bed.config.subjectPrefix,
    LOG_LEVEL: "warn",
  });
  const subject = (pollId: string) => voteSubject(bed.config.subjectPrefix, pollId);

  before(async () => {
    bed = await createPoisonTestBed();
  });

  after(async () => {
    await writer?.close();
    await bed?.close();
  });

  test("bad messages and votes go to dead_letters, good ones are stored, nothing blocks", async () => {
    const send = async (name: string, votes: StoredVote[]) => {
      seqs[name] = await publishVotes(bed.js, bed.config.subjectPrefix, votes);
    };
    const vote = (optionId = "pizza") => {
      const v = makeVote({ pollId: "lunch", optionId });
      good.push(v);
      return v;
    };

    // All published before the writer starts: they share one batch, so the writer has to
    // isolate the refused message among good ones.
    await send("first", [vote()]);
    seqs.notJson = await publishRaw(bed.js, bed.config.subjectPrefix, "lunch", "{not json");
    seqs.wrongShape = await publishRaw(
      bed.js,
      bed.config.subjectPrefix,
      "lunch",
      JSON.stringify({ pollId: "lunch", optionId: "pizza" }),
    );
    seqs.version = await publishRaw(
      bed.js,
      bed.config.subjectPrefix,
      "lunch",
      JSON.stringify({ v: 2, votes: [vote()] }),
    );
    good.pop(); // a version-2 message is refused whole
    badItem = { ...makeVote({ pollId: "lunch", optionId: "salad" }), eventId: "not-a-uuid" };
    const farOffset = { ...makeVote({ pollId: "lunch", optionId: "salad" }) };
    farOffset.castAt = "2026-01-01T12:00:00+16:00"; // valid ISO, beyond what Postgres takes
    const mixed = [vote(), vote("salad"), badItem, vote(), farOffset, vote("salad")];
    seqs.mixed = await bed.js.publish(
      subject("lunch"),
      Buffer.from(JSON.stringify({ v: 1, votes: mixed })),
    );
    await send("middle", [vote("salad")]);
    refusedVote = makeVote({ pollId: "lunch", optionId: "pizza", kioskId: REFUSED_KIOSK });
    refusedBytes = encodeVoteMessage([refusedVote]);
    seqs.refused = await bed.js.publish(subject("lunch"), refusedBytes);
    await send("batch", [vote(), vote(), vote("salad")]);
    await send("last", [vote()]);

    writer = await startWriterInProcess(bed.env);
    await waitForVotes(bed, good.length);

    const stored = await bed.db.pool.query<{ event_id: string }>("select event_id from votes");
    assert.deepEqual(stored.rows.map((r) => r.event_id).sort(), good.map((v) => v.eventId).sort());
    await assertRollupsMatchVotes(bed.db.pool);

    const dead = await deadLetters();
    const summary = dead.map((d) => ({
      stream: d.stream,
      seq: d.stream_seq,
      item: d.item_index,
      subject: d.subject,
      deliveries: d.deliveries,
      replayed: d.replayed_at,
    }));
    const row = (name: string, item = -1) => ({
      stream: bed.config.streamName,
      seq: seqs[name]!.seq,
      item,
      subject: subject("lunch"),
      deliveries: 1,
      replayed: null,
    });
    assert.deepEqual(summary, [
      row("notJson"),
      row("wrongShape"),
      row("version"),
      row("mixed", 2),
      row("mixed", 4),
      row("refused"),
    ]);

    const [notJson, wrongShape, version, item2, item4, refused] = dead;
    assert.equal(notJson!.raw.toString("utf8"), "{not json");
    assert.match(notJson!.error, /^not JSON/);
    assert.equal(
      wrongShape!.raw.toString("utf8"),
      JSON.stringify({ pollId: "lunch", optionId: "pizza" }),
    );
    assert.match(wrongShape!.error, /not a vote message/);
    assert.match(version!.error, /unsupported message version 2/);
    assert.deepEqual(JSON.parse(item2!.raw.toString("utf8")), badItem);
    assert.match(item2!.error, /eventId: must be a UUID/);
    assert.deepEqual(JSON.parse(item4!.raw.toString("utf8")), farOffset);
    assert.match(item4!.error, /castAt: must have a UTC offset/);
    assert.deepEqual(refused!.raw, Buffer.from(refusedBytes));
    assert.match(refused!.error, /^23514: .*test_refuses_kiosk/);
    // Data errors, decoded or refused by Postgres, are all "invalid" (not store_failed).
    assert.deepEqual(
      dead.map((d) => d.reason),
      dead.map(() => "invalid"),
    );

    // Nothing is left pending or redelivered: acked, or terminated after dead-lettering.
    assert.equal(await bed.pending(), 0);
    await eventually(
      "the work-queue stream is empty",
      async () => (await streamMessageCount(bed.config.natsUrl, bed.config.streamName)) === 0,
      { timeoutMs: 5_000 },
    );
    const deadLettered = (await writer.metrics.deadLetters.get()).values.find(
      (v) => v.labels.reason === "invalid",
    )?.value;
    assert.equal(deadLettered, 6);
  });

  test("dlq list, then fix and replay: the votes are stored once", async () => {
    const list = await runNode("scripts/dlq.ts", ["list"], dlqEnv());
    assert.equal(list.code, 0, list.stderr);
    const dead = await deadLetters();
    for (const d of dead)
      assert.match(list.stdout, new RegExp(`^#${d.id} .* seq=${d.stream_seq}`, "m"));
    assert.equal(list.stdout.match(/^#\d+ /gm)?.length, 6, list.stdout);
    assert.match(list.stdout, /error: 23514: /);
    assert.match(list.stdout, /item=2 +deliveries=1/);

    const before = await countVotes(bed.db.pool);
    const refused = dead.find((d) => d.stream_seq === seqs.refused!.seq)!;
    const item2 = dead.find((d) => d.item_index === 2)!;

    // The fixes: the constraint that refused the kiosk is dropped; the bad event id is
    // corrected in the dead letter itself.
    await bed.db.pool.query("alter table votes drop constraint test_refuses_kiosk");
    const fixedItem = {
      ...(badItem as StoredVote),
      eventId: "0190f5c2-7d3e-7a11-8b2c-1234567890ab",
    };
    await bed.db.pool.query("update dead_letters set raw = $2 where id = $1", [
      item2.id,
      Buffer.from(JSON.stringify(fixedItem)),
    ]);

    for (const d of [refused, item2]) {
      const replay = await runNode("scripts/dlq.ts", ["replay", String(d.id)], dlqEnv());
      assert.equal(replay.code, 0, replay.stderr);
      assert.match(replay.stdout, new RegExp(`^#${d.id} replayed as stream seq \\d+\\n$`));
    }
    await waitForVotes(bed, before + 2);
    const { rows } = await bed.db.pool.query<{ event_id: string; kiosk_id: string }>(
      "select event_id, kiosk_id from votes where event_id = any($1::uuid[]) order by kiosk_id",
      [[refusedVote.eventId, fixedItem.eventId]],
    );
    assert.deepEqual(rows, [
      { event_id: fixedItem.eventId, kiosk_id: fixedItem.kioskId },
      { event_id: refusedVote.eventId, kiosk_id: REFUSED_KIOSK },
    ]);
    await assertRollupsMatchVotes(bed.db.pool);

    const replayed = await bed.db.pool.query<{ id: number }>(
      "select id from dead_letters where replayed_at is not null order by id",
    );
    assert.deepEqual(
      replayed.rows.map((r) => r.id),
      [refused.id, item2.id].sort((a, b) => a - b),
    );

    // Replaying again is harmless: JetStream drops the repeat, nothing is counted twice.
    const again = await runNode("scripts/dlq.ts", ["replay", String(refused.id)], dlqEnv());
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /\(already replayed\)/);

    const remaining = await runNode("scripts/dlq.ts", ["list"], dlqEnv());
    assert.equal(remaining.code, 0, remaining.stderr);
    assert.equal(remaining.stdout.match(/^#\d+ /gm)?.length, 4, remaining.stdout);
    assert.doesNotMatch(remaining.stdout, new RegExp(`^#${refused.id} `, "m"));
    const all = await runNode("scripts/dlq.ts", ["list", "--all"], dlqEnv());
    assert.equal(all.stdout.match(/^#\d+ /gm)?.length, 6, all.stdout);
    assert.equal(all.stdout.match(/replayed=/g)?.length, 2, all.stdout);

    const missing = await runNode("scripts/dlq.ts", ["replay", "999999"], dlqEnv());
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no dead letter #999999/);
    const usage = await runNode("scripts/dlq.ts", ["frobnicate"], dlqEnv());
    // A bad command line exits 2, as in every script (scripts/cli.ts); it was 1 before.
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /usage: npm run dlq/);

    await eventually("nothing pending", async () => (await bed.pending()) === 0);
    assert.equal(await countVotes(bed.db.pool), before + 2);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 6);
  });
});
