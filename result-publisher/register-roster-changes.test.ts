import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool, PoolClient } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import {
  deletePeopleSql,
  insertPeopleSql,
  pollsInserted,
  updatePeopleSql,
} from "../ingest-api/registry/registry-changes.ts";
import type { TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { openPublisherBed, type PublisherBed } from "../test-support/publisher-bed.ts";
import { readRegisterDocument } from "../test-support/register-documents.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";
import { RegisterPublisher } from "./register-publisher.ts";

// A register not completed lists its group's active members still to be said: a roster
// change republishes it, and not a completed one, without transaction ids (migration 056:
// a statement writing people logs the school's changed groups in register_roster_change_log
// through people_changed (059, registry-changes.ts changePeopleSql), the leader turns them
// into register changes). A long transaction elsewhere changes nothing.

const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const NOW = Date.now();
const HOUR = 3_600_000;

let bed: PublisherBed;
let db: TestDatabase;
let pool: Pool;
let redis: RedisClient;

const newPublisher = ({
  maxDocumentsPerRun = 100,
  leaderPid,
}: {
  maxDocumentsPerRun?: number;
  leaderPid?: () => number | undefined;
} = {}) =>
  new RegisterPublisher({
    pool,
    redis,
    keyPrefix: prefix,
    daysKept: 7,
    maxDocumentsPerRun,
    completionGraceMs: 600_000,
    leaderPid,
    logger,
    metrics: createPublisherMetrics(),
  });

const document = (pollId: string) => readRegisterDocument(redis, prefix, pollId);

/** A register created as the API's store does: the row, then polls_inserted (055: logged). */
async function addRegister(id: string, group: string, startsAtMs: number) {
  const client = await db.pool.connect();
  try {
    await client.query("begin");
    await client.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ($1, $1, $1, 'ash', 'register', 'roster', array[$2], $3, $4)`,
      [id, group, new Date(startsAtMs), new Date(startsAtMs + HOUR)],
    );
    await pollsInserted(client, [id]);
    await client.query("commit");
  } catch (err) {
    await client.query("rollback");
    throw err;
  } finally {
    client.release();
  }
}

async function complete(pollId: string) {
  const { rows } = await db.pool.query<{ incarnation: string }>(
    "select incarnation from polls where id = $1",
    [pollId],
  );
  const at = new Date(NOW - HOUR / 2).toISOString();
  await storeBatch(db.pool, "VOTES", [], [], 0, [
    {
      completionId: randomUUID(),
      pollId,
      pollIncarnation: Number(rows[0]!.incarnation),
      completedAt: at,
      receivedAt: at,
      by: "tt-1",
    },
  ]);
  await db.pool.query("discard temp");
}

async function rosterLog(): Promise<{ school_id: string; groups: string[] }[]> {
  const { rows } = await db.pool.query<{ school_id: string; groups: string[] }>(
    "select school_id, groups from register_roster_change_log order by school_id",
  );
  return rows;
}

async function registerLog(): Promise<string[]> {
  const { rows } = await db.pool.query<{ poll_id: string }>(
    "select poll_id from register_change_log order by poll_id",
  );
  return rows.map((r) => r.poll_id);
}

before(async () => {
  bed = await openPublisherBed(names, "test-register-roster", logger);
  ({ db, pool, redis } = bed);
  await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
  await db.pool.query(
    `insert into people (school_id, id, groups) values
       ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}'), ('ash', 'B1', '{7B}')`,
  );
  await addRegister("open-7a", "7A", NOW - HOUR);
  await addRegister("done-7a", "7A", NOW - 2 * HOUR);
  await addRegister("open-7b", "7B", NOW - HOUR);
  await complete("done-7a");
});

after(async () => {
  await bed?.close();
});

