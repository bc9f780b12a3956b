import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { pino } from "pino";
import { v7 as uuidv7 } from "uuid";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { databaseBefore } from "../test-support/schema-before.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { PollPurge } from "./poll-purge.ts";
import { createWriterMetrics } from "./writer-metrics.ts";

// Migration 060: a purge step takes several queued polls at once (POLL_PURGE_BATCH_POLLS),
// their rows still within POLL_PURGE_BATCH_ROWS a table, and a poll is done only once the
// step proves it has nothing left: small polls go many a step; a big one among them under
// a small budget is never called done early and the counts add up; two writers share the
// queue without purging a poll twice or deadlocking; attendance polls still mark their
// person-days dirty.

const DAY_MS = 86_400_000;
const TABLES = ["votes", "voter_ballots", "rejected_votes", "conflicting_votes"] as const;

interface PollRows {
  votes: number;
  ballots?: number;
  rejected?: number;
  conflicting?: number;
  /** An attendance poll of this school (else a plain poll of the default school). */
  school?: string;
  /** Voters the votes cycle through ('P0', 'P1', …): polls sharing them share person-days. */
  people?: number;
  castAt?: string;
}

const rowsIn = (r: PollRows) =>
  r.votes + (r.ballots ?? 0) + (r.rejected ?? 0) + (r.conflicting ?? 0);

/** Event ids of this month and the next, alternately: the rows lie in two partitions. */
const eventIds = (n: number) =>
  Array.from({ length: n }, (_, i) => uuidv7({ msecs: Date.now() + (i % 2) * 32 * DAY_MS }));

async function pollWithRows(pool: Pool, id: string, r: PollRows): Promise<void> {
  if (r.school === undefined)
    await pool.query("insert into polls (id, slug, title) values ($1, $1, $1)", [id]);
  else
    await pool.query(
      `insert into polls (id, slug, title, kind, voters, school_id)
       values ($1, $1, $1, 'attendance', 'roster', $2)`,
      [id, r.school],
    );
  const cols = "event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq";
  const rows = (extra = "") =>
    `select e, $2, 'in', 'k1', 'P' || (k % $3::int), coalesce($4::timestamptz, now()), now(), k${extra}
     from unnest($1::uuid[]) with ordinality u(e, k)`;
  const params = (n: number) => [eventIds(n), id, r.people ?? 1_000_000, r.castAt ?? null];
  await pool.query(`insert into votes (${cols}) ${rows()}`, params(r.votes));
  await pool.query(
    `insert into rejected_votes (${cols}, reason) ${rows(", 'test'")}`,
    params(r.rejected ?? 0),
  );
  await pool.query(`insert into conflicting_votes (${cols}) ${rows()}`, params(r.conflicting ?? 0));
  await pool.query(
    `insert into voter_ballots (poll_id, voter_id, event_id)
     select $1, 'B' || i, gen_random_uuid() from generate_series(1, $2::int) i`,
    [id, r.ballots ?? 0],
  );
}

/** Each poll deleted in a transaction of its own: the queue's order is the order given. */
async function deletePolls(pool: Pool, ids: readonly string[]): Promise<void> {
  for (const id of ids) await pool.query("select delete_polls(array[$1])", [id]);
}

/** Rows left of each poll, all four tables together. */
async function leftOf(pool: Pool, ids: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; n: string }>(
    `select u.id, (${TABLES.map((t) => `(select count(*) from ${t} x where x.poll_id = u.id)`).join(" + ")})::text as n
     from unnest($1::text[]) u(id)`,
    [ids],
  );
  return new Map(rows.map((r) => [r.id, Number(r.n)]));
}

/** Rows left of these polls in each table. */
async function leftByTable(pool: Pool, ids: readonly string[]): Promise<number[]> {
  return Promise.all(
    TABLES.map((t) =>
      queryNumber(pool, `select count(*) from ${t} where poll_id = any($1)`, [ids]),
    ),
  );
}

async function queued(pool: Pool): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ poll_id: string; rows_purged: string }>(
    "select poll_id, rows_purged::text from poll_purges",
  );
  return new Map(rows.map((r) => [r.poll_id, Number(r.rows_purged)]));
}

