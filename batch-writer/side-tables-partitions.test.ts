import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import { insertPoll, queryNumber } from "../test-support/stored-votes.ts";
import { makeVote, type VoteSpec } from "../test-support/vote-messages.ts";
import type { DecodedVote } from "./decode.ts";
import { type PoisonRow, storeBatch } from "./store-batch.ts";
import { VotesPartitions } from "./votes-partitions.ts";
import { createWriterMetrics } from "./writer-metrics.ts";

// Migration 044: the writer's other tables that grow with events are partitioned by month
// under the votes' maintenance: refusals and clashes by their event id's time (a resend is
// refused in the first copy's partition), duplicate counts by day, dead letters by the time
// they were first seen (one dead letter per message, whatever month it comes back in).

const SIDE_TABLES = ["conflicting_votes", "dead_letters", "duplicate_counts", "rejected_votes"];
const idAt = (at: string) => uuidv7({ msecs: Date.parse(at) });
const DAY_MS = 86_400_000;
const month = (d = new Date()) =>
  `${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, "0")}`;

describe("the writer's side tables partitioned by month (migration 044)", () => {
  let db: TestDatabase;
  let seq = 1;
  const decoded = (spec: VoteSpec): DecodedVote => ({ ...makeVote(spec), streamSeq: seq++ });
  const poison = (msgId: string): PoisonRow => ({
    streamSeq: seq++,
    msgId,
    subject: "votes.lunch",
    deliveries: 1,
    itemIndex: -1,
    raw: new TextEncoder().encode("not json"),
    error: "invalid JSON",
  });
  const store = (votes: DecodedVote[], dead: PoisonRow[] = []) =>
    storeBatch(db.pool, "VOTES", votes, dead);
  const where = async (table: string, condition: string, params: unknown[]) =>
    (
      await db.pool.query<{ p: string }>(
        `select tableoid::regclass::text as p from ${table} where ${condition} order by 1`,
        params,
      )
    ).rows.map((r) => r.p);
  const ensureAt = (table: string, now: string, keep: string | null = null) =>
    db.pool.query<{ partition_name: string; moved: string }>(
      "select * from time_partitions_ensure($1, interval '3 months', $2, 1, $3::interval)",
      [table, now, keep],
    );

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await insertPoll(db.pool, "lunch", ["pizza", "salad"]);
    await insertPoll(db.pool, "council", ["ann", "bob"], { oneVotePerVoter: true });
    // Partitions for 2026-12 to 2027-03 in every table, whatever today's date.
    for (const table of ["votes", ...SIDE_TABLES]) await ensureAt(table, "2026-12-15T00:00:00Z");
  });
  after(() => db?.drop());

  test("each table's rows land in their month's partition, non-v7 ids in the legacy one", async () => {
    const first = decoded({
      eventId: idAt("2027-01-10T08:00:00Z"),
      pollId: "council",
      optionId: "ann",
      voterId: "v1",
    });
    const second = decoded({
      eventId: idAt("2027-02-10T08:00:00Z"),
      pollId: "council",
      optionId: "bob",
      voterId: "v1",
    });
    const legacySecond = decoded({
      eventId: randomUUID(),
      pollId: "council",
      optionId: "bob",
      voterId: "v1",
    });
    const stored = decoded({
      eventId: idAt("2027-03-01T00:00:00Z"),
      pollId: "lunch",
      optionId: "pizza",
    });
    await store([first, stored]);
    const duplicate = { ...stored, streamSeq: seq++ };
    const clash = { ...stored, kioskId: "other-kiosk", streamSeq: seq++ };
    const result = await store([second, legacySecond, duplicate, clash], [poison("dead-1")]);
    assert.deepEqual(
      [result.rejected, result.duplicates, result.conflicts, result.deadLettered],
      [2, 1, 1, 1],
    );
    assert.deepEqual(await where("rejected_votes", "event_id = $1", [second.eventId]), [
      "rejected_votes_p2027_02",
    ]);
    assert.deepEqual(await where("rejected_votes", "event_id = $1", [legacySecond.eventId]), [
      "rejected_votes_legacy",
    ]);
    assert.deepEqual(await where("conflicting_votes", "event_id = $1", [stored.eventId]), [
      "conflicting_votes_p2027_03",
    ]);
    // Counted and dead-lettered today: today's month (the migration made it).
    assert.deepEqual(await where("duplicate_counts", "poll_id = $1", ["lunch"]), [
      `duplicate_counts_p${month()}`,
    ]);
    assert.deepEqual(await where("dead_letters", "msg_id = $1", ["dead-1"]), [
      `dead_letters_p${month()}`,
    ]);
  });

  test("a resend across a month boundary is refused, clashes and is counted once", async () => {
    const ballot = decoded({
      eventId: idAt("2026-12-20T08:00:00Z"),
      pollId: "council",
      optionId: "ann",
      voterId: "v2",
    });
    const second = decoded({
      eventId: idAt("2026-12-31T23:59:59.999Z"),
      pollId: "council",
      optionId: "bob",
      voterId: "v2",
      castAt: "2026-12-31T23:59:59.999Z",
    });
    const stored = decoded({
      eventId: idAt("2026-12-31T23:59:59.998Z"),
      pollId: "lunch",
      optionId: "salad",
    });
    const clash = { ...stored, kioskId: "copied-id", streamSeq: seq++ };
    await store([ballot, stored]);
    assert.equal((await store([second, clash])).rejected, 1);
    // The same again in January, with the castAt a corrected clock gives it.
    const late = { castAt: "2027-01-01T00:00:00.001Z", receivedAt: "2027-01-01T00:05:00Z" };
    const again = await store([
      { ...second, ...late, streamSeq: seq++ },
      { ...clash, ...late, streamSeq: seq++ },
    ]);
    assert.deepEqual([again.inserted, again.conflicts], [0, 1]);
    assert.deepEqual(await where("rejected_votes", "event_id = $1", [second.eventId]), [
      "rejected_votes_p2026_12",
    ]);
    assert.deepEqual(await where("conflicting_votes", "event_id = $1", [stored.eventId]), [
      "conflicting_votes_p2026_12",
    ]);
  });

  test("a message dead-lettered again months later updates its one dead letter", async () => {
    // First seen in December 2026 and replayed since.
    const { rows } = await db.pool.query<{ id: string }>(
      `insert into dead_letters (stream, stream_seq, msg_id, item_index, subject, raw, error,
                                 deliveries, first_seen, last_seen, replayed_at)
       values ('VOTES', 1, 'resent-msg', -1, 'votes.lunch', '\\x00', 'old', 1,
               '2026-12-02T00:00:00Z', '2026-12-02T00:00:00Z', '2026-12-03T00:00:00Z')
       returning id`,
    );
    await store([], [poison("resent-msg"), poison("resent-msg")]);
    const dead = await db.pool.query(
      `select id, tableoid::regclass::text as p, error, replayed_at, last_seen > first_seen as seen_again
       from dead_letters where msg_id = 'resent-msg'`,
    );
    assert.deepEqual(dead.rows, [
      {
        id: rows[0]!.id,
        p: "dead_letters_p2026_12",
        error: "invalid JSON",
        replayed_at: null,
        seen_again: true,
      },
    ]);
  });

  test("two writers dead-lettering one new message at once make one dead letter", async () => {
    const call = `select record_dead_letters('VOTES', array[1::bigint], array['raced'], array[-1],
      array['votes.lunch'], array['\\x00'::bytea], array['e'], array[1], array['invalid'])`;
    const [a, b] = [await db.pool.connect(), await db.pool.connect()];
    try {
      await a.query("begin");
      await b.query("begin");
      // Without the key's lock, the second would look before the first commits, find none
      // and insert its own: another first_seen (now() of a later transaction), so no
      // conflict on (msg_id, item_index, first_seen), but a unique violation of the month's
      // (msg_id, item_index) index, failing its writer's batch.
      await a.query(call);
      const second = b.query(call);
      await new Promise((resolve) => setTimeout(resolve, 200));
      await a.query("commit");
      await second;
      await b.query("commit");
    } finally {
      a.release();
      b.release();
    }
    assert.equal(
      await queryNumber(db.pool, "select count(*) from dead_letters where msg_id = 'raced'"),
      1,
    );
  });

  test("a row of a month with no partition goes to the default one and is moved later", async () => {
    const ballot = decoded({
      eventId: idAt("2041-06-01T08:00:00Z"),
      pollId: "council",
      optionId: "ann",
      voterId: "v3",
    });
    const second = decoded({
      eventId: idAt("2041-06-10T08:00:00Z"),
      pollId: "council",
      optionId: "bob",
      voterId: "v3",
    });
    const stored = decoded({
      eventId: idAt("2041-06-11T00:00:00Z"),
      pollId: "lunch",
      optionId: "pizza",
    });
    await store([ballot, stored]);
    await store([second, { ...stored, kioskId: "k9", streamSeq: seq++ }]);
    await db.pool.query(
      "insert into duplicate_counts (poll_id, kiosk_id, day, count) values ('lunch', 'k9', '2041-06-12', 3)",
    );
    await db.pool.query(
      `insert into dead_letters (stream, stream_seq, msg_id, subject, raw, error, deliveries, first_seen)
       values ('VOTES', 1, 'ahead', 'votes.lunch', '\\x00', 'e', 1, '2041-06-13T00:00:00Z')`,
    );
    const rows = {
      rejected_votes: ["event_id = $1", second.eventId],
      conflicting_votes: ["event_id = $1", stored.eventId],
      duplicate_counts: ["kiosk_id = $1", "k9"],
      dead_letters: ["msg_id = $1", "ahead"],
    } as const;
    for (const [table, [condition, value]] of Object.entries(rows))
      assert.deepEqual(await where(table, condition, [value]), [`${table}_default`]);

    // The writers' maintenance, as if run in May 2041: the month is made, its rows moved.
    for (const table of SIDE_TABLES) {
      const made = (await ensureAt(table, "2041-05-01T00:00:00Z")).rows;
      assert.ok(
        made.some((r) => r.partition_name === `${table}_p2041_06` && Number(r.moved) === 1),
        `${table}: ${JSON.stringify(made)}`,
      );
    }
    for (const [table, [condition, value]] of Object.entries(rows))
      assert.deepEqual(await where(table, condition, [value]), [`${table}_p2041_06`]);
    // Moved, still refused once: a resend adds nothing.
    await store([
      { ...second, streamSeq: seq++ },
      { ...stored, kioskId: "k9", streamSeq: seq++ },
    ]);
    for (const table of ["rejected_votes", "conflicting_votes"])
      assert.equal(
        await queryNumber(db.pool, `select count(*) from ${table} where event_id = $1`, [
          table === "rejected_votes" ? second.eventId : stored.eventId,
        ]),
        1,
      );
  });

  test("a deleted poll's purge deletes its refusals in every partition, nobody else's", async () => {
    await insertPoll(db.pool, "gone", ["a"]);
    await insertPoll(db.pool, "kept", ["a"]);
    // The same row slots (ctids) in several partitions of both tables, one poll's in one
    // partition the other's in the next: a ctid deleted in every partition would take both.
    const months = ["2026-12-02T00:00:00Z", "2027-01-02T00:00:00Z", "2027-02-02T00:00:00Z"];
    for (const [i, at] of months.entries())
      for (const pollId of i % 2 === 0 ? ["gone", "kept"] : ["kept", "gone"]) {
        const cols = "event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq";
        await db.pool.query(
          `insert into rejected_votes (${cols}, reason) values ($1, $2, 'a', 'k', $3, $3, 1, 'test')`,
          [idAt(at), pollId, at],
        );
        await db.pool.query(
          `insert into conflicting_votes (${cols}) values ($1, $2, 'a', 'k', $3, $3, 1)`,
          [idAt(at), pollId, at],
        );
      }
    await db.pool.query("select delete_polls(array['gone'])");
    let steps = 0;
    while ((await db.pool.query("select * from purge_deleted_polls(2)")).rowCount) steps++;
    assert.ok(steps >= 3, `the purge went in steps of 2 rows: ${steps}`);
    for (const table of ["rejected_votes", "conflicting_votes"])
      assert.deepEqual(
        (
          await db.pool.query<{ poll_id: string; n: number }>(
            `select poll_id, count(*)::int as n from ${table}
             where poll_id in ('gone', 'kept') group by 1`,
          )
        ).rows,
        [{ poll_id: "kept", n: 3 }],
        table,
      );
  });

  test("a partition attached by hand gets the unique index its table needs", async () => {
    await db.pool.query("create table rejected_by_hand (like rejected_votes including defaults)");
    await db.pool.query(
      "alter table rejected_votes attach partition rejected_by_hand for values from ('2045-01-01 00:00:00+00') to ('2045-02-01 00:00:00+00')",
    );
    await db.pool.query("select time_partitions_ensure('rejected_votes')");
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(*) from time_partitions_without_key('rejected_votes')",
      ),
      0,
    );
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(*) from pg_indexes where tablename = 'rejected_by_hand' and indexdef like '%UNIQUE%(poll_id, event_id)'",
      ),
      1,
    );
  });
});

