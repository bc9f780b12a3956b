import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { StoredVote } from "../common/vote.ts";
import { killChild, stopChild } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { spawnWriter } from "../test-support/service-children.ts";
import { shuffle } from "../test-support/shuffle.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  insertPoll,
  queryNumber,
} from "../test-support/stored-votes.ts";
import { makeVote, publishMany } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

const POLLS = ["alpha", "beta", "gamma"];
const OPTIONS = ["a", "b", "c", "d"];
const BIG = 500;
// 24,000 votes in ~4,400 messages: each kill lands after a few batches of 500 messages (the
// four kills of a loaded run had stored 1,502 votes), so the writers killed still have most
// of the backlog, and the last one's run is not most of the test (60,000 votes took 15 s).
const BIG_MESSAGES = 40; // 20,000 votes
const SINGLE_MESSAGES = 4_000;
const RESENT_SINGLES = 400; // single-vote messages repeating a vote of a batch message
const RESENT_INSIDE_BATCHES = 10; // batch messages carrying 25 votes of another message
const KILLS = 4;

/**
 * About 24,000 votes in single-vote and 500-vote messages, cast over the last two hours
 * (so many rollup buckets), some of them published twice in different messages.
 */
function backlog(): { messages: StoredVote[][]; distinct: number; total: number } {
  const now = Date.now();
  const vote = (pollId: string, kioskId: string) =>
    makeVote({
      pollId,
      optionId: OPTIONS[randomInt(OPTIONS.length)]!,
      kioskId,
      castAt: new Date(now - randomInt(2 * 3_600_000)),
    });
  const big: StoredVote[][] = Array.from({ length: BIG_MESSAGES }, (_, m) => {
    const pollId = POLLS[m % POLLS.length]!;
    return Array.from({ length: BIG }, () => vote(pollId, `kiosk-${m % 7}`));
  });
  const singles: StoredVote[][] = Array.from({ length: SINGLE_MESSAGES }, (_, i) => [
    vote(POLLS[i % POLLS.length]!, `kiosk-s${i % 5}`),
  ]);
  const distinct = BIG * BIG_MESSAGES + SINGLE_MESSAGES;
  // Resends: the same vote objects (same event ids) in other messages.
  for (let i = 0; i < RESENT_SINGLES; i++) singles.push([big[i % BIG_MESSAGES]![i]!]);
  for (let i = 0; i < RESENT_INSIDE_BATCHES; i++) {
    const source = big[(i * 7 + 3) % BIG_MESSAGES]!;
    const target = big[(i * 11) % BIG_MESSAGES]!;
    if (source === target) continue;
    const extra = source.slice(100, 125).filter((v) => v.pollId === target[0]!.pollId);
    target.push(...extra);
  }
  const messages = shuffle([...big, ...singles]);
  const total = messages.reduce((n, m) => n + m.length, 0);
  return { messages, distinct, total };
}

describe("batch writer: crash safety", () => {
  let bed: WriterTestBed;

  before(async () => {
    // Batches of at most 500 messages: many commits, so the kills land at different stages.
    bed = await createWriterTestBed({ PG_POOL_SIZE: "2", BATCH_MAX_MESSAGES: "500" });
    for (const id of POLLS) await insertPoll(bed.db.pool, id, OPTIONS);
  });

  after(async () => {
    await bed?.close();
  });

  test("kill -9 at random points while writing: every vote stored exactly once", async (t) => {
    const { messages, distinct, total } = backlog();
    assert.ok(total > distinct, "the backlog carries duplicates");
    await publishMany(bed.js, bed.config.subjectPrefix, messages);
    assert.equal(await bed.pending(), messages.length);

    let kills = 0;
    while (kills < KILLS) {
      const child = spawnWriter(bed.env);
      try {
        // Kill only once it is working: some progress since it started, then a random moment.
        const before = await countVotes(bed.db.pool);
        await eventually(
          "the writer makes progress",
          async () => (await countVotes(bed.db.pool)) > before,
          { timeoutMs: 30_000, intervalMs: 20 },
        );
        await sleep(randomInt(0, 300));
        const pending = await bed.pending();
        await killChild(child);
        if (pending === 0) break;
        kills++;
        t.diagnostic(`kill -9 #${kills}: ${await countVotes(bed.db.pool)} votes stored`);
      } catch (err) {
        await killChild(child);
        throw new Error(`writer output:\n${child.output()}`, { cause: err });
      }
    }
    assert.equal(kills, KILLS, "the writer was killed while it still had work");
    const stored = await countVotes(bed.db.pool);
    assert.ok(stored < distinct, `killed before the end (${stored} of ${distinct} stored)`);

    // A last writer, not killed, finishes the backlog (including what the dead ones held).
    const last = spawnWriter(bed.env);
    try {
      await waitForVotes(bed, distinct, 60_000);
    } catch (err) {
      throw new Error(`writer output:\n${last.output()}`, { cause: err });
    } finally {
      const exit = await stopChild(last);
      assert.deepEqual(exit, { code: 0, signal: null }, last.output());
    }

    assert.equal(
      await queryNumber(bed.db.pool, "select count(distinct event_id) from votes"),
      distinct,
    );
    assert.equal(await assertRollupsMatchVotes(bed.db.pool), distinct);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from rejected_votes"), 0);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from poll_changes"), POLLS.length);
  });
});