/** A purge whose "deleted poll purged" lines are collected. */
function purgeOf(pool: Pool, batchRows: number, batchPolls: number) {
  const done: string[] = [];
  const logger = pino(
    { level: "info" },
    {
      write(line: string) {
        const entry = JSON.parse(line) as { msg: string; pollId?: string };
        if (entry.msg === "deleted poll purged" && entry.pollId) done.push(entry.pollId);
      },
    },
  );
  const metrics = createWriterMetrics(async () => ({ undelivered: 0, ackPending: 0 }));
  const purge = new PollPurge({
    pool,
    config: {
      pollPurgeBatchRows: batchRows,
      pollPurgeBatchPolls: batchPolls,
      pollPurgeIntervalMs: 60_000,
    },
    logger,
    metrics,
  });
  const rowsCounted = async () => (await metrics.pollPurgeRows.get()).values[0]?.value ?? 0;
  return { purge, done, rowsCounted };
}

describe("a purge step takes several queued polls (migration 060)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
    for (const school of [
      ["north", "Europe/London"],
      ["east", "Asia/Tokyo"],
    ])
      await db.pool.query("insert into schools (id, name, time_zone) values ($1, $1, $2)", school);
  });
  after(() => db?.drop());

  test("several small polls go in one step, the oldest first when more are queued", async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `small-${i}`);
    for (const id of ids)
      await pollWithRows(db.pool, id, { votes: 2, ballots: 1, rejected: 1, conflicting: 1 });
    await deletePolls(db.pool, ids);

    const four = purgeOf(db.pool, 5_000, 4);
    assert.equal(await four.purge.step(), 4 * 5);
    assert.deepEqual(four.done, ids.slice(0, 4), "the four oldest, each done and logged");
    assert.deepEqual([...(await queued(db.pool)).keys()].sort(), ids.slice(4));
    assert.equal(await four.rowsCounted(), 20);

    const all = purgeOf(db.pool, 5_000, 100);
    assert.equal(await all.purge.step(), 2 * 5);
    assert.deepEqual(all.done, ids.slice(4));
    assert.equal(await all.purge.step(), undefined, "nothing left to purge");
    assert.deepEqual([...(await leftOf(db.pool, ids)).values()], [0, 0, 0, 0, 0, 0]);
    assert.equal((await queued(db.pool)).size, 0);
  });

  test("a big poll among small ones under a small budget: nothing done early, counts right", async () => {
    const BUDGET = 10;
    const polls: Record<string, PollRows> = {
      "mix-a": { votes: 2, ballots: 1 },
      "mix-big": { votes: 45, ballots: 23, rejected: 12, conflicting: 3 },
      "mix-b": { votes: 3, rejected: 2 },
      // Exactly a budget of votes: done once a probe finds none left.
      "mix-exact": { votes: BUDGET },
      "mix-c": { votes: 1, ballots: 1, rejected: 1, conflicting: 1 },
    };
    const ids = Object.keys(polls);
    for (const [id, rows] of Object.entries(polls)) await pollWithRows(db.pool, id, rows);
    await deletePolls(db.pool, ids);
    const initial = new Map(ids.map((id) => [id, rowsIn(polls[id]!)]));
    const total = [...initial.values()].reduce((a, b) => a + b, 0);

    const { purge, done, rowsCounted } = purgeOf(db.pool, BUDGET, 100);
    const steps: number[] = [];
    for (;;) {
      const byTableBefore = await leftByTable(db.pool, ids);
      const leftBefore = await leftOf(db.pool, ids);
      const n = await purge.step();
      if (n === undefined) break;
      steps.push(n);
      assert.ok(steps.length <= total, "the purge ends");
      const byTableAfter = await leftByTable(db.pool, ids);
      for (const [i, b] of byTableBefore.entries())
        assert.ok(b - byTableAfter[i]! <= BUDGET, `${TABLES[i]}: ${b} → ${byTableAfter[i]}`);
      const left = await leftOf(db.pool, ids);
      assert.equal(
        n,
        ids.reduce((sum, id) => sum + leftBefore.get(id)! - left.get(id)!, 0),
        "the step's count is the rows it deleted",
      );
      const queue = await queued(db.pool);
      for (const id of ids) {
        if (!queue.has(id))
          assert.equal(left.get(id), 0, `${id} called done with ${left.get(id)} rows left`);
        else assert.equal(queue.get(id)! + left.get(id)!, initial.get(id), `${id}'s rows_purged`);
      }
    }
    assert.equal(
      steps.reduce((a, b) => a + b, 0),
      total,
    );
    assert.equal(await rowsCounted(), total);
    assert.deepEqual(done.toSorted(), ids.toSorted(), "each poll done, and logged, once");
    assert.equal((await queued(db.pool)).size, 0);
    // Each step but the last spends a table's whole budget (it stops there): none is lost
    // to the polls being many.
    assert.ok(
      steps.length <= Math.floor(total / BUDGET) + 1,
      `${total} rows in steps of ${steps.join(", ")}`,
    );
  });

  test("small polls taken with a big one are done in that step while the big one goes on", async () => {
    await pollWithRows(db.pool, "with-big", { votes: 5, ballots: 25 });
    await pollWithRows(db.pool, "with-reg-1", { votes: 2 });
    await pollWithRows(db.pool, "with-reg-2", { votes: 2 });
    await deletePolls(db.pool, ["with-big", "with-reg-1", "with-reg-2"]);
    const { purge, done } = purgeOf(db.pool, 10, 100);
    // All 9 votes (under the budget: none left of any), then 10 of the big one's ballots:
    // the budget ran out there, the tables after it are probed, not purged.
    assert.equal(await purge.step(), 9 + 10);
    assert.deepEqual(done, ["with-reg-1", "with-reg-2"]);
    assert.deepEqual([...(await queued(db.pool)).entries()], [["with-big", 15]]);
    for (let n = await purge.step(); n !== undefined; n = await purge.step());
    assert.deepEqual(done, ["with-reg-1", "with-reg-2", "with-big"]);
    assert.deepEqual(
      [...(await leftOf(db.pool, ["with-big", "with-reg-1", "with-reg-2"])).values()],
      [0, 0, 0],
    );
  });

  test("two writers: each takes polls the other has not, none is purged twice, no deadlock", async () => {
    const ids = Array.from({ length: 6 }, (_, i) => `locked-${i}`);
    for (const id of ids) await pollWithRows(db.pool, id, { votes: 3, ballots: 1 });
    await deletePolls(db.pool, ids);
    const other = await db.pool.connect();
    try {
      await other.query("begin");
      const mine = await other.query<{ poll_id: string; done: boolean }>(
        "select poll_id, done from purge_deleted_polls(1000, 3)",
      );
      assert.deepEqual(
        mine.rows.map((r) => r.poll_id),
        ids.slice(0, 3),
      );
      // Not waited for: the other writer's polls are skipped, not blocked on.
      const client = await db.pool.connect();
      try {
        await client.query("set lock_timeout = '2s'");
        const { rows } = await client.query<{ poll_id: string }>(
          "select poll_id from purge_deleted_polls(1000, 100)",
        );
        assert.deepEqual(
          rows.map((r) => r.poll_id),
          ids.slice(3),
        );
        await client.query("reset lock_timeout");
      } finally {
        client.release();
      }
      await other.query("commit");
    } finally {
      other.release();
    }
    assert.deepEqual([...(await leftOf(db.pool, ids)).values()], [0, 0, 0, 0, 0, 0]);
    assert.equal((await queued(db.pool)).size, 0);

    // At once, many small steps each, attendance polls sharing a school's person-days (their
    // marks land on the same keys from both writers).
    const polls = Array.from({ length: 40 }, (_, i) => `race-${i}`);
    for (const [i, id] of polls.entries())
      await pollWithRows(db.pool, id, {
        votes: 3 + (i % 5),
        ballots: i % 3,
        rejected: i % 2,
        ...(i % 2 === 0 ? { school: "north", people: 4 } : {}),
      });
    const total = [...(await leftOf(db.pool, polls)).values()].reduce((a, b) => a + b, 0);
    await deletePolls(db.pool, polls);
    const writers = [purgeOf(db.pool, 7, 5), purgeOf(db.pool, 7, 5)];
    const sums = await Promise.all(
      writers.map(async ({ purge }) => {
        let sum = 0;
        for (let n = await purge.step(); n !== undefined; n = await purge.step()) sum += n;
        return sum;
      }),
    );
    assert.equal(sums[0]! + sums[1]!, total, `rows purged by each writer: ${sums.join(", ")}`);
    const done = writers.flatMap((w) => w.done);
    assert.deepEqual(done.toSorted(), polls.toSorted(), "each poll done once, by one writer");
    assert.ok(
      writers.every((w) => w.done.length > 0),
      `both writers took polls: ${writers.map((w) => w.done.length).join(", ")}`,
    );
    assert.equal((await queued(db.pool)).size, 0);
    assert.deepEqual(
      [...(await leftOf(db.pool, polls)).values()].filter((n) => n > 0),
      [],
    );
  });

  test("attendance polls taken together still mark their person-days dirty", async () => {
    await db.pool.query("delete from attendance_dirty");
    // 23:30 UTC in December: the same day in London (GMT), the next in Tokyo.
    const castAt = "2026-12-01T23:30:00Z";
    await pollWithRows(db.pool, "door-north", { votes: 6, school: "north", people: 3, castAt });
    await pollWithRows(db.pool, "door-east", { votes: 4, school: "east", people: 4, castAt });
    await pollWithRows(db.pool, "door-north-2", { votes: 2, school: "north", people: 2, castAt });
    await pollWithRows(db.pool, "quiz", { votes: 5, people: 5, castAt });
    // A school gone before its poll's purge: no day can be told, nothing marked, no error.
    await db.pool.query("insert into schools (id, name) values ('gone', 'Gone')");
    await pollWithRows(db.pool, "door-gone", { votes: 2, school: "gone", people: 2, castAt });
    const ids = ["door-north", "quiz", "door-east", "door-gone", "door-north-2"];
    await deletePolls(db.pool, ids);
    await db.pool.query("delete from schools where id = 'gone'");

    const { purge, done } = purgeOf(db.pool, 5_000, 100);
    assert.equal(await purge.step(), 6 + 4 + 2 + 5 + 2);
    assert.deepEqual(done, ids);
    const { rows } = await db.pool.query<{ mark: string }>(
      `select school_id || ' ' || person_id || ' ' || day::text as mark from attendance_dirty
       order by 1`,
    );
    assert.deepEqual(
      rows.map((r) => r.mark),
      [
        "east P0 2026-12-02",
        "east P1 2026-12-02",
        "east P2 2026-12-02",
        "east P3 2026-12-02",
        "north P0 2026-12-01",
        "north P1 2026-12-01",
        "north P2 2026-12-01",
      ],
    );
  });

  test("a bad argument is a clear error", async () => {
    await assert.rejects(
      db.pool.query("select * from purge_deleted_polls(0, 10)"),
      /limit and polls must be at least 1/,
    );
    await assert.rejects(
      db.pool.query("select * from purge_deleted_polls(10, 0)"),
      /limit and polls must be at least 1/,
    );
  });
});

