import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { databaseBefore } from "../test-support/schema-before.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { PollPurge } from "./poll-purge.ts";
import { RegisterRetention } from "./register-retention.ts";
import { storeBatch } from "./store-batch.ts";
import { createWriterMetrics } from "./writer-metrics.ts";

// REGISTER_RETENTION_DAYS (migration 054, register-retention.ts): the registers whose lesson
// ended past retention leave, with their state, people and events, through the purge, in
// steps of at most REGISTER_RETENTION_BATCH registers; a younger register stays; two
// writers do not both step at once; unset, nothing is deleted.

const DAY_MS = 86_400_000;
const KEEP_DAYS = 30;
const BATCH = 10;
const EXPIRED = 25;
const logger = createLogger("silent");

async function addRegister(pool: Pool, id: string, endedDaysAgo: number): Promise<void> {
  const ends = Date.now() - endedDaysAgo * DAY_MS;
  await pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ($1, $1, $1, 'ash', 'register', 'roster', '{7A}', $2, $3)`,
    [id, new Date(ends - 45 * 60_000), new Date(ends)],
  );
  // The options the API gives a register.
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     values ($1, 'absent', 'Absent', 0), ($1, 'present', 'Present', 1)`,
    [id],
  );
}

const expiredIds = Array.from({ length: EXPIRED }, (_, i) => `old-${i}`);
const keptIds = ["young", "today"];

interface RegisterRows {
  polls: number;
  options: number;
  register_states: number;
  register_people: number;
  votes: number;
  poll_purges: number;
}

/** What is left of these registers in each table a register has rows in. */
async function rowsOf(pool: Pool, ids: readonly string[]): Promise<RegisterRows> {
  const count = (table: string) =>
    queryNumber(pool, `select count(*) from ${table} where poll_id = any($1)`, [ids]);
  return {
    polls: await queryNumber(pool, "select count(*) from polls where id = any($1)", [ids]),
    options: await count("poll_options"),
    register_states: await count("register_states"),
    register_people: await count("register_people"),
    votes: await count("votes"),
    poll_purges: await count("poll_purges"),
  };
}

const metricsFor = () => createWriterMetrics(async () => ({ undelivered: 0, ackPending: 0 }));

