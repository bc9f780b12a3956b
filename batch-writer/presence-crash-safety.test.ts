import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { localInstant } from "../common/attendance/school-day.ts";
import type { StoredVote } from "../common/vote.ts";
import { killChild, stopChild } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import {
  assertAttendanceDaysMatchEvents,
  insertRegister,
  insertSchool,
} from "../test-support/presence-state.ts";
import { spawnWriter } from "../test-support/service-children.ts";
import { shuffle } from "../test-support/shuffle.ts";
import { assertRollupsMatchVotes, countVotes, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, publishMany } from "../test-support/vote-messages.ts";
import {
  createWriterTestBed,
  type WriterTestBed,
  waitForVotes,
} from "../test-support/writer-test-bed.ts";

// Exactly-once with presence upkeep: writers killed with SIGKILL mid-batch, attendance
// events redelivered and resent, and attendance_days still equal to its recomputation from
// the events stored once each.

const SCHOOLS = [
  { id: "harbour", timeZone: "Europe/London", registers: ["harbour-a", "harbour-b", "harbour-c"] },
  { id: "summit", timeZone: "Asia/Kathmandu", registers: ["summit-a", "summit-b"] },
];
const PEOPLE = 1_500;
const DAYS = ["2026-05-04", "2026-05-05"];
const RESENT = 400;
const KILLS = 3;

/** In and out of every person each day (some twice, some out only), as kiosk batches. */
function backlog(): { messages: StoredVote[][]; distinct: number } {
  const byRegister = new Map<string, StoredVote[]>();
  for (const school of SCHOOLS)
    for (let p = 0; p < PEOPLE; p++)
      for (const day of DAYS) {
        const at = (hhmm: string, spreadMs: number) =>
          new Date(localInstant(day, hhmm, school.timeZone) + randomInt(spreadMs));
        const add = (kind: "in" | "out", castAt: Date, temperatureC?: number) => {
          const register = school.registers[randomInt(school.registers.length)]!;
          const vote = makeVote({
            pollId: register,
            optionId: kind,
            voterId: `${school.id}-${p}`,
            castAt,
            kioskId: `${register}-kiosk`,
            ...(temperatureC === undefined ? {} : { temperatureC }),
          });
          byRegister.set(register, [...(byRegister.get(register) ?? []), vote]);
        };
        if (p % 13 !== 0) add("in", at("07:30", 3_600_000), 36 + randomInt(25) / 10);
        if (p % 7 === 0) add("in", at("09:00", 600_000));
        add("out", at("15:00", 5_400_000));
      }
  const messages: StoredVote[][] = [];
  let distinct = 0;
  for (const votes of byRegister.values()) {
    distinct += votes.length;
    for (let i = 0; i < votes.length; ) {
      const n = 1 + randomInt(40);
      messages.push(votes.slice(i, i + n));
      i += n;
    }
  }
  // Resends: events again, alone, in other messages (a kiosk retrying past the window).
  const all = messages.flat();
  for (let i = 0; i < RESENT; i++) messages.push([all[randomInt(all.length)]!]);
  return { messages: shuffle(messages), distinct };
}

describe("batch writer: presence upkeep under kill -9", () => {
  let bed: WriterTestBed;

  before(async () => {
    bed = await createWriterTestBed({ PG_POOL_SIZE: "2", BATCH_MAX_MESSAGES: "100" });
    for (const school of SCHOOLS) {
      await insertSchool(bed.db.pool, school.id, school.timeZone);
      for (const register of school.registers)
        await insertRegister(bed.db.pool, register, school.id);
    }
  });

  after(async () => {
    await bed?.close();
  });

  test("kill -9 at random points: every event stored once, every person-day from its events", async (t) => {
    const { messages, distinct } = backlog();
    await publishMany(bed.js, bed.config.subjectPrefix, messages);

    let kills = 0;
    while (kills < KILLS) {
      const child = spawnWriter(bed.env);
      try {
        const before = await countVotes(bed.db.pool);
        // Some batches in (a tenth of the events), so that the kills land across the run.
        await eventually(
          "the writer makes progress",
          async () => (await countVotes(bed.db.pool)) > before + distinct / 10,
          { timeoutMs: 30_000, intervalMs: 20 },
        );
        await sleep(randomInt(0, 300));
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
    assert.ok((await countVotes(bed.db.pool)) < distinct, "killed before the end");

    const last = spawnWriter(bed.env);
    try {
      await waitForVotes(bed, distinct, 60_000);
    } catch (err) {
      throw new Error(`writer output:\n${last.output()}`, { cause: err });
    } finally {
      const exit = await stopChild(last);
      assert.deepEqual(exit, { code: 0, signal: null }, last.output());
    }

    assert.equal(await assertRollupsMatchVotes(bed.db.pool), distinct);
    const days = await assertAttendanceDaysMatchEvents(bed.db.pool);
    assert.equal(days.length, SCHOOLS.length * PEOPLE * DAYS.length);
    assert.equal(
      days.reduce((n, d) => n + d.events, 0),
      distinct,
      "every event counted once in its person-day",
    );
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from dead_letters"), 0);
    assert.equal(await queryNumber(bed.db.pool, "select count(*) from attendance_dirty"), 0);
  });
});