describe("retention of the side tables (migration 044)", () => {
  let db: TestDatabase;
  const names = (rows: { partition_name: string; outcome: string; affected: string }[]) =>
    rows.map((r) => [r.partition_name, r.outcome, Number(r.affected)]);
  const dropAt = (table: string, keep: string, now: string) =>
    db.pool
      .query<{ partition_name: string; outcome: string; affected: string }>(
        "select * from time_partitions_drop_expired($1, $2::interval, $3)",
        [table, keep, now],
      )
      .then((r) => names(r.rows));
  const leaves = async (table: string) =>
    (
      await db.pool.query<{ p: string }>(
        "select relid::regclass::text as p from pg_partition_tree($1::regclass) where isleaf order by 1",
        [table],
      )
    ).rows.map((r) => r.p);
  const refusal = (eventId: string, rejectedAt: string) =>
    db.pool.query(
      `insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at,
                                   stream_seq, reason, rejected_at)
       values ($1, 'lunch', 'pizza', 'k1', event_id_time($1), event_id_time($1), 1, 'test', $2)`,
      [eventId, rejectedAt],
    );

  before(async () => {
    db = await createTestDatabase(testNames().database);
    for (const table of SIDE_TABLES)
      await db.pool.query(
        "select time_partitions_ensure($1, interval '3 months', timestamptz '2020-01-15 00:00:00+00')",
        [table],
      );
    // One row in January and one in March 2020 of each table.
    for (const at of ["2020-01-20T10:00:00Z", "2020-03-20T10:00:00Z"]) {
      await refusal(idAt(at), at);
      await db.pool.query(
        `insert into conflicting_votes (event_id, poll_id, option_id, kiosk_id, cast_at,
                                        received_at, stream_seq, recorded_at)
         values ($1, 'lunch', 'pizza', 'k1', $2, $2, 1, $2)`,
        [idAt(at), at],
      );
      await db.pool.query(
        "insert into duplicate_counts (poll_id, kiosk_id, day, count) values ('lunch', 'k1', $1::timestamptz::date, 1)",
        [at],
      );
      await db.pool.query(
        `insert into dead_letters (stream, stream_seq, msg_id, subject, raw, error, deliveries,
                                   first_seen, last_seen, replayed_at)
         values ('VOTES', 1, $1, 'votes.lunch', '\\x00', 'e', 1, $2, $2, $2)`,
        [`msg-${at}`, at],
      );
    }
  });
  after(() => db?.drop());

  test("months ended before the horizon are dropped in every table, later ones kept", async () => {
    for (const table of SIDE_TABLES) {
      // Horizon 2020-03-11, less the day of grace: January and February ended before it.
      assert.deepEqual(await dropAt(table, "30 days", "2020-04-10T00:00:00Z"), [
        [`${table}_p2020_01`, "dropped", 0],
        [`${table}_p2020_02`, "dropped", 0],
      ]);
      const left = await leaves(table);
      assert.ok(!left.includes(`${table}_p2020_01`), table);
      assert.ok(left.includes(`${table}_p2020_03`) && left.includes(`${table}_default`), table);
      assert.equal(await queryNumber(db.pool, `select count(*) from ${table}`), 1, table);
    }
    assert.ok((await leaves("rejected_votes")).includes("rejected_votes_legacy"));
  });

  test("a month holding a dead letter never replayed is kept until it is replayed", async () => {
    await db.pool.query(
      `update dead_letters set replayed_at = null where msg_id = 'msg-2020-03-20T10:00:00Z'`,
    );
    assert.deepEqual(await dropAt("dead_letters", "30 days", "2020-06-10T00:00:00Z"), [
      ["dead_letters_p2020_03", "kept", 1],
      ["dead_letters_p2020_04", "dropped", 0],
    ]);
    assert.ok((await leaves("dead_letters")).includes("dead_letters_p2020_03"));
    // The writer's pass says so at every pass, and drops the month once it is replayed.
    const warnings: unknown[] = [];
    const logger = createLogger("silent");
    logger.warn = ((obj: unknown) => {
      warnings.push(obj);
    }) as typeof logger.warn;
    const keepDays = Math.floor((Date.now() - Date.parse("2020-05-10T00:00:00Z")) / DAY_MS);
    const metrics = createWriterMetrics(async () => ({ undelivered: 0, ackPending: 0 }));
    const pastRetention = async () =>
      (await metrics.deadLettersPastRetention.get()).values[0]?.value;
    const maintenance = new VotesPartitions({
      pool: db.pool,
      config: {
        votesPartitionsAheadMonths: 3,
        votesPartitionCheckMs: 60_000,
        votesRetentionDays: keepDays,
      },
      logger,
      metrics,
    });
    assert.deepEqual(await maintenance.dropExpired(), [
      "conflicting_votes_p2020_03",
      "conflicting_votes_p2020_04",
      "duplicate_counts_p2020_03",
      "duplicate_counts_p2020_04",
      "rejected_votes_p2020_03",
      "rejected_votes_p2020_04",
    ]);
    assert.deepEqual(warnings, [{ partition: "dead_letters_p2020_03", unreplayed: 1 }]);
    assert.equal(await pastRetention(), 1, "the gauge counts the dead letter kept");
    await db.pool.query("update dead_letters set replayed_at = now()");
    assert.deepEqual(await maintenance.dropExpired(), ["dead_letters_p2020_03"]);
    assert.equal(await pastRetention(), 0, "replayed, dropped: nothing kept");
  });

  test("a refusal of a month already past retention waits in the default, then goes", async () => {
    // A past_retention refusal: its event id is years old, the refusal is new.
    const old = idAt("2019-05-01T00:00:00Z");
    await refusal(old, "2021-01-10T00:00:00Z");
    const where = () =>
      db.pool
        .query<{ p: string }>(
          "select tableoid::regclass::text as p from rejected_votes where event_id = $1",
          [old],
        )
        .then((r) => r.rows.map((x) => x.p));
    // Its month is past retention: no partition is made for it, so no pass drops it at once.
    const made = await db.pool.query(
      "select * from time_partitions_ensure('rejected_votes', interval '3 months', timestamptz '2021-01-15 00:00:00+00', null, interval '30 days')",
    );
    assert.ok(!made.rows.some((r) => r.partition_name === "rejected_votes_p2019_05"));
    assert.deepEqual(await dropAt("rejected_votes", "30 days", "2021-01-20T00:00:00Z"), []);
    assert.deepEqual(await where(), ["rejected_votes_default"]);
    // Kept the retention after it was refused, then deleted from the default.
    assert.deepEqual(await dropAt("rejected_votes", "30 days", "2021-03-01T00:00:00Z"), [
      ["rejected_votes_default", "deleted", 1],
    ]);
    assert.deepEqual(await where(), []);
  });
});

