import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import {
  assertRollupsMatchVotes,
  countVotes,
  insertPoll,
  queryNumber,
} from "../test-support/stored-votes.ts";
import { makeVote, type VoteSpec } from "../test-support/vote-messages.ts";
import type { DecodedVote } from "./decode.ts";
import { STORED_IDENTITY_EQUALS } from "./event-id-conflicts.ts";
import { storeBatch } from "./store-batch.ts";
import { VotesPartitions } from "./votes-partitions.ts";

// Migration 033: votes are partitioned by the month their event id carries (UUIDv7), and an
// event (its poll and event id, migration 047) is stored once for ever: its partition is a
// function of the id alone, where a unique index on (poll_id, event_id) refuses it again,
// however late, whatever its castAt.

/** A UUIDv7 created at `at` (the kiosk's and the API's ids: kiosk-client/event-id.ts). */
const idAt = (at: string) => uuidv7({ msecs: Date.parse(at) });

describe("votes partitioned by the event id's time (migration 033)", () => {
  let db: TestDatabase;
  let seq = 1;
  const decoded = (spec: VoteSpec, receivedAt?: string): DecodedVote => ({
    ...makeVote(spec),
    ...(receivedAt === undefined ? {} : { receivedAt }),
    streamSeq: seq++,
  });
  const store = (votes: DecodedVote[]) => storeBatch(db.pool, "VOTES", votes, []);
  const partitionOf = async (eventId: string) =>
    (
      await db.pool.query<{ p: string }>(
        "select tableoid::regclass::text as p from votes where event_id = $1",
        [eventId],
      )
    ).rows.map((r) => r.p);
  const partitions = async () =>
    (
      await db.pool.query<{ p: string }>(
        `select relid::regclass::text as p from pg_partition_tree('votes')
         where isleaf order by 1`,
      )
    ).rows.map((r) => r.p);

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await insertPoll(db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(db.pool, "council", ["ann", "bob"], { oneVotePerVoter: true });
    // The months these tests store in have partitions whatever today's date (the migration
    // made today's and three ahead): 2026-12 to 2027-03.
    await db.pool.query(
      "select votes_ensure_partitions(interval '3 months', timestamptz '2026-12-15 00:00:00+00')",
    );
  });
  after(() => db?.drop());

  test("a vote lands in its event id's month; a non-v7 id in the legacy partition", async () => {
    const now = new Date();
    const month = `votes_p${now.getUTCFullYear()}_${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    const v7 = decoded({ pollId: "lunch", optionId: "pizza" });
    const v4 = decoded({ eventId: randomUUID(), pollId: "lunch", optionId: "salad" });
    assert.equal((await store([v7, v4])).inserted, 2);
    assert.deepEqual(await partitionOf(v7.eventId), [month]);
    assert.deepEqual(await partitionOf(v4.eventId), ["votes_legacy"]);
    // The key is the id's own time, to the millisecond, whatever the castAt says.
    const { rows } = await db.pool.query<{ at: Date }>("select event_id_time($1) as at", [
      idAt("2031-07-31T23:59:59.999Z"),
    ]);
    assert.equal(rows[0]!.at.toISOString(), "2031-07-31T23:59:59.999Z");
  });

  test("a resend years later counts once", async () => {
    const first = decoded(
      { eventId: idAt("2041-06-10T09:00:00Z"), pollId: "lunch", optionId: "pizza" },
      "2041-06-10T09:00:01Z",
    );
    // No partition for its month yet: the default partition holds it.
    assert.equal((await store([first])).inserted, 1);
    assert.deepEqual(await partitionOf(first.eventId), ["votes_default"]);
    // Time passes (the maintenance, as if run in May 2041 and then in 2044): its month's
    // partition is created and the vote moved there, and years of partitions follow.
    const ensureAt = (now: string) =>
      db.pool.query("select votes_ensure_partitions(interval '3 months', $1)", [now]);
    await ensureAt("2041-05-01T00:00:00Z");
    await ensureAt("2044-01-01T00:00:00Z");
    assert.deepEqual(await partitionOf(first.eventId), ["votes_p2041_06"]);
    const resent = { ...first, receivedAt: "2044-01-10T09:00:00Z", streamSeq: seq++ };
    // Alone in its batch (the direct COPY's unique violation), and with a new vote (staging).
    const fresh = decoded({ pollId: "lunch", optionId: "salad" });
    assert.deepEqual(
      [await store([resent]), await store([resent, fresh])].map((r) => [r.inserted, r.duplicates]),
      [
        [0, 1],
        [1, 1],
      ],
    );
    assert.deepEqual(await partitionOf(first.eventId), ["votes_p2041_06"]);
    await assertRollupsMatchVotes(db.pool);
  });

  test("a resend across a month boundary, and with a castAt corrected, counts once", async () => {
    const eventId = idAt("2026-12-31T23:59:59.999Z");
    const first = decoded({
      eventId,
      pollId: "lunch",
      optionId: "pizza",
      castAt: "2026-12-31T23:59:59.999Z",
    });
    assert.equal((await store([first])).inserted, 1);
    // The kiosk's clock was corrected: it resends the same event id with another castAt,
    // in the next month (and the next year), received in the next month too.
    for (const castAt of ["2027-01-01T00:00:00.001Z", "2027-03-05T12:00:00Z"]) {
      const result = await store([
        decoded(
          { eventId, pollId: "lunch", optionId: "pizza", castAt },
          "2027-01-01T00:05:00.000Z",
        ),
      ]);
      assert.deepEqual([result.inserted, result.duplicates, result.conflicts], [0, 1, 0]);
    }
    const { rows } = await db.pool.query<{ cast_at: Date; p: string }>(
      "select cast_at, tableoid::regclass::text as p from votes where event_id = $1",
      [eventId],
    );
    assert.deepEqual(rows, [
      { cast_at: new Date("2026-12-31T23:59:59.999Z"), p: "votes_p2026_12" },
    ]);
    // Another kiosk reusing the id is a conflict, as before the partitions (migration 008).
    const clash = await store([
      decoded({ eventId, pollId: "lunch", optionId: "pizza", kioskId: "other-kiosk" }),
    ]);
    assert.deepEqual([clash.inserted, clash.duplicates, clash.conflicts], [0, 0, 1]);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from duplicate_counts where poll_id = 'lunch'"),
      1,
    );
    await assertRollupsMatchVotes(db.pool);
  });

  test("one-vote-per-voter polls (the staging path) count a resend once too", async () => {
    const ballot = decoded(
      { eventId: idAt("2050-12-10T08:00:00Z"), pollId: "council", optionId: "ann", voterId: "v1" },
      "2050-12-10T08:00:00Z",
    );
    assert.equal((await store([ballot])).inserted, 1);
    const again = await store([{ ...ballot, castAt: "2051-04-01T08:00:00Z", streamSeq: seq++ }]);
    assert.deepEqual([again.inserted, again.rejected, again.duplicates], [0, 0, 1]);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'council'"),
      1,
    );
  });

  test("a vote with no partition lands in the default one, and maintenance moves it", async () => {
    const old = decoded({
      eventId: idAt("2019-06-15T10:00:00Z"),
      pollId: "lunch",
      optionId: "pizza",
    });
    const older = decoded({
      eventId: idAt("2018-03-01T00:00:00Z"),
      pollId: "lunch",
      optionId: "pizza",
    });
    const farAhead = decoded({
      eventId: idAt("2099-01-01T00:00:00Z"),
      pollId: "lunch",
      optionId: "salad",
    });
    assert.equal((await store([old, older, farAhead])).inserted, 3);
    assert.deepEqual(await partitionOf(old.eventId), ["votes_default"]);

    const maintenance = new VotesPartitions({
      pool: db.pool,
      config: { votesPartitionsAheadMonths: 3, votesPartitionCheckMs: 60_000 },
      logger: createLogger("silent"),
    });
    // One past month per pass (each its own short transaction), the oldest first.
    const passes: string[][] = [];
    for (let i = 0; i < 3; i++)
      passes.push((await maintenance.run()).filter((c) => c.moved > 0).map((c) => c.partition));
    assert.deepEqual(passes, [["votes_p2018_03"], ["votes_p2019_06"], []]);
    assert.deepEqual(await partitionOf(old.eventId), ["votes_p2019_06"]);
    // A clock decades ahead makes no partitions for years that have not come: it waits in
    // the default partition (as does the council's 2050 vote), counted once all the same.
    assert.deepEqual(await partitionOf(farAhead.eventId), ["votes_default"]);
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(*) from votes_default where event_id_time(event_id) < now() + interval '4 months'",
      ),
      0,
    );
    for (const v of [old, older, farAhead]) {
      const again = await store([{ ...v, streamSeq: seq++ }]);
      assert.deepEqual([again.inserted, again.duplicates], [0, 1]);
    }
    assert.equal(await countVotes(db.pool), await assertRollupsMatchVotes(db.pool));
  });

  test("partitions are created ahead, each with its unique index on (poll_id, event_id)", async () => {
    const { rows } = await db.pool.query<{ partition_name: string; moved: string }>(
      "select * from votes_ensure_partitions(interval '3 months', timestamptz '2050-11-20 00:00:00+00')",
    );
    // The council's vote of December 2050, waiting in the default partition, moves with it.
    assert.deepEqual(
      rows.map((r) => [r.partition_name, Number(r.moved)]),
      [
        ["votes_p2050_11", 0],
        ["votes_p2050_12", 1],
        ["votes_p2051_01", 0],
        ["votes_p2051_02", 0],
      ],
    );
    // Again: nothing to do.
    assert.equal(
      (
        await db.pool.query(
          "select * from votes_ensure_partitions(interval '3 months', timestamptz '2050-11-20 00:00:00+00')",
        )
      ).rowCount,
      0,
    );
    // A partition attached by hand without the unique index gets one.
    await db.pool.query("create table votes_by_hand (like votes including defaults)");
    await db.pool.query(
      "alter table votes attach partition votes_by_hand for values from ('2040-01-01 00:00:00+00') to ('2040-02-01 00:00:00+00')",
    );
    await db.pool.query("select votes_ensure_partitions()");
    const keys = await db.pool.query<{ leaf: string; key: string }>(
      `select t.relid::regclass::text as leaf,
              regexp_replace(pg_get_indexdef(i.indexrelid), '.* USING btree ', '') as key
       from pg_partition_tree('votes') t
       left join pg_index i on i.indrelid = t.relid and i.indisunique
       where t.isleaf order by 1`,
    );
    assert.ok(keys.rows.some((r) => r.leaf === "votes_by_hand"));
    // Every leaf (the default, the legacy one, the one attached by hand) has the poll's key
    // and no other: a key on event_id alone would refuse the same id in another poll.
    assert.deepEqual(
      keys.rows.filter((r) => r.key !== "(poll_id, event_id)"),
      [],
    );
    assert.ok((await partitions()).includes("votes_p2051_02"));
  });

  test("a pass with nothing to do waits for no report; one with work gives up after 2 s", async () => {
    const report = await db.pool.connect();
    // The passes on one connection of their own: Postgres sends a statement's error before
    // it ends the transaction, so a pass on another connection right after the failed one
    // could still find the pass's advisory lock taken, and leave the work to the next pass
    // (it returns no rows: CI saw 0 for 4 under load).
    const maintenance = await db.pool.connect();
    try {
      // A long report reading votes holds the default partition in ACCESS SHARE mode.
      await report.query("begin");
      await report.query("select count(*) from votes");
      const started = performance.now();
      assert.equal(
        (await maintenance.query("select * from votes_ensure_partitions()")).rowCount,
        0,
      );
      assert.ok(performance.now() - started < 1_000, "nothing to do: no lock waited for");
      await assert.rejects(
        maintenance.query(
          "select * from votes_ensure_partitions(interval '3 months', timestamptz '2060-01-01 00:00:00+00')",
        ),
        (err: { code?: string }) => err.code === "55P03",
      );
      await report.query("rollback");
      assert.equal(
        (
          await maintenance.query(
            "select * from votes_ensure_partitions(interval '3 months', timestamptz '2060-01-01 00:00:00+00')",
          )
        ).rowCount,
        4,
        "once the report is done",
      );
    } finally {
      await report.query("rollback");
      report.release();
      maintenance.release();
    }
  });

  test("the stored-vote probe reads one partition per vote, not every month's, by its key", async () => {
    const votes = ["2026-12-20T00:00:00Z", "2027-02-20T00:00:00Z"].map((at) =>
      decoded({ eventId: idAt(at), pollId: "lunch", optionId: "pizza" }),
    );
    await store(votes);
    // As in the writer's staging path: the probe runs once per staged row, pruned at run time.
    const client = await db.pool.connect();
    try {
      await client.query(
        `create temp table probe_rows as
         select e::uuid as event_id, 'kiosk-1' as kiosk_id, 'lunch' as poll_id,
                'pizza' as option_id, null::text as voter_id
         from unnest($1::text[]) as e`,
        [votes.map((v) => v.eventId)],
      );
      const { rows } = await client.query<{ "QUERY PLAN": string }>(
        `explain (analyze, costs off, timing off, summary off)
         select ${STORED_IDENTITY_EQUALS} from probe_rows s`,
      );
      const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
      const read = plan
        .split("\n")
        .filter((l) => / on votes_\w+/.test(l) && !l.includes("never executed"));
      assert.ok((await partitions()).length >= 6, "many partitions to choose from");
      assert.equal(read.length, 2, plan);
      // Through each partition's key, by poll and event id (migration 047).
      for (const line of read)
        assert.match(line, /Index Scan using votes_\w+_poll_id_event_id_idx/);
      assert.match(plan, /Index Cond: \(\(poll_id = s\.poll_id\) AND \(event_id = s\.event_id\)\)/);
    } finally {
      client.release(true);
    }
  });

  test("a deleted poll's purge deletes its votes in every partition, nobody else's", async () => {
    await insertPoll(db.pool, "gone", ["a"]);
    await insertPoll(db.pool, "kept", ["a"]);
    // The same row slots (ctids) in several partitions, for both polls.
    for (const at of ["2026-12-02T00:00:00Z", "2027-01-02T00:00:00Z", "2027-02-02T00:00:00Z"])
      for (const pollId of ["gone", "kept"])
        await store([decoded({ eventId: idAt(at), pollId, optionId: "a" })]);
    await db.pool.query("select delete_polls(array['gone'])");
    let steps = 0;
    while ((await db.pool.query("select * from purge_deleted_polls(2)")).rowCount) steps++;
    assert.ok(steps >= 2, `the purge went in steps of 2 rows: ${steps}`);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'gone'"),
      0,
    );
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'kept'"),
      3,
    );
  });
});

describe("a deployment from before 033: the old votes table becomes the default partition", () => {
  const names = testNames();
  let pool: Pool;
  let old: DatabaseBefore;
  const ids = {
    today: uuidv7(),
    july2024: idAt("2024-07-01T12:00:00Z"),
    jan2023: idAt("2023-01-15T12:00:00Z"),
    v4: randomUUID(),
  };

  before(async () => {
    // The database as the release before 033 left it, with votes of several months.
    old = await databaseBefore(33, names.database);
    pool = old.pool;
    await insertPoll(pool, "lunch", ["yes"]);
    await pool.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       select e::uuid, 'lunch', 'yes', 'kiosk-1', now(), now(), 1 from unnest($1::text[]) as e`,
      [Object.values(ids)],
    );
  });
  after(async () => {
    await old?.close();
  });

  test("033 keeps every vote, moves this month's and one past month's, and a resend counts once", async () => {
    await old.upgrade();
    const where = async () =>
      Object.fromEntries(
        (
          await pool.query<{ event_id: string; p: string }>(
            "select event_id, tableoid::regclass::text as p from votes",
          )
        ).rows.map((r) => [r.event_id, r.p]),
      );
    const now = new Date();
    const month = `votes_p${now.getUTCFullYear()}_${String(now.getUTCMonth() + 1).padStart(2, "0")}`;
    assert.deepEqual(await where(), {
      [ids.today]: month,
      [ids.july2024]: "votes_default",
      [ids.jan2023]: "votes_p2023_01",
      [ids.v4]: "votes_legacy",
    });
    // Every one already stored, wherever it is: the same votes again are all duplicates.
    const again = Object.values(ids).map((eventId, i) => ({
      ...makeVote({ eventId, pollId: "lunch", optionId: "yes" }),
      streamSeq: 100 + i,
    }));
    const result = await storeBatch(pool, "VOTES", again, []);
    assert.deepEqual([result.inserted, result.duplicates], [0, 4]);
    await pool.query("select votes_ensure_partitions()");
    assert.equal((await where())[ids.july2024], "votes_p2024_07");
    assert.equal(await countVotes(pool), 4);
  });
});