describe("upgrading to 060: a purge begun before it finishes", () => {
  test("a half-purged poll and a queued one: the old signature takes one a step, the new both", async () => {
    const db = await databaseBefore(60, testNames().database);
    try {
      await pollWithRows(db.pool, "begun", { votes: 5, ballots: 2 });
      await pollWithRows(db.pool, "waiting", { votes: 3 });
      await pollWithRows(db.pool, "later", { votes: 1 });
      await deletePolls(db.pool, ["begun", "waiting", "later"]);
      // 044's step: 2 of its 5 votes, the poll left queued with what it purged.
      await db.pool.query("select * from purge_deleted_polls(2)");
      assert.equal((await queued(db.pool)).get("begun"), 2);
      assert.ok((await db.upgrade()) >= 1, "060 and the ones after it ran");

      // 044's signature, now 060's step of one poll: 2 more votes, 1 left.
      const old = await db.pool.query<{ poll_id: string; purged: string; done: boolean }>(
        "select poll_id, purged::text, done from purge_deleted_polls(2)",
      );
      assert.deepEqual(old.rows, [{ poll_id: "begun", purged: "2", done: false }]);
      assert.equal((await queued(db.pool)).get("begun"), 4);
      const { rows } = await db.pool.query<{ poll_id: string; purged: string; done: boolean }>(
        "select poll_id, purged::text, done from purge_deleted_polls(1000, 2)",
      );
      assert.deepEqual(rows, [
        { poll_id: "begun", purged: "3", done: true },
        { poll_id: "waiting", purged: "3", done: true },
      ]);
      assert.deepEqual([...(await queued(db.pool)).keys()], ["later"]);
    } finally {
      await db.close();
    }
  });
});