describe("lesson registers past REGISTER_RETENTION_DAYS are deleted in the background (054)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
    await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    await db.pool.query(
      "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}')",
    );
    for (const id of expiredIds) await addRegister(db.pool, id, KEEP_DAYS + 10);
    await addRegister(db.pool, "young", KEEP_DAYS - 1);
    await addRegister(db.pool, "today", 0);
    // An absence in each: a state row, a person row and an event each.
    const votes = [...expiredIds, ...keptIds].map((pollId, i) => ({
      ...makeVote({ pollId, optionId: "absent", voterId: "A1" }),
      streamSeq: i + 1,
    }));
    await storeBatch(db.pool, "VOTES", votes, []);
    await db.pool.query("discard temp");
  });
  after(() => db?.drop());

  test("unset (the default), the purge deletes no register", async () => {
    const purge = new PollPurge({
      pool: db.pool,
      config: { pollPurgeBatchRows: 1_000, pollPurgeBatchPolls: 4, pollPurgeIntervalMs: 60_000 },
      logger,
      metrics: metricsFor(),
    });
    assert.equal(await purge.step(), undefined);
    const retention = new RegisterRetention({
      pool: db.pool,
      config: { registerRetentionDays: undefined, registerRetentionBatch: BATCH },
      logger,
      metrics: metricsFor(),
    });
    assert.equal(await retention.step(), undefined);
    assert.deepEqual(await rowsOf(db.pool, expiredIds), {
      polls: EXPIRED,
      options: EXPIRED * 2,
      register_states: EXPIRED,
      register_people: EXPIRED,
      votes: EXPIRED,
      poll_purges: 0,
    });
  });

  test("while another writer's step holds the lock, a step returns at once and deletes nothing", async () => {
    const other = await db.pool.connect();
    try {
      await other.query("begin");
      await other.query("select pg_advisory_xact_lock(hashtext('expire_registers'))");
      const retention = new RegisterRetention({
        pool: db.pool,
        config: { registerRetentionDays: KEEP_DAYS, registerRetentionBatch: BATCH },
        logger,
        metrics: metricsFor(),
      });
      assert.equal(await retention.step(), undefined);
      assert.equal((await rowsOf(db.pool, expiredIds)).polls, EXPIRED);
    } finally {
      await other.query("rollback");
      other.release();
    }
  });

  test("a bad argument is a clear error", async () => {
    await assert.rejects(db.pool.query("select expire_registers(0, 10)"), /keep days and limit/);
    await assert.rejects(db.pool.query("select expire_registers(30, 0)"), /keep days and limit/);
  });

  test("the expired registers and their rows go in bounded steps; the younger ones stay", async () => {
    const metrics = metricsFor();
    const purge = new PollPurge({
      pool: db.pool,
      config: {
        pollPurgeBatchRows: 1_000,
        // Fewer than a retention step's registers: the queue takes steps to drain (060).
        pollPurgeBatchPolls: 4,
        pollPurgeIntervalMs: 60_000,
        registerRetentionDays: KEEP_DAYS,
        registerRetentionBatch: BATCH,
      },
      logger,
      metrics,
    });
    const expiredPerStep: number[] = [];
    let steps = 0;
    for (;;) {
      const pollsBefore = (await rowsOf(db.pool, expiredIds)).polls;
      const purgesBefore = await queryNumber(db.pool, "select count(*) from poll_purges");
      const n = await purge.step();
      if (n === undefined) break;
      const deleted = pollsBefore - (await rowsOf(db.pool, expiredIds)).polls;
      if (deleted > 0) {
        expiredPerStep.push(deleted);
        // The queue is fed only once drained: never more than a step's registers in it.
        assert.equal(purgesBefore, 0, "registers expired while purges were still queued");
      }
      assert.ok(++steps <= EXPIRED * 2 + 10, "the steps end");
    }
    assert.ok(
      expiredPerStep.every((n) => n <= BATCH),
      `at most ${BATCH} registers a step: ${expiredPerStep.join(", ")}`,
    );
    assert.equal(expiredPerStep.length, Math.ceil(EXPIRED / BATCH));
    assert.deepEqual(await rowsOf(db.pool, expiredIds), {
      polls: 0,
      options: 0,
      register_states: 0,
      register_people: 0,
      votes: 0,
      poll_purges: 0,
    });
    assert.deepEqual(await rowsOf(db.pool, keptIds), {
      polls: 2,
      options: 4,
      register_states: 2,
      register_people: 2,
      votes: 2,
      poll_purges: 0,
    });
    assert.equal((await metrics.registersExpired.get()).values[0]!.value, EXPIRED);
    // Their document's removal is owed to the publisher, as for an admin's delete.
    assert.equal(
      await queryNumber(
        db.pool,
        "select count(*) from register_change_log where poll_id = any($1)",
        [expiredIds],
      ),
      EXPIRED,
    );
  });

  test("two writers stepping at once delete each register once, neither more than a step", async () => {
    for (let i = 0; i < 3 * BATCH; i++) await addRegister(db.pool, `again-${i}`, KEEP_DAYS + 2);
    const step = () =>
      db.pool
        .query<{ n: number | null }>("select expire_registers($1, $2) as n", [KEEP_DAYS, BATCH])
        .then((r) => r.rows[0]!.n);
    const results = await Promise.all([step(), step(), step(), step()]);
    const done = results.filter((n): n is number => n !== null);
    assert.ok(
      done.every((n) => n <= BATCH),
      `each at most ${BATCH}: ${results.join(", ")}`,
    );
    const left = await queryNumber(db.pool, "select count(*) from polls where id like 'again-%'");
    assert.equal(left, 3 * BATCH - done.reduce((a, b) => a + b, 0));
    assert.equal(
      await queryNumber(db.pool, "select count(*) from poll_purges where poll_id like 'again-%'"),
      3 * BATCH - left,
      "each deleted register queued once",
    );
    assert.equal((await rowsOf(db.pool, keptIds)).polls, 2);
  });
});

describe("upgrading to 054: the registers stored before it expire like any", () => {
  test("a deployment's old and young registers: the old ones go, through the new index", async () => {
    const db = await databaseBefore(54, testNames().database);
    try {
      await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
      for (const id of ["before-old-1", "before-old-2"]) await addRegister(db.pool, id, 400);
      await addRegister(db.pool, "before-young", 2);
      assert.ok((await db.upgrade()) >= 1, "054 and the ones after it ran");
      // Three rows: a sequential scan is cheaper; the plan at size is the index's (the bench).
      const client = await db.pool.connect();
      let plan: string;
      try {
        await client.query("begin");
        await client.query("set local enable_seqscan = off");
        const { rows } = await client.query<{ "QUERY PLAN": string }>(
          `explain select id from polls where kind = 'register'
             and ends_at < now() - interval '365 days' order by ends_at limit 1000`,
        );
        plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
        await client.query("rollback");
      } finally {
        client.release();
      }
      assert.match(plan, /Index Scan using polls_register_expiry_idx/);
      assert.equal((await db.pool.query("select expire_registers(365, 1000) as n")).rows[0].n, 2);
      assert.deepEqual(
        (await db.pool.query("select id from polls order by id")).rows.map((r) => r.id),
        ["before-young"],
      );
    } finally {
      await db.close();
    }
  });
});
