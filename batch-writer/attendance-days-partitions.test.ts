import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { localInstant } from "../common/attendance/school-day.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { StoredVote } from "../common/vote.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import {
  assertAttendanceDaysMatchEvents,
  insertRegister,
  insertSchool,
} from "../test-support/presence-state.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import type { DecodedVote } from "./decode.ts";
import { keepPresence } from "./presence-upkeep.ts";
import { storeBatch } from "./store-batch.ts";
import { VotesPartitions } from "./votes-partitions.ts";

// Migration 046: attendance_days partitioned by month of its (school-local) day, under 044's
// maintenance: each month's days in their partition (fillfactor 50 on each), a day of no
// partition in the default until the maintenance moves it, expired months dropped with the
// votes', and the writer's upkeep (036) right across partitions.

const LONDON = "Europe/London";
const month = (d = new Date()) =>
  `${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;

let seq = 0;
const decoded = (votes: StoredVote[]): DecodedVote[] =>
  votes.map((v) => ({ ...v, streamSeq: ++seq }));
const event = (register: string, person: string, kind: "in" | "out", day: string, hhmm: string) =>
  makeVote({
    pollId: register,
    optionId: kind,
    voterId: person,
    castAt: new Date(localInstant(day, hhmm, LONDON)),
  });

/** Where each of a school's person-days is stored, `person day partition`, sorted. */
async function placement(pool: Pool, school: string): Promise<string[]> {
  const { rows } = await pool.query<{ r: string }>(
    `select person_id || ' ' || day::text || ' ' || tableoid::regclass::text as r
     from attendance_days where school_id = $1 order by 1`,
    [school],
  );
  return rows.map((r) => r.r);
}

const fillfactor = async (pool: Pool, table: string) =>
  (
    await pool.query<{ o: string[] | null }>(
      "select reloptions as o from pg_class where oid = $1::regclass",
      [table],
    )
  ).rows[0]?.o;

describe("attendance_days partitioned by month (migration 046)", () => {
  let db: TestDatabase;
  const store = (votes: StoredVote[], dirtyLimit = 0) =>
    storeBatch(db.pool, "VOTES", decoded(votes), [], dirtyLimit);

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await insertSchool(db.pool, "north", LONDON);
    await insertRegister(db.pool, "gate-a", "north");
    await insertRegister(db.pool, "gate-b", "north");
    // Partitions for 2026-12 to 2027-03, whatever today's date.
    await db.pool.query(
      "select time_partitions_ensure('attendance_days', interval '3 months', timestamptz '2026-12-15 00:00:00+00')",
    );
  });
  after(() => db?.drop());

  test("each partition keeps 025's fillfactor 50, and the key stays the table's own", async () => {
    for (const table of ["attendance_days_p2027_01", "attendance_days_default"])
      assert.deepEqual(await fillfactor(db.pool, table), ["fillfactor=50"], table);
    const { rows } = await db.pool.query<{ def: string }>(
      "select pg_get_constraintdef(oid) as def from pg_constraint where conrelid = 'attendance_days'::regclass and contype = 'p'",
    );
    assert.deepEqual(
      rows.map((r) => r.def),
      ["PRIMARY KEY (school_id, day, person_id)"],
    );
  });

  test("the upkeep's insert, fold and recompute across a month boundary, each day in its month", async () => {
    const people = Array.from({ length: 12 }, (_, i) => `p${String(i).padStart(2, "0")}`);
    const days = ["2027-01-31", "2027-02-01"];
    // Mornings: one check-in a person-day, the insert path. The rows of both months start at
    // the same slots of their partitions (the same ctids).
    await store(days.flatMap((d) => people.map((p) => event("gate-a", p, "in", d, "08:00"))));
    // Afternoons in one batch: one check-out a person-day folded into its row. With a fold
    // matching the row by its ctid alone, a February check-out would also fold into the
    // January row at the same slot (its last event is earlier).
    const outs = await store(
      days.flatMap((d) => people.map((p) => event("gate-b", p, "out", d, "15:00"))),
    );
    assert.equal(outs.personDays, people.length * 2);
    // Late and several in a batch: the recompute (locking) path, on both sides of the boundary.
    await store(
      days.flatMap((d) => [
        event("gate-a", "p00", "in", d, "07:00"),
        event("gate-a", "p01", "out", d, "12:00"),
        event("gate-b", "p01", "in", d, "12:30"),
      ]),
    );
    // A dirty person-day of each month (a register's events changed outside the writer).
    await db.pool.query(
      "insert into attendance_dirty (school_id, person_id, day) values ('north', 'p02', '2027-01-31'), ('north', 'p02', '2027-02-01')",
    );
    await store([event("gate-a", "p03", "out", "2027-02-01", "16:00")], 10);
    assert.equal(await queryNumber(db.pool, "select count(*) from attendance_dirty"), 0);

    const rows = await assertAttendanceDaysMatchEvents(db.pool);
    assert.equal(rows.length, people.length * 2);
    assert.ok(rows.every((r) => r.closedSeconds > 0 && r.lastOut !== null));
    assert.deepEqual(
      (await placement(db.pool, "north")).map((r) => r.split(" ").slice(1).join(" ")).sort(),
      [
        ...people.flatMap(() => [
          "2027-01-31 attendance_days_p2027_01",
          "2027-02-01 attendance_days_p2027_02",
        ]),
      ].sort(),
    );
    // The publisher's change log names the school-days of both months.
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(distinct day) from attendance_day_changes where day in ('2027-01-31', '2027-02-01')",
      ),
      2,
    );
  });

  test("a day with no partition goes to the default and is moved later, then kept as before", async () => {
    await store([event("gate-a", "late-kiosk", "in", "2041-06-10", "08:00")]);
    assert.deepEqual(
      await placement(db.pool, "north").then((r) => r.filter((x) => x.startsWith("late"))),
      ["late-kiosk 2041-06-10 attendance_days_default"],
    );
    const made = await db.pool.query<{ partition_name: string; moved: string }>(
      "select * from time_partitions_ensure('attendance_days', interval '3 months', timestamptz '2041-05-01 00:00:00+00', 1)",
    );
    assert.ok(
      made.rows.some(
        (r) => r.partition_name === "attendance_days_p2041_06" && Number(r.moved) === 1,
      ),
      JSON.stringify(made.rows),
    );
    assert.deepEqual(await fillfactor(db.pool, "attendance_days_p2041_06"), ["fillfactor=50"]);
    // The check-out folds into the moved row.
    await store([event("gate-b", "late-kiosk", "out", "2041-06-10", "15:00")]);
    assert.deepEqual(
      await placement(db.pool, "north").then((r) => r.filter((x) => x.startsWith("late"))),
      ["late-kiosk 2041-06-10 attendance_days_p2041_06"],
    );
    await assertAttendanceDaysMatchEvents(db.pool);
  });

  test("a deleted school's days are swept from every partition, nobody else's", async () => {
    await insertSchool(db.pool, "gone", LONDON);
    await insertRegister(db.pool, "gone-gate", "gone");
    // The first rows of two empty partitions, at the same slot (ctid): a sweep deleting by
    // ctid would take north's too.
    await store([
      event("gate-a", "p00", "in", "2026-12-15", "08:00"),
      event("gone-gate", "p00", "in", "2027-03-01", "08:00"),
    ]);
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(distinct ctid) from attendance_days where day in ('2026-12-15', '2027-03-01')",
      ),
      1,
    );
    const before = await queryNumber(
      db.pool,
      "select count(*) from attendance_days where school_id = 'north'",
    );
    // As the API deletes a school: its polls, then the school.
    await db.pool.query(
      "select delete_polls(array(select id from polls where school_id = 'gone'))",
    );
    await db.pool.query("delete from schools where id = 'gone'");
    const { PollPurge } = await import("./poll-purge.ts");
    const purge = new PollPurge({
      pool: db.pool,
      config: { pollPurgeBatchRows: 1, pollPurgeBatchPolls: 1, pollPurgeIntervalMs: 1 },
      logger: createLogger("silent"),
      metrics: { pollPurgeRows: { inc: () => {} } as never },
    });
    for (let i = 0; i < 20 && (await purge.step()) !== undefined; i++);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from attendance_days where school_id = 'gone'"),
      0,
    );
    assert.equal(
      await queryNumber(db.pool, "select count(*) from attendance_days where school_id = 'north'"),
      before,
    );
  });
});

describe("retention of attendance_days (migration 046)", () => {
  let db: TestDatabase;
  const dropAt = (keep: string, now: string) =>
    db.pool
      .query<{ partition_name: string; outcome: string; affected: string }>(
        "select * from time_partitions_drop_expired('attendance_days', $1::interval, $2)",
        [keep, now],
      )
      .then((r) => r.rows.map((x) => [x.partition_name, x.outcome, Number(x.affected)]));
  const day = (person: string, d: string) =>
    db.pool.query("insert into attendance_days (school_id, person_id, day) values ('s', $1, $2)", [
      person,
      d,
    ]);

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await db.pool.query(
      "select time_partitions_ensure('attendance_days', interval '3 months', timestamptz '2020-01-15 00:00:00+00')",
    );
    await day("a", "2020-01-20");
    await day("b", "2020-03-20");
  });
  after(() => db?.drop());

  test("months ended before the horizon are dropped, later ones kept", async () => {
    assert.deepEqual(await dropAt("30 days", "2020-04-10T00:00:00Z"), [
      ["attendance_days_p2020_01", "dropped", 0],
      ["attendance_days_p2020_02", "dropped", 0],
    ]);
    assert.deepEqual(
      (await db.pool.query<{ person_id: string }>("select person_id from attendance_days")).rows,
      [{ person_id: "b" }],
    );
  });

  test("the writer's retention pass drops attendance_days' months with the votes'", async () => {
    const keepDays = Math.floor((Date.now() - Date.parse("2020-05-10T00:00:00Z")) / 86_400_000);
    const maintenance = new VotesPartitions({
      pool: db.pool,
      config: {
        votesPartitionsAheadMonths: 3,
        votesPartitionCheckMs: 60_000,
        votesRetentionDays: keepDays,
      },
      logger: createLogger("silent"),
    });
    const dropped = await maintenance.dropExpired();
    assert.ok(dropped.includes("attendance_days_p2020_03"), dropped.join());
    assert.ok(dropped.includes("attendance_days_p2020_04"), dropped.join());
    assert.equal(await queryNumber(db.pool, "select count(*) from attendance_days"), 0);
  });

  test("a day of a month already past retention waits in the default, then goes", async () => {
    await day("c", "2019-05-03");
    const made = await db.pool.query<{ partition_name: string }>(
      "select * from time_partitions_ensure('attendance_days', interval '3 months', timestamptz '2021-01-15 00:00:00+00', null, interval '30 days')",
    );
    assert.ok(!made.rows.some((r) => r.partition_name === "attendance_days_p2019_05"));
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(*) from attendance_days_default where person_id = 'c'",
      ),
      1,
    );
    assert.deepEqual(await dropAt("30 days", "2021-01-20T00:00:00Z"), [
      ["attendance_days_default", "deleted", 1],
    ]);
    assert.equal(await queryNumber(db.pool, "select count(*) from attendance_days"), 0);
  });
});

describe("a deployment from before 046: attendance_days becomes its default partition", () => {
  const names = testNames();
  let pool: Pool;
  let old: DatabaseBefore;
  const today = new Date().toISOString().slice(0, 10);
  // As that deployment's writer stored them: the register events inserted, then its upkeep
  // (036's attendance_keep_days) in the same transaction. Not today's storeBatch, which
  // writes tables of later migrations (048's change log).
  const store = async (votes: StoredVote[]) => {
    const client = await pool.connect();
    try {
      await client.query("begin");
      await client.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                            received_at, stream_seq)
         select e, p, o, k, v, c, now(), 1
         from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                     $6::timestamptz[]) as u(e, p, o, k, v, c)`,
        [
          votes.map((v) => v.eventId),
          votes.map((v) => v.pollId),
          votes.map((v) => v.optionId),
          votes.map((v) => v.kioskId),
          votes.map((v) => v.voterId ?? null),
          votes.map((v) => v.castAt),
        ],
      );
      await keepPresence(
        client,
        {
          pollIds: votes.map((v) => v.pollId),
          personIds: votes.map((v) => v.voterId!),
          kinds: votes.map((v) => v.optionId),
          castAts: votes.map((v) => v.castAt),
          eventIds: votes.map((v) => v.eventId),
          temperatures: votes.map(() => null),
        },
        0,
      );
      await client.query("commit");
    } catch (err) {
      await client.query("rollback");
      throw err;
    } finally {
      client.release();
    }
  };

  before(async () => {
    old = await databaseBefore(46, names.database);
    pool = old.pool;
    await insertSchool(pool, "north", LONDON);
    await insertRegister(pool, "gate-a", "north");
    // Today's check-ins and a January 2023 day, kept by the writer of 045.
    await store([
      ...["amy", "ben", "cat"].map((p) => event("gate-a", p, "in", today, "08:00")),
      event("gate-a", "amy", "in", "2023-01-16", "08:00"),
      event("gate-a", "amy", "out", "2023-01-16", "15:00"),
    ]);
  });
  after(async () => {
    await old?.close();
  });

  test("046 keeps every row, moves this month's, and the writer keeps the days as before", async () => {
    const before = await assertAttendanceDaysMatchEvents(pool);
    assert.equal(before.length, 4);
    await old.upgrade();
    assert.deepEqual(await assertAttendanceDaysMatchEvents(pool), before);
    assert.deepEqual(await placement(pool, "north"), [
      `amy 2023-01-16 attendance_days_default`,
      `amy ${today} attendance_days_p${month()}`,
      `ben ${today} attendance_days_p${month()}`,
      `cat ${today} attendance_days_p${month()}`,
    ]);
    assert.deepEqual(await fillfactor(pool, "attendance_days_default"), ["fillfactor=50"]);
    // The old indexes were attached, not rebuilt: the default keeps them under their new names.
    const { rows } = await pool.query<{ i: string }>(
      "select indexrelid::regclass::text as i from pg_index where indrelid = 'attendance_days_default'::regclass order by 1",
    );
    assert.deepEqual(
      rows.map((r) => r.i),
      [
        "attendance_days_default_person_idx",
        "attendance_days_default_pkey",
        "attendance_days_default_unsettled_idx",
      ],
    );
    // The afternoon's check-outs fold into the moved rows; a late event of 2023 recomputes
    // its day in the default: today's writer, on the migrated schema.
    await storeBatch(
      pool,
      "VOTES",
      decoded([
        ...["amy", "ben", "cat"].map((p) => event("gate-a", p, "out", today, "15:00")),
        event("gate-a", "amy", "in", "2023-01-16", "07:00"),
      ]),
      [],
    );
    const after = await assertAttendanceDaysMatchEvents(pool);
    assert.ok(after.filter((r) => r.day === today).every((r) => r.lastOut !== null));
    // No trigger on the partitioned table (023's went with migration 051: the writer's
    // statement that removes a person-day logs its school itself).
    assert.equal(
      await queryNumber(
        pool,
        "select count(*) from pg_trigger where tgrelid = 'attendance_days'::regclass and not tgisinternal",
      ),
      0,
    );
    // The maintenance moves the old month out of the default (no retention: none is past it).
    await pool.query("select time_partitions_ensure('attendance_days')");
    assert.equal(
      await queryNumber(
        pool,
        "select count(*) from attendance_days_p2023_01 where person_id = 'amy'",
      ),
      1,
    );
  });
});
