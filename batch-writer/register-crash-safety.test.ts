import assert from "node:assert/strict";
import { randomInt, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { v7 as uuidv7 } from "uuid";
import { encodeCompletionMessage, type StoredCompletion } from "../common/register-completion.ts";
import type { StoredVote } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";
import { killChild, stopChild } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { insertSchool } from "../test-support/presence-state.ts";
import { spawnWriter } from "../test-support/service-children.ts";
import { shuffle } from "../test-support/shuffle.ts";
import { countVotes, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, publishMany } from "../test-support/vote-messages.ts";
import { createWriterTestBed, type WriterTestBed } from "../test-support/writer-test-bed.ts";

// Exactly-once for lesson registers: writers killed with SIGKILL mid-batch while absences,
// their taking back, corrections after the completion and the completions themselves (some
// sent twice under new message ids, as a tablet resending past the duplicate window) are
// redelivered; each register's state then equals what its events and its one completion say.

const GROUPS = 40;
const PUPILS = 25;
const KILLS = 3;
const START = Date.parse("2026-05-04T08:00:00Z");
const COMPLETED = START + 40 * 60_000;

const groupOf = (g: number) => `G${g}`;
const registerOf = (g: number) => `lesson-${g}`;
const pupil = (g: number, p: number) => `oak-${g}-${String(p).padStart(2, "0")}`;

interface Plan {
  messages: StoredVote[][];
  completions: { completion: StoredCompletion; msgIds: string[] }[];
  events: number;
  expected: Map<
    string,
    { absent: Set<string>; changed: boolean; events: number; withEvent: number }
  >;
}

function plan(incarnations: Map<string, number>): Plan {
  const messages: StoredVote[][] = [];
  const completions: Plan["completions"] = [];
  const expected: Plan["expected"] = new Map();
  let events = 0;
  for (let g = 0; g < GROUPS; g++) {
    const pollId = registerOf(g);
    const votes: StoredVote[] = [];
    for (let p = 0; p < PUPILS; p++) {
      const roll = randomInt(100);
      if (roll >= 30) continue;
      const at = (ms: number) => new Date(START + ms);
      const voterId = pupil(g, p);
      const v = (optionId: string, castAt: Date) =>
        votes.push(makeVote({ pollId, optionId, voterId, castAt, kioskId: "tablet" }));
      // Absent; sometimes taken back before the completion; sometimes a correction after it.
      v("absent", at(randomInt(30 * 60_000)));
      if (roll < 8) v("present", at(35 * 60_000 + randomInt(60_000)));
      else if (roll < 12) v("present", at(50 * 60_000 + randomInt(60_000)));
    }
    const latest = new Map<string, StoredVote>();
    for (const vote of [...votes].sort(
      (a, b) => a.castAt.localeCompare(b.castAt) || a.eventId.localeCompare(b.eventId),
    ))
      latest.set(vote.voterId!, vote);
    expected.set(pollId, {
      absent: new Set(
        [...latest.values()].filter((v) => v.optionId === "absent").map((v) => v.voterId!),
      ),
      changed: votes.some((v) => Date.parse(v.castAt) > COMPLETED),
      events: votes.length,
      withEvent: latest.size,
    });
    events += votes.length;
    for (let i = 0; i < votes.length; ) {
      const n = 1 + randomInt(6);
      messages.push(votes.slice(i, i + n));
      i += n;
    }
    const completion: StoredCompletion = {
      completionId: randomUUID(),
      pollId,
      pollIncarnation: incarnations.get(pollId)!,
      completedAt: new Date(COMPLETED).toISOString(),
      receivedAt: new Date(COMPLETED).toISOString(),
      by: "tablet",
    };
    completions.push({
      completion,
      msgIds: randomInt(3) === 0 ? [uuidv7(), uuidv7()] : [uuidv7()],
    });
  }
  // Resends of events in messages of their own (a kiosk retrying past the window).
  const all = messages.flat();
  for (let i = 0; i < 40; i++) messages.push([all[randomInt(all.length)]!]);
  return { messages: shuffle(messages), completions, events, expected };
}

describe("batch writer: lesson registers under kill -9", () => {
  let bed: WriterTestBed;
  const incarnations = new Map<string, number>();

  before(async () => {
    // Small batches: a quiet machine's writer would otherwise store everything between two
    // kills, and the test would prove less than its three kills.
    bed = await createWriterTestBed({ PG_POOL_SIZE: "2", BATCH_MAX_MESSAGES: "5" });
    const pool = bed.db.pool;
    await insertSchool(pool, "oak", "UTC");
    for (let g = 0; g < GROUPS; g++) {
      const { rows } = await pool.query<{ incarnation: string }>(
        `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
         values ($1, $1, $1, 'oak', 'register', 'roster', array[$2], $3, $4) returning incarnation`,
        [registerOf(g), groupOf(g), new Date(START), new Date(START + 45 * 60_000)],
      );
      incarnations.set(registerOf(g), Number(rows[0]!.incarnation));
      await pool.query(
        `insert into poll_options (poll_id, id, label, position)
         values ($1, 'absent', 'Absent', 1), ($1, 'present', 'Present', 2)`,
        [registerOf(g)],
      );
    }
    // The roster in one statement (a thousand round trips cost seconds on a busy machine).
    const ids: string[] = [];
    const groups: string[] = [];
    for (let g = 0; g < GROUPS; g++)
      for (let p = 0; p < PUPILS; p++) {
        ids.push(pupil(g, p));
        groups.push(groupOf(g));
      }
    await pool.query(
      `insert into people (school_id, id, groups)
       select 'oak', id, array[grp] from unnest($1::text[], $2::text[]) as r(id, grp)`,
      [ids, groups],
    );
  });

  after(async () => {
    await bed?.close();
  });

  test("kill -9 at random points: every event stored once, each register completed once, its state from its events", async (t) => {
    const { messages, completions, events, expected } = plan(incarnations);
    await publishMany(bed.js, bed.config.subjectPrefix, messages);
    for (const { completion, msgIds } of shuffle(completions))
      for (const msgID of msgIds)
        await bed.js.publish(
          voteSubject(bed.config.subjectPrefix, completion.pollId),
          encodeCompletionMessage(completion),
          { msgID },
        );

    let kills = 0;
    while (kills < KILLS) {
      const child = spawnWriter(bed.env);
      try {
        const before = await countVotes(bed.db.pool);
        await eventually(
          "the writer makes progress",
          async () => (await countVotes(bed.db.pool)) > before + events / 12,
          { timeoutMs: 30_000, intervalMs: 20 },
        );
        await sleep(randomInt(0, 50));
        const pending = await bed.pending();
        await killChild(child);
        if (pending === 0) break;
        kills++;
        t.diagnostic(`kill -9 #${kills}: ${await countVotes(bed.db.pool)} events stored`);
      } catch (err) {
        await killChild(child);
        throw new Error(`writer output:\n${child.output()}`, { cause: err });
      }
    }
    assert.equal(kills, KILLS, "the writer was killed while it still had work");

    const last = spawnWriter(bed.env);
    try {
      await eventually(
        "every event and completion stored",
        async () =>
          (await countVotes(bed.db.pool)) === events &&
          (await bed.pending()) === 0 &&
          (await queryNumber(
            bed.db.pool,
            "select count(*) from register_states where completion_id is not null",
          )) === GROUPS
            ? true
            : undefined,
        { timeoutMs: 60_000 },
      );
    } catch (err) {
      throw new Error(`writer output:\n${last.output()}`, { cause: err });
    } finally {
      const exit = await stopChild(last);
      assert.deepEqual(exit, { code: 0, signal: null }, last.output());
    }

    const { rows } = await bed.db.pool.query<{
      poll_id: string;
      completion_id: string;
      present: number;
      absent: number;
      pending: number;
      changed_after_completion: boolean;
      events: number;
      roster: string[];
    }>("select * from register_states order by poll_id");
    assert.equal(rows.length, GROUPS);
    const byPoll = new Map(
      completions.map((c) => [c.completion.pollId, c.completion.completionId]),
    );
    for (const r of rows) {
      const want = expected.get(r.poll_id)!;
      assert.equal(r.completion_id, byPoll.get(r.poll_id), `${r.poll_id}: its one completion`);
      assert.equal(r.roster.length, PUPILS);
      assert.equal(r.events, want.events, `${r.poll_id}: every event once`);
      assert.deepEqual(
        [r.present, r.absent, r.pending, r.changed_after_completion],
        [PUPILS - want.absent.size, want.absent.size, 0, want.changed],
        r.poll_id,
      );
      const people = await bed.db.pool.query<{ person_id: string; status: string }>(
        "select person_id, status from register_statuses where poll_id = $1",
        [r.poll_id],
      );
      assert.equal(people.rows.length, PUPILS);
      for (const p of people.rows)
        assert.equal(p.status, want.absent.has(p.person_id) ? "absent" : "present", p.person_id);
      // Stored one by one: only the people with an event (migration 037), each once.
      const stored = await queryNumber(
        bed.db.pool,
        `select count(*) from register_people where poll_id = '${r.poll_id}'`,
      );
      assert.equal(stored, want.withEvent, `${r.poll_id}: a row per person with an event`);
    }
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
  });
});