describe("a roster change republishes the registers not completed of the groups it changed", () => {
  let publisher: RegisterPublisher;
  before(async () => {
    publisher = newPublisher();
    await publisher.run(NOW);
    await publisher.run(NOW);
    assert.deepEqual([await rosterLog(), await registerLog()], [[], []]);
    assert.deepEqual((await document("open-7a"))?.lists.pending, ["A1", "A2"]);
    assert.deepEqual((await document("done-7a"))?.lists.present, ["A1", "A2"]);
  });

  test("a pupil added, one removed from the group, one deactivated, a long transaction open", async () => {
    // Held open from here on: its transaction id is every later snapshot's xmin.
    const held = await db.pool.connect();
    try {
      await held.query("begin");
      await held.query("select pg_current_xact_id()");
      const done = (await document("done-7a"))?.version;
      const other = (await document("open-7b"))?.version;

      await db.pool.query(insertPeopleSql("(school_id, id, groups) values ('ash', 'A3', '{7A}')"));
      assert.deepEqual(await rosterLog(), [{ school_id: "ash", groups: ["7A"] }]);
      let run = await publisher.run(NOW);
      assert.deepEqual([run.rosters, run.published], [1, ["open-7a"]]);
      assert.deepEqual((await document("open-7a"))?.lists.pending, ["A1", "A2", "A3"]);

      await db.pool.query(
        updatePeopleSql("groups = '{7B}'", "p.school_id = 'ash' and p.id = 'A2'"),
      );
      assert.deepEqual(await rosterLog(), [{ school_id: "ash", groups: ["7A", "7B"] }]);
      run = await publisher.run(NOW);
      assert.deepEqual(run.published.sort(), ["open-7a", "open-7b"]);
      assert.deepEqual((await document("open-7a"))?.lists.pending, ["A1", "A3"]);
      assert.deepEqual((await document("open-7b"))?.lists.pending, ["A2", "B1"]);

      await db.pool.query(updatePeopleSql("active = false", "p.school_id = 'ash' and p.id = 'A1'"));
      run = await publisher.run(NOW);
      assert.deepEqual(run.published, ["open-7a"]);
      assert.deepEqual((await document("open-7a"))?.lists.pending, ["A3"]);

      // The completed register keeps the completion's roster: never rebuilt for a roster.
      assert.equal((await document("done-7a"))?.version, done);
      assert.deepEqual((await document("done-7a"))?.lists.present, ["A1", "A2"]);
      assert.notEqual((await document("open-7b"))?.version, other);
      assert.deepEqual([await rosterLog(), await registerLog()], [[], []]);
      const idle = await publisher.run(NOW);
      assert.deepEqual([idle.rosters, idle.registers, idle.published], [0, 0, []]);
    } finally {
      await held.query("rollback").catch(() => {});
      held.release();
    }
  });

  test("a statement that changes no membership (a name) logs nothing", async () => {
    await db.pool.query(updatePeopleSql("name = 'Ann'", "p.school_id = 'ash' and p.id = 'A3'"));
    await db.pool.query(updatePeopleSql("groups = '{7C}'", "p.school_id = 'ash' and p.id = 'A1'"));
    assert.deepEqual(await rosterLog(), [], "A1 is not active: in no group's list");
  });

  test("a register created while a roster change is not committed yet gets the new roster", async () => {
    const roster: PoolClient = await db.pool.connect();
    try {
      await roster.query("begin");
      await roster.query(insertPeopleSql("(school_id, id, groups) values ('ash', 'A4', '{7A}')"));
      // Created and committed after the roster statement, before its commit: a run now sees
      // the register and not the roster change.
      await addRegister("late-7a", "7A", NOW);
      let run = await publisher.run(NOW);
      assert.deepEqual(run.published, ["late-7a"]);
      assert.deepEqual((await document("late-7a"))?.lists.pending, ["A3"]);
      await roster.query("commit");
      run = await publisher.run(NOW);
      assert.deepEqual(run.published.sort(), ["late-7a", "open-7a"]);
      assert.deepEqual((await document("late-7a"))?.lists.pending, ["A3", "A4"]);
    } finally {
      await roster.query("rollback").catch(() => {});
      roster.release();
    }
  });

  test("a roster transaction left open does not hold the leader's run: it is consumed once committed", async () => {
    await db.pool.query(updatePeopleSql("groups = '{7A}'", "p.school_id = 'ash' and p.id = 'A1'"));
    await db.pool.query(updatePeopleSql("active = true", "p.school_id = 'ash' and p.id = 'A1'"));
    assert.deepEqual(await rosterLog(), [{ school_id: "ash", groups: ["7A"] }]);
    const open: PoolClient = await db.pool.connect();
    try {
      await open.query("begin");
      // Holds the school's row (its upsert) until commit, as a console left open would.
      await open.query(insertPeopleSql("(school_id, id, groups) values ('ash', 'A6', '{7A}')"));
      const run = await Promise.race([
        publisher.run(NOW),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("the run waited for the roster transaction")), 5_000),
        ),
      ]);
      assert.deepEqual([run.rosters, run.published], [0, []], "the row is left for later");
      await open.query("commit");
    } finally {
      await open.query("rollback").catch(() => {});
      open.release();
    }
    const run = await publisher.run(NOW);
    assert.equal(run.rosters, 1);
    assert.deepEqual(run.published.sort(), ["late-7a", "open-7a"]);
    assert.deepEqual((await document("open-7a"))?.lists.pending, ["A1", "A3", "A4", "A6"]);
    // Back as the next tests expect it.
    await db.pool.query(deletePeopleSql("p.school_id = 'ash' and p.id = 'A6'"));
    await db.pool.query(updatePeopleSql("active = false", "p.school_id = 'ash' and p.id = 'A1'"));
    await publisher.run(NOW);
    assert.deepEqual((await document("open-7a"))?.lists.pending, ["A3", "A4"]);
  });

  test("registers owed across the budget stay logged: a new leader builds them", async () => {
    const budgeted = newPublisher({ maxDocumentsPerRun: 1 });
    await budgeted.run(NOW);
    await db.pool.query(insertPeopleSql("(school_id, id, groups) values ('ash', 'A5', '{7A}')"));
    const run = await budgeted.run(NOW);
    assert.deepEqual([run.rosters, run.published.length, run.owed], [1, 1, 1]);
    assert.deepEqual(await rosterLog(), []);
    assert.equal((await registerLog()).length, 1, "the owed register's row stays");
    const leader = newPublisher();
    const next = await leader.run(NOW);
    assert.deepEqual([next.rebuilt, next.published.length], [false, 1]);
    for (const id of ["open-7a", "late-7a"])
      assert.deepEqual((await document(id))?.lists.pending, ["A3", "A4", "A5"], id);
    assert.deepEqual(await registerLog(), []);
  });

  test("a publisher that is not the leader consumes no roster change", async () => {
    await db.pool.query(deletePeopleSql("p.school_id = 'ash' and p.id = 'A5'"));
    const old = newPublisher({ leaderPid: () => undefined });
    assert.equal((await old.run(NOW)).rosters, 0);
    assert.deepEqual(await rosterLog(), [{ school_id: "ash", groups: ["7A"] }]);
    const run = await publisher.run(NOW);
    assert.deepEqual(run.published.sort(), ["late-7a", "open-7a"]);
    assert.deepEqual((await document("open-7a"))?.lists.pending, ["A3", "A4"]);
  });
});
