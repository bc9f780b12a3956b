import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool, PoolClient } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { eventually } from "../harness/waiting.ts";
import { runAcrossCommit, type WriterTransaction } from "../harness/writer-rollups.ts";
import { pollsInserted, updatePollsSql } from "../ingest-api/registry/registry-changes.ts";
import type { TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { openPublisherBed, type PublisherBed } from "../test-support/publisher-bed.ts";
import { readRegisterDocument } from "../test-support/register-documents.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { Leadership, LOCK_APPLICATION_NAME } from "./leader.ts";
import { createPublisherMetrics, type PublisherMetrics } from "./publisher-metrics.ts";
import { RegisterPublisher } from "./register-publisher.ts";
import { deleteRegisterChangeLog, loadRegisterChangeLog } from "./register-store.ts";

// The registers' change tracking without transaction ids (migration 050): what a run reads
// is the change log's rows not consumed yet, never the changes since a snapshot's xmin; the
// log is deleted only once what was read of it is published, only where it still says what
// was read, and only by a leader whose lock session still holds the lock.

const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const NOW = Date.now();
const HOUR = 3_600_000;

let bed: PublisherBed;
let db: TestDatabase;
let pool: Pool;
let redis: RedisClient;

const newPublisher = (
  metrics: PublisherMetrics,
  {
    maxDocumentsPerRun = 100,
    leaderPid,
  }: { maxDocumentsPerRun?: number; leaderPid?: () => number | undefined } = {},
) =>
  new RegisterPublisher({
    pool,
    redis,
    keyPrefix: prefix,
    daysKept: 7,
    maxDocumentsPerRun,
    completionGraceMs: 600_000,
    leaderPid,
    logger,
    metrics,
  });

const rowsRead = async (m: PublisherMetrics) =>
  (await m.registerRowsRead.get()).values[0]?.value ?? 0;

const document = (pollId: string) => readRegisterDocument(redis, prefix, pollId);

async function logged(): Promise<string[]> {
  const { rows } = await db.pool.query<{ poll_id: string }>(
    "select poll_id from register_change_log order by poll_id",
  );
  return rows.map((r) => r.poll_id);
}

/** As the API creates one: the row, then polls_inserted (its log row, migration 055). */
async function addRegister(id: string, startsAtMs: number) {
  await db.pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ($1, $1, $1, 'ash', 'register', 'roster', '{7A}', $2, $3)`,
    [id, new Date(startsAtMs), new Date(startsAtMs + HOUR)],
  );
  await pollsInserted(db.pool, [id]);
}

async function absent(pollId: string, personId: string) {
  const vote = { ...makeVote({ pollId, optionId: "absent", voterId: personId }), streamSeq: 1 };
  await storeBatch(db.pool, "VOTES", [vote], []);
  await db.pool.query("discard temp");
}

/** A transaction that takes `lock` first, then runs `sql`, held open until commit(). */
async function heldTransaction(lock: string, sql?: string): Promise<WriterTransaction> {
  const client: PoolClient = await db.pool.connect();
  await client.query("begin");
  await client.query(`lock table ${lock}`);
  if (sql !== undefined) await client.query(sql);
  let open = true;
  const end = async (how: string) => {
    if (!open) return;
    open = false;
    try {
      await client.query(how);
    } finally {
      client.release();
    }
  };
  return { commit: () => end("commit"), rollback: () => end("rollback").catch(() => {}) };
}

before(async () => {
  bed = await openPublisherBed(names, "test-register-change-log", logger);
  ({ db, pool, redis } = bed);
  await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
  await db.pool.query(
    "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}'), ('ash', 'A3', '{7A}')",
  );
  for (let i = 0; i < 5; i++) await addRegister(`r${i}`, NOW - i * HOUR);
});

after(async () => {
  await bed?.close();
});

describe("the registers' change log", () => {
  const metrics = createPublisherMetrics();
  let publisher: RegisterPublisher;
  before(async () => {
    publisher = newPublisher(metrics);
    await publisher.run(NOW);
    assert.deepEqual(await logged(), [], "the first run consumed the registers' creation");
  });

  test("a long transaction elsewhere does not make each run read again what it read", async () => {
    // Held open from here on: its transaction id is every later snapshot's xmin.
    const held = await db.pool.connect();
    try {
      await held.query("begin");
      await held.query("select pg_current_xact_id()");
      for (const [i, person] of [
        [0, "A1"],
        [1, "A1"],
        [2, "A2"],
      ] as const) {
        await absent(`r${i}`, person);
        assert.deepEqual((await publisher.run(NOW)).published, [`r${i}`]);
      }
      const before = await rowsRead(metrics);
      const idle = await publisher.run(NOW);
      assert.deepEqual([idle.registers, idle.published], [0, []]);
      assert.equal(await rowsRead(metrics), before, "nothing read with nothing changed");
      await absent("r3", "A3");
      const run = await publisher.run(NOW);
      assert.deepEqual([run.registers, run.published], [1, ["r3"]]);
      // r3's log row, its poll found kept, its state row, its one person with an event and
      // its group's three members (not completed): none of the registers published before.
      assert.equal((await rowsRead(metrics)) - before, 7);
      assert.deepEqual((await document("r3"))?.lists.absent, ["A3"]);
    } finally {
      await held.query("rollback").catch(() => {});
      held.release();
    }
    assert.deepEqual(await logged(), [], "each run deleted what it published");
  });

  test("a change committed after a run read the log, before it deleted it, is published next", async () => {
    await absent("r4", "A1");
    // EXCLUSIVE lets the run read the log but makes its delete wait for this commit, which
    // edits r4's title as the API does (polls_updated logs it: r4's change_seq moves).
    const late = await heldTransaction(
      "register_change_log in exclusive mode",
      updatePollsSql("title = 'Renamed'", "p.id = 'r4'"),
    );
    await runAcrossCommit(
      db.pool,
      "register_change_log",
      late,
      () => publisher.run(NOW),
      "the run waits to delete the log rows it read",
    );
    assert.equal((await document("r4"))?.title, "r4", "the run published what its snapshot saw");
    assert.deepEqual(await logged(), ["r4"], "the late change's row stays");
    assert.deepEqual((await publisher.run(NOW)).published, ["r4"]);
    assert.equal((await document("r4"))?.title, "Renamed");
    assert.deepEqual(await logged(), []);
  });

  test("the rows of registers owed stay in the log: a new leader builds them", async () => {
    const budgeted = newPublisher(createPublisherMetrics(), { maxDocumentsPerRun: 1 });
    await budgeted.run(NOW);
    await absent("r0", "A2");
    await absent("r1", "A2");
    const run = await budgeted.run(NOW);
    assert.deepEqual([run.published, run.owed], [["r0"], 1]);
    assert.deepEqual(await logged(), ["r1"]);
    // A new leader, nothing in memory: the log tells it, no kept window read.
    const leader = newPublisher(createPublisherMetrics());
    const next = await leader.run(NOW);
    assert.deepEqual([next.rebuilt, next.published], [false, ["r1"]]);
    assert.deepEqual((await document("r1"))?.lists.absent, ["A1", "A2"]);
    assert.deepEqual(await logged(), []);
  });

  test("an old leader whose lock session ends while it waits to delete the log deletes nothing", async () => {
    const leadership = new Leadership(db.url, logger);
    try {
      assert.equal(await leadership.acquire(), true);
      const old = newPublisher(createPublisherMetrics(), {
        leaderPid: () => leadership.lockSessionPid,
      });
      await old.run(NOW);
      await absent("r2", "A3");
      // The run's delete waits behind this lock; meanwhile the lock's session ends, so a
      // new leader could hold the lock and not have read the log yet: nothing is deleted.
      const holder = await heldTransaction("register_change_log in exclusive mode");
      const lockSessionEnds: WriterTransaction = {
        async commit() {
          await db.pool.query(
            `select pg_terminate_backend(pid) from pg_stat_activity
             where application_name = $1 and datname = current_database()`,
            [LOCK_APPLICATION_NAME],
          );
          await eventually("the lock session ended", async () => {
            const { rows } = await db.pool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
               where application_name = $1 and datname = current_database()`,
              [LOCK_APPLICATION_NAME],
            );
            return rows[0]!.n === 0;
          });
          await holder.rollback();
        },
        rollback: () => holder.rollback(),
      };
      await runAcrossCommit(
        db.pool,
        "register_change_log",
        lockSessionEnds,
        () => old.run(NOW),
        "the run waits to delete the log rows it read",
      );
      assert.deepEqual(await logged(), ["r2"], "the row the old leader read is still there");
      // The new leader reads it.
      const leader = newPublisher(createPublisherMetrics());
      assert.ok((await leader.run(NOW)).registers >= 1);
      assert.deepEqual(await logged(), []);
    } finally {
      await leadership.release();
    }
  });
});

