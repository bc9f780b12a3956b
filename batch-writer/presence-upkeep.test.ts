import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import { createLogger } from "../common/logger.ts";
import { createPool, type Pool } from "../common/postgres.ts";
import type { StoredVote } from "../common/vote.ts";
import { eventually } from "../harness/waiting.ts";
import { updateSchools } from "../ingest-api/registry/registry-changes.ts";
import { createLoginRole } from "../test-support/database.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { drainPollPurges } from "../test-support/poll-purges.ts";
import {
  assertAttendanceDaysMatchEvents,
  type DayRow,
  insertRegister,
  insertSchool,
  readAttendanceDays,
} from "../test-support/presence-state.ts";
import { shuffle } from "../test-support/shuffle.ts";
import { assertRollupsMatchVotes, insertPoll, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { createWriterTestBed, type WriterTestBed } from "../test-support/writer-test-bed.ts";
import type { DecodedVote } from "./decode.ts";
import { storeBatch } from "./store-batch.ts";

// The writer's presence state (presence-upkeep.ts), checked against attendance_days
// recomputed independently from the stored events (test-support/presence-state.ts: the
// local day through luxon, not Postgres), and against hand-computed days where the zone
// makes it tricky.

const LONDON = "Europe/London";
const KATHMANDU = "Asia/Kathmandu";
const DAYS = ["2026-05-04", "2026-05-05", "2026-05-06"];

let seq = 0;
const decoded = (votes: StoredVote[]): DecodedVote[] =>
  votes.map((v) => ({ ...v, streamSeq: ++seq }));

/** An in or out at a school-local wall time (plus seconds). */
function event(
  register: string,
  person: string,
  kind: "in" | "out",
  day: string,
  hhmm: string,
  timeZone: string,
  extra: { seconds?: number; temperatureC?: number } = {},
): StoredVote {
  return makeVote({
    pollId: register,
    optionId: kind,
    voterId: person,
    castAt: new Date(localInstant(day, hhmm, timeZone) + (extra.seconds ?? 0) * 1000),
    ...(extra.temperatureC === undefined ? {} : { temperatureC: extra.temperatureC }),
  });
}

/**
 * Several days of a school's people: in around 8:00 and out around 15:00 through either
 * register, some with a temperature, some with a lunch out and in, a second in, an out
 * with no in before it, or no out at all.
 */
function schoolDays(
  registers: string[],
  people: string[],
  timeZone: string,
  days: readonly string[],
): StoredVote[] {
  const gate = () => registers[randomInt(registers.length)]!;
  const out: StoredVote[] = [];
  for (const person of people)
    for (const day of days) {
      const roll = randomInt(100);
      if (roll < 5) continue; // absent
      if (roll < 10) out.push(event(gate(), person, "out", day, "07:30", timeZone));
      const temperatureC = randomInt(3) === 0 ? 36 + randomInt(30) / 10 : undefined;
      out.push(
        event(gate(), person, "in", day, "08:00", timeZone, {
          seconds: randomInt(3_600),
          ...(temperatureC === undefined ? {} : { temperatureC }),
        }),
      );
      if (roll >= 10 && roll < 20)
        out.push(event(gate(), person, "in", day, "09:30", timeZone, { seconds: randomInt(600) }));
      if (roll >= 20 && roll < 40) {
        out.push(event(gate(), person, "out", day, "12:00", timeZone, { seconds: randomInt(900) }));
        out.push(event(gate(), person, "in", day, "12:30", timeZone, { seconds: randomInt(900) }));
      }
      if (roll >= 90) continue; // never checked out
      out.push(
        event(gate(), person, "out", day, "15:00", timeZone, {
          seconds: randomInt(3_600),
          ...(randomInt(4) === 0 ? { temperatureC: 36.5 } : {}),
        }),
      );
    }
  return out;
}

/** Cuts votes into batches of 1 to `most` votes. */
function batches(votes: StoredVote[], most: number): StoredVote[][] {
  const out: StoredVote[][] = [];
  for (let i = 0; i < votes.length; ) {
    const n = 1 + randomInt(most);
    out.push(votes.slice(i, i + n));
    i += n;
  }
  return out;
}

describe("batch writer: presence state (attendance_days)", () => {
  let bed: WriterTestBed;
  let pool: Pool;
  let writer: InProcessWriter | undefined;
  const store = (votes: StoredVote[], dirtyLimit = 0) =>
    storeBatch(pool, bed.config.streamName, decoded(votes), [], dirtyLimit);

  const reset = async () => {
    await pool.query(
      "truncate votes, vote_rollups, poll_changes, duplicate_counts, attendance_days, attendance_dirty",
    );
  };

  before(async () => {
    // Small purge steps: a deleted register goes in several (migration 031).
    bed = await createWriterTestBed({ ATTENDANCE_DIRTY_BATCH: "3", POLL_PURGE_BATCH_ROWS: "7" });
    // Eight connections: the concurrency test stores eight batches at once.
    pool = createPool(bed.db.url, createLogger("silent"), { max: 8, applicationName: "test" });
    await insertSchool(pool, "north", LONDON);
    await insertSchool(pool, "peak", KATHMANDU);
    await insertRegister(pool, "gate-a", "north");
    await insertRegister(pool, "gate-b", "north");
    await insertRegister(pool, "peak-gate", "peak");
    await insertPoll(pool, "lunch", ["pizza", "salad"]);
  });

  after(async () => {
    await writer?.close();
    await pool?.end();
    await bed?.close();
  });

  test("events in order and out of order across batches give the same days", async () => {
    const people = Array.from({ length: 40 }, (_, i) => `pupil-${i}`);
    const events = [
      ...schoolDays(["gate-a", "gate-b"], people, LONDON, DAYS),
      ...schoolDays(["peak-gate"], people.slice(0, 15), KATHMANDU, DAYS),
    ];
    // Votes of a vote poll carry voter ids too: they are no presence.
    const lunch = people.map((p) => makeVote({ pollId: "lunch", optionId: "pizza", voterId: p }));
    const inOrder = [...events].sort((a, b) => Date.parse(a.castAt) - Date.parse(b.castAt));
    for (const batch of batches([...inOrder, ...lunch], 60)) await store(batch);
    const ordered = await assertAttendanceDaysMatchEvents(pool);
    assert.ok(ordered.length > 100, `${ordered.length} person-days`);
    assert.equal(
      await queryNumber(pool, "select count(*) from attendance_days where school_id = 'default'"),
      0,
      "a vote poll's voters have no presence",
    );
    assert.ok(ordered.some((d) => d.outsWithoutIn > 0 && d.doubleIns === 0));
    assert.ok(ordered.some((d) => d.doubleIns > 0));
    assert.ok(ordered.some((d) => d.openSince !== null && d.lastOut === null));
    assert.ok(ordered.some((d) => d.maxTemperatureC !== null));

    // The same events again, into empty tables: shuffled, in batches of other sizes, a
    // third of them repeating an event already stored (those take the staging path).
    await reset();
    const shuffled = shuffle([...events, ...lunch]);
    let stored: StoredVote[] = [];
    for (const batch of batches(shuffled, 45)) {
      const again =
        stored.length > 0 && randomInt(3) === 0 ? [stored[randomInt(stored.length)]!] : [];
      const result = await store([...batch, ...again]);
      assert.equal(result.inserted, batch.length);
      stored = stored.concat(batch);
    }
    assert.deepEqual(await assertAttendanceDaysMatchEvents(pool), ordered);
    await assertRollupsMatchVotes(pool);
  });

  test("a batch stored again changes no person-day, not even its change id", async () => {
    await reset();
    const people = ["amy", "ben", "cat"];
    const events = schoolDays(["gate-a"], people, LONDON, DAYS.slice(0, 1));
    const first = await store(events);
    assert.equal(first.inserted, events.length);
    assert.ok(first.personDays > 0);
    const changeIds = async () =>
      (
        await pool.query<{ person_id: string; change_id: string }>(
          "select person_id, change_id::text from attendance_days order by person_id",
        )
      ).rows;
    const before = await changeIds();
    const rows = await readAttendanceDays(pool);

    const again = await store(events);
    assert.equal(again.inserted, 0);
    assert.equal(again.duplicates, events.length);
    assert.equal(again.personDays, 0);
    assert.deepEqual(await changeIds(), before);
    assert.deepEqual(await readAttendanceDays(pool), rows);

    // A stored event beside a new one: only the new one's person-day is recomputed.
    const late = event("gate-b", "ben", "in", DAYS[0]!, "13:00", LONDON);
    const mixed = await store([events[0]!, late]);
    assert.equal(mixed.inserted, 1);
    assert.equal(mixed.personDays, 1);
    const after = await changeIds();
    for (const row of after)
      if (row.person_id === "ben")
        assert.notEqual(row.change_id, before.find((b) => b.person_id === "ben")?.change_id);
      else
        assert.deepEqual(
          row,
          before.find((b) => b.person_id === row.person_id),
        );
    await assertAttendanceDaysMatchEvents(pool);
  });

  test("the temperature is stored with the event, on both paths; none is null", async () => {
    await reset();
    const direct = [
      event("gate-a", "dan", "in", DAYS[0]!, "08:00", LONDON, { temperatureC: 37.8 }),
      event("gate-a", "dan", "out", DAYS[0]!, "15:00", LONDON),
    ];
    await store(direct);
    // A repeated event sends the batch through the staging table.
    const staged = [
      event("gate-b", "eve", "in", DAYS[0]!, "08:10", LONDON, { temperatureC: 38.4 }),
      event("gate-b", "eve", "out", DAYS[0]!, "15:10", LONDON, { temperatureC: -0.5 }),
    ];
    const result = await store([...staged, direct[0]!]);
    assert.equal(result.duplicates, 1);
    const { rows } = await pool.query<{ event_id: string; temperature_c: string | null }>(
      "select event_id, temperature_c from votes",
    );
    const stored = new Map(rows.map((r) => [r.event_id, r.temperature_c]));
    assert.equal(stored.get(direct[0]!.eventId), "37.8");
    assert.equal(stored.get(direct[1]!.eventId), null);
    assert.equal(stored.get(staged[0]!.eventId), "38.4");
    assert.equal(stored.get(staged[1]!.eventId), "-0.5");
    const days = await assertAttendanceDaysMatchEvents(pool);
    assert.deepEqual(
      days.map((d) => [d.person, d.maxTemperatureC]),
      [
        ["dan", 37.8],
        ["eve", 38.4],
      ],
    );
  });

  test("a DST day and a +05:45 school put each event on its local day", async () => {
    await reset();
    const at = (iso: string, pollId: string, voterId: string, optionId: "in" | "out") =>
      makeVote({ pollId, optionId, voterId, castAt: iso });
    await store([
      // London, spring forward on 29 March 2026 (01:00 GMT becomes 02:00 BST).
      at("2026-03-28T23:30:00Z", "gate-a", "fay", "in"), // 23:30 GMT, the 28th
      at("2026-03-29T00:30:00Z", "gate-a", "fay", "out"), // 00:30 GMT, the 29th
      at("2026-03-29T07:00:00Z", "gate-a", "gus", "in"), // 08:00 BST, the 29th
      at("2026-03-29T23:30:00Z", "gate-a", "gus", "out"), // 00:30 BST, the 30th
      // Fall back on 25 October 2026: a 25-hour day, in at its first half hour, out at its last.
      at("2026-10-24T23:30:00Z", "gate-b", "hal", "in"), // 00:30 BST, the 25th
      at("2026-10-25T23:30:00Z", "gate-b", "hal", "out"), // 23:30 GMT, the 25th
      // Kathmandu (+05:45): 18:14 UTC is 23:59 on the 3rd, 18:15 UTC midnight of the 4th.
      at("2026-05-03T02:15:00Z", "peak-gate", "ira", "in"), // 08:00, the 3rd
      at("2026-05-03T18:14:00Z", "peak-gate", "ira", "out"), // 23:59, the 3rd
      at("2026-05-03T18:15:00Z", "peak-gate", "jon", "in"), // 00:00, the 4th
    ]);
    const days = await assertAttendanceDaysMatchEvents(pool);
    const brief = (d: DayRow) => [d.school, d.person, d.day, d.closedSeconds, d.events];
    assert.deepEqual(days.map(brief), [
      ["north", "fay", "2026-03-28", 0, 1],
      ["north", "fay", "2026-03-29", 0, 1],
      ["north", "gus", "2026-03-29", 0, 1],
      ["north", "gus", "2026-03-30", 0, 1],
      ["north", "hal", "2026-10-25", 25 * 3600 - 3600, 2],
      ["peak", "ira", "2026-05-03", 15 * 3600 + 59 * 60, 2],
      ["peak", "jon", "2026-05-04", 0, 1],
    ]);
    const fay = days.filter((d) => d.person === "fay");
    assert.equal(fay[1]!.outsWithoutIn, 1, "the 29th's out has no in that day");
  });

  test("writers storing events of the same person-days at once: each day from all its events", async () => {
    await reset();
    // A register per time of day (doors of one school), so that the batches below share no
    // rollup bucket or change marker: only the person-days themselves order them.
    const SLOTS = ["08:00", "10:00", "10:30", "12:00", "12:45", "15:00"];
    for (let i = 0; i < SLOTS.length; i++) await insertRegister(pool, `door-${i}`, "north");
    const people = Array.from({ length: 40 }, (_, i) => `twin-${i}`);
    for (const day of DAYS) {
      const slot = (i: number) =>
        people.map((person) =>
          event(`door-${i}`, person, i % 2 === 0 ? "in" : "out", day, SLOTS[i]!, LONDON),
        );
      // The rows exist first (the 08:00 check-ins): then each is locked as it stands, not
      // only created. Then the other five events of every person-day, in five batches
      // stored at the same time.
      await store(slot(0));
      const results = await Promise.all([1, 2, 3, 4, 5].map((i) => store(slot(i))));
      assert.deepEqual(
        results.map((r) => r.inserted),
        [1, 2, 3, 4, 5].map(() => people.length),
      );
    }
    // New person-days too: all six events of each at once, in six batches that each find
    // the days missing, and all but one find them created meanwhile. Half the batches repeat
    // an event (the staging path, where the new days' COPY fails alone and is redone; on
    // the direct path the whole batch is).
    const late = Array.from({ length: 1_000 }, (_, i) => `fresh-${i}`);
    for (const day of DAYS) {
      const results = await Promise.all(
        SLOTS.map((hhmm, i) => {
          const batch = late.map((person) =>
            event(`door-${i}`, person, i % 2 === 0 ? "in" : "out", day, hhmm, LONDON),
          );
          return store(i % 2 === 0 ? batch : [...batch, batch[0]!]);
        }),
      );
      assert.deepEqual(
        results.map((r) => r.inserted),
        SLOTS.map(() => late.length),
      );
    }
    const days = await assertAttendanceDaysMatchEvents(pool);
    assert.equal(days.length, (people.length + late.length) * DAYS.length);
    for (const d of days)
      assert.deepEqual([d.events, d.closedSeconds], [6, (2 + 1.5 + 2.25) * 3600]);
  });

  test("a deleted register's person-days are recomputed from the events left (dirty), a few per batch", async () => {
    await reset();
    await insertSchool(pool, "west", LONDON);
    await insertRegister(pool, "west-a", "west");
    await insertRegister(pool, "west-b", "west");
    const day = DAYS[0]!;
    await store([
      event("west-a", "kim", "in", day, "08:00", LONDON, { temperatureC: 38.2 }), // out through west-b
      event("west-b", "kim", "out", day, "15:00", LONDON),
      event("west-b", "lea", "in", day, "08:00", LONDON), // only west-b
      event("west-b", "lea", "out", day, "15:00", LONDON),
      event("west-a", "max", "in", day, "08:00", LONDON), // only west-a
      event("west-a", "max", "out", day, "15:00", LONDON),
      ...["nia", "oli", "pat"].map((p) => event("west-b", p, "in", DAYS[1]!, "08:00", LONDON)),
    ]);
    const before = await readAttendanceDays(pool);
    await pool.query("select delete_polls(array['west-b'])");
    // Marked by the purge of its votes (migration 031), not by the delete.
    assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 0);
    await drainPollPurges(pool);
    assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 5);
    await pool.query("delete from attendance_school_change_log");

    // Each batch takes up to its limit of dirty person-days (here 2), whatever it carries.
    const first = await store([event("gate-a", "quinn", "in", day, "08:00", LONDON)], 2);
    assert.equal(first.personDays, 3, "quinn's day and two dirty ones");
    assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 3);
    await store([], 2);
    await store([], 2);
    assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 0);
    // lea's, nia's, oli's and pat's days removed: their school logged for the publisher (the
    // removing statement's own write, migration 051), once a transaction at most.
    const { rows: logged } = await pool.query<{ school_id: string }>(
      "select distinct school_id from attendance_school_change_log",
    );
    assert.deepEqual(
      logged.map((r) => r.school_id),
      ["west"],
    );

    const after = (await assertAttendanceDaysMatchEvents(pool)).filter((d) => d.school === "west");
    assert.deepEqual(
      after.map((d) => [d.person, d.events, d.openSince !== null, d.maxTemperatureC]),
      [
        ["kim", 1, true, 38.2],
        ["max", 2, false, null],
      ],
    );
    assert.deepEqual(
      after.find((d) => d.person === "max"),
      before.find((d) => d.person === "max"),
    );
  });

  test("an idle writer purges a deleted register and recomputes its person-days on its own", async () => {
    await reset();
    await insertSchool(pool, "east", LONDON);
    await insertRegister(pool, "east-a", "east");
    await insertRegister(pool, "east-b", "east");
    const people = Array.from({ length: 10 }, (_, i) => `idle-${i}`);
    await store([
      ...schoolDays(["east-a"], people, LONDON, DAYS),
      ...schoolDays(["east-b"], people, LONDON, DAYS),
    ]);
    // Every person-day east-b counted in: more than one sweep's 3.
    const dirty = await queryNumber(
      pool,
      `select count(distinct (voter_id, (cast_at at time zone $1)::date)) from votes
       where poll_id = 'east-b'`,
      [LONDON],
    );
    assert.ok(dirty > 3, `${dirty} person-days, more than one sweep's 3`);
    await pool.query("select delete_polls(array['east-b'])");
    assert.equal(await queryNumber(pool, "select count(*) from poll_purges"), 1);
    writer = await startWriterInProcess(bed.env);
    await eventually(
      "the register purged and its dirty person-days recomputed",
      async () =>
        (await queryNumber(pool, "select count(*) from poll_purges")) === 0 &&
        (await queryNumber(pool, "select count(*) from attendance_dirty")) === 0,
    );
    assert.equal(await queryNumber(pool, "select count(*) from votes where poll_id = 'east-b'"), 0);
    await assertAttendanceDaysMatchEvents(pool);
    assert.ok((await writer.metrics.personDays.get()).values[0]!.value >= dirty);
    await writer.close();
    writer = undefined;
  });

  test("a school's new time zone moves its events to their new local days", async () => {
    await reset();
    await insertSchool(pool, "drift", "UTC");
    await insertRegister(pool, "drift-gate", "drift");
    // 22:30 and 23:30 UTC on the 4th: the 4th in UTC, the 5th in Kathmandu (+05:45).
    await store([
      makeVote({
        pollId: "drift-gate",
        optionId: "in",
        voterId: "una",
        castAt: "2026-05-04T08:00:00Z",
      }),
      makeVote({
        pollId: "drift-gate",
        optionId: "in",
        voterId: "una",
        castAt: "2026-05-04T22:30:00Z",
      }),
      makeVote({
        pollId: "drift-gate",
        optionId: "out",
        voterId: "una",
        castAt: "2026-05-04T23:30:00Z",
      }),
    ]);
    const brief = (d: DayRow) => [d.person, d.day, d.events, d.closedSeconds];
    assert.deepEqual((await assertAttendanceDaysMatchEvents(pool)).map(brief), [
      ["una", "2026-05-04", 3, 55_800],
    ]);
    await updateSchools(pool, "time_zone = $1", "s.id = 'drift'", [KATHMANDU]);
    // The day it had, and the two its events fall on now (one of them the same).
    assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 2);
    await store([], 10);
    assert.deepEqual((await assertAttendanceDaysMatchEvents(pool)).map(brief), [
      ["una", "2026-05-04", 1, 0],
      ["una", "2026-05-05", 2, 3_600],
    ]);
  });

  test("the service roles' grants suffice: the writer keeps the state, the API moves a school's zone", async () => {
    await reset();
    const writerRole = await createLoginRole(bed.db, "tallyflow_writer");
    const apiRole = await createLoginRole(bed.db, "tallyflow_api");
    const writerPool = createPool(writerRole.url, createLogger("silent"), { max: 1 });
    const apiPool = createPool(apiRole.url, createLogger("silent"), { max: 1 });
    try {
      const events = schoolDays(["gate-a", "gate-b"], ["vic", "wes"], LONDON, DAYS);
      const asWriter = (votes: StoredVote[], dirtyLimit = 0) =>
        storeBatch(writerPool, bed.config.streamName, decoded(votes), [], dirtyLimit);
      await asWriter(events.slice(0, 4));
      await asWriter([...events.slice(4), events[0]!]); // the staging path
      await updateSchools(apiPool, "time_zone = 'Europe/Dublin'", "s.id = 'north'");
      assert.ok((await queryNumber(pool, "select count(*) from attendance_dirty")) > 0);
      await asWriter([], 1_000); // the locking way
      assert.equal(await queryNumber(pool, "select count(*) from attendance_dirty"), 0);
      await assertAttendanceDaysMatchEvents(pool);
    } finally {
      await updateSchools(pool, "time_zone = $1", "s.id = 'north'", [LONDON]);
      // The writer's temporary tables are its role's: dropped now, or the role cannot be.
      await writerPool.query("discard temp");
      await writerPool.end();
      await apiPool.end();
      await writerRole.drop();
      await apiRole.drop();
    }
  });

  test("an erased person's days stay, under the pseudonym, and recompute there", async () => {
    await reset();
    const events = schoolDays(["gate-a", "gate-b"], ["rae", "sam"], LONDON, DAYS);
    await store(events);
    const before = await readAttendanceDays(pool);
    await pool.query("select erase_person_events('north', 'rae', 'erased-7f3a')");
    const renamed = await readAttendanceDays(pool);
    assert.equal(renamed.filter((d) => d.person === "rae").length, 0);
    const rename = (d: DayRow) => (d.person === "rae" ? { ...d, person: "erased-7f3a" } : d);
    const sortKey = (d: DayRow) => `${d.day}\u0000${d.person}`;
    const bySortKey = (a: DayRow, b: DayRow) => (sortKey(a) < sortKey(b) ? -1 : 1);
    assert.deepEqual(renamed.sort(bySortKey), before.map(rename).sort(bySortKey));
    // Recomputed from the (rewritten) events, the pseudonym's days are the same.
    await pool.query(
      "insert into attendance_dirty select school_id, person_id, day from attendance_days",
    );
    await store([], 1_000);
    assert.deepEqual((await assertAttendanceDaysMatchEvents(pool)).sort(bySortKey), renamed);
  });
});