describe("a deployment from before 044: each old table becomes its default partition", () => {
  const names = testNames();
  let pool: Pool;
  let old: DatabaseBefore;
  const now = new Date();
  const ids = { today: uuidv7(), jan2023: idAt("2023-01-15T12:00:00Z"), v4: randomUUID() };

  before(async () => {
    old = await databaseBefore(44, names.database);
    pool = old.pool;
    await insertPoll(pool, "lunch", ["yes"]);
    for (const [i, e] of Object.values(ids).entries()) {
      const at = e === ids.jan2023 ? "2023-01-15T12:00:00Z" : now.toISOString();
      await pool.query(
        `insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at,
                                     stream_seq, reason, rejected_at)
         values ($1, 'lunch', 'yes', 'k1', $2, $2, $3, 'voter_already_voted', $2)`,
        [e, at, i],
      );
      await pool.query(
        `insert into conflicting_votes (event_id, poll_id, option_id, kiosk_id, cast_at,
                                        received_at, stream_seq, recorded_at)
         values ($1, 'lunch', 'yes', 'k1', $2, $2, $3, $2)`,
        [e, at, i],
      );
      await pool.query(
        "insert into duplicate_counts (poll_id, kiosk_id, day, count) values ('lunch', $1, $2::timestamptz::date, 2)",
        [`k${i}`, at],
      );
      await pool.query(
        `insert into dead_letters (stream, stream_seq, msg_id, subject, raw, error, deliveries,
                                   first_seen, last_seen)
         values ('VOTES', $1, $2, 'votes.lunch', '\\x00', 'e', 1, $3, $3)`,
        [i, `old-${i}`, at],
      );
    }
  });
  after(async () => {
    await old?.close();
  });

  test("044 keeps every row, moves this month's, and the keys still hold", async () => {
    const before = Object.fromEntries(
      await Promise.all(
        SIDE_TABLES.map(async (t) => [t, await queryNumber(pool, `select count(*) from ${t}`)]),
      ),
    );
    const maxIds = await pool.query(
      "select (select max(id) from conflicting_votes) as c, (select max(id) from dead_letters) as d",
    );
    await old.upgrade();
    for (const table of SIDE_TABLES) {
      assert.equal(await queryNumber(pool, `select count(*) from ${table}`), before[table], table);
      const where = await pool.query<{ p: string; n: number }>(
        `select tableoid::regclass::text as p, count(*)::int as n from ${table} group by 1 order by 1`,
      );
      const expected: Record<string, number> =
        table === "rejected_votes" || table === "conflicting_votes"
          ? { [`${table}_default`]: 1, [`${table}_legacy`]: 1, [`${table}_p${month(now)}`]: 1 }
          : { [`${table}_default`]: 1, [`${table}_p${month(now)}`]: 2 };
      assert.deepEqual(Object.fromEntries(where.rows.map((r) => [r.p, r.n])), expected, table);
    }
    // The same refusal and clash again, wherever they are stored, are not recorded twice.
    const again = Object.values(ids).map((eventId, i) => ({
      ...makeVote({ eventId, pollId: "lunch", optionId: "yes", kioskId: "k1" }),
      streamSeq: 100 + i,
    }));
    for (const table of ["rejected_votes", "conflicting_votes"]) {
      const cols =
        "event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq";
      const reason = table === "rejected_votes" ? ", reason" : "";
      await pool.query(
        `insert into ${table} (${cols}${reason})
         select e, 'lunch', 'yes', 'k1', null, now(), now(), 1${reason ? ", 'voter_already_voted'" : ""}
         from unnest($1::uuid[]) as e on conflict do nothing`,
        [again.map((v) => v.eventId)],
      );
      assert.equal(await queryNumber(pool, `select count(*) from ${table}`), 3, table);
    }
    // A dead letter of January 2023 dead-lettered again: the same one, in the default.
    await storeBatch(
      pool,
      "VOTES",
      [],
      [
        {
          streamSeq: 9,
          msgId: "old-1",
          subject: "votes.lunch",
          deliveries: 2,
          itemIndex: -1,
          raw: new Uint8Array([1]),
          error: "again",
        },
      ],
    );
    assert.equal(
      await queryNumber(pool, "select count(*) from dead_letters where msg_id = 'old-1'"),
      1,
    );
    // Identities go on from the old tables' (no id given twice).
    await pool.query(
      `insert into conflicting_votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
       values ($1, 'lunch', 'yes', 'k2', now(), now(), 1)`,
      [uuidv7()],
    );
    await storeBatch(
      pool,
      "VOTES",
      [],
      [
        {
          streamSeq: 10,
          msgId: "new-1",
          subject: "votes.lunch",
          deliveries: 1,
          itemIndex: -1,
          raw: new Uint8Array([1]),
          error: "new",
        },
      ],
    );
    const { rows } = await pool.query<{ c: string; d: string }>(
      "select (select max(id) from conflicting_votes where kiosk_id = 'k2') as c, (select max(id) from dead_letters where msg_id = 'new-1') as d",
    );
    assert.ok(BigInt(rows[0]!.c) > BigInt(maxIds.rows[0].c), "conflicting_votes ids go on");
    assert.ok(BigInt(rows[0]!.d) > BigInt(maxIds.rows[0].d), "dead_letters ids go on");
    // The maintenance moves the old month out of the default (no retention: none is past it).
    await pool.query("select time_partitions_ensure('rejected_votes')");
    assert.equal(
      await queryNumber(pool, "select count(*) from rejected_votes_p2023_01 where event_id = $1", [
        ids.jan2023,
      ]),
      1,
    );
  });
});