describe("the registers' log delete beside a batch logging the same registers", () => {
  test("they wait for each other, in log_register_changes' order, and never deadlock", async () => {
    // Logged b first, then a: the heap's order, which a join may take them in.
    await db.pool.query("select log_register_changes('{dl-b}')");
    await db.pool.query("select log_register_changes('{dl-a}')");
    const read = await loadRegisterChangeLog(db.pool);
    assert.deepEqual([...read.keys()], ["dl-b", "dl-a"]);
    // A batch logging a and b, open: it holds a's row.
    const writer = await db.pool.connect();
    let deleting: Promise<number> | undefined;
    try {
      await writer.query("begin");
      await writer.query("select log_register_changes('{dl-a}')");
      deleting = deleteRegisterChangeLog(db.pool, read);
      deleting.catch(() => {});
      await eventually("the delete waits for the batch", async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where wait_event_type = 'Lock' and query like '%delete from register_change_log%'`,
        );
        return rows[0]!.n > 0 ? true : undefined;
      });
      await writer.query("select log_register_changes('{dl-b}')");
      await writer.query("commit");
      assert.equal(await deleting, 0, "both rows moved on since they were read: they stay");
    } finally {
      await writer.query("rollback").catch(() => {});
      writer.release();
      await deleting?.catch(() => {});
    }
    const { rows } = await db.pool.query<{ poll_id: string; change_seq: string }>(
      "select poll_id, change_seq from register_change_log order by poll_id",
    );
    assert.deepEqual(
      rows.map((r) => [r.poll_id, Number(r.change_seq)]),
      [
        ["dl-a", 2],
        ["dl-b", 2],
      ],
    );
    await db.pool.query("delete from register_change_log");
  });
});

// Unlike the results' and attendance's runs (which compare every document's version in
// Redis with the one they remember, and republish), the register publisher's read no
// version back (the sentinel only, to stay idle-cheap): a document a deposed leader wrote
// late would stay over its successor's newer one until the register changed again. Its
// writes are fenced by the leader's epoch (register-writes.ts).
describe("a deposed leader's late write of a register document", () => {
  test("is not left over the newer document its successor published", async () => {
    // The old leader's writes to Redis wait at a gate: its run read its snapshot, built its
    // documents, and is held (a pause, a slow network) before its MULTI reaches Redis.
    let open: () => void = () => {};
    let reached: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const atGate = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const slow = new Proxy(redis, {
      get(target, key) {
        if (key === "eval")
          return async (...args: Parameters<RedisClient["eval"]>) => {
            reached();
            await gate;
            return target.eval(...args);
          };
        if (key === "multi")
          return () => {
            const tx = target.multi();
            const exec = tx.exec.bind(tx);
            return Object.assign(tx, {
              exec: async () => {
                reached();
                await gate;
                return exec();
              },
            });
          };
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const oldLeadership = new Leadership(db.url, logger);
    const newLeadership = new Leadership(db.url, logger);
    try {
      assert.equal(await oldLeadership.acquire(), true);
      const old = new RegisterPublisher({
        pool,
        redis: slow,
        keyPrefix: prefix,
        daysKept: 7,
        maxDocumentsPerRun: 100,
        completionGraceMs: 600_000,
        leaderPid: () => oldLeadership.lockSessionPid,
        logger,
        metrics: createPublisherMetrics(),
      });
      await absent("r3", "A1");
      const stale = old.run(NOW);
      stale.catch(() => {});
      await atGate;
      // Its lock session ends; a change commits; the new leader publishes it.
      await oldLeadership.release();
      await absent("r3", "A2");
      assert.equal(await newLeadership.acquire(), true);
      const leader = newPublisher(createPublisherMetrics(), {
        leaderPid: () => newLeadership.lockSessionPid,
      });
      await leader.run(NOW);
      assert.deepEqual((await document("r3"))?.lists.absent, ["A1", "A2", "A3"]);
      // The old leader's write lands now: refused, and its run consumes nothing.
      open();
      assert.equal((await stale).refused, 1);
      await leader.run(NOW);
      assert.deepEqual(
        (await document("r3"))?.lists.absent,
        ["A1", "A2", "A3"],
        "the successor's document, not the deposed leader's older one",
      );
    } finally {
      open();
      await oldLeadership.release();
      await newLeadership.release();
    }
  });
});

describe("a Redis emptied under a fenced leader", () => {
  test("the epoch went with the documents: the next run is refused unconsumed, the one after rebuilds them", async () => {
    const leadership = new Leadership(db.url, logger);
    try {
      assert.equal(await leadership.acquire(), true);
      const leader = newPublisher(createPublisherMetrics(), {
        leaderPid: () => leadership.lockSessionPid,
      });
      await absent("r3", "A1");
      await leader.run(NOW);
      assert.ok(await document("r3"), "published under the leader's epoch");
      for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
        if (keys.length > 0) await redis.del(keys);
      // Its epoch is gone: this run's writes are refused, and it consumes nothing (the
      // sentinel stays missing, so the rebuild is still owed).
      assert.ok((await leader.run(NOW)).refused > 0, "refused under the lost epoch");
      assert.equal(await document("r3"), null);
      await leader.run(NOW);
      assert.ok(await document("r3"), "rebuilt under a new epoch, without a restart");
    } finally {
      await leadership.release();
    }
  });
});
