import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { eventually } from "../harness/waiting.ts";
import { advisoryLockHolders } from "../test-support/advisory-locks.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type TestNames, testNames } from "../test-support/names.ts";
import { publisherEnv } from "../test-support/service-env.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { Leadership, LOCK_APPLICATION_NAME } from "./leader.ts";

describe("publisher leadership when the lock session is lost", () => {
  let names: TestNames;
  let db: TestDatabase;
  let redis: RedisClient;
  const publishers: InProcessPublisher[] = [];
  const leaderships: Leadership[] = [];
  let proxy: TcpProxy | undefined;

  /** Sessions holding an advisory lock in this file's database: their pids and names. */
  const lockHolders = () => advisoryLockHolders(db.pool);
  const gauge = async (p: InProcessPublisher) => (await p.metrics.leader.get()).values[0]?.value;

  before(async () => {
    names = testNames();
    db = await createTestDatabase(names.database);
    redis = await connectRedis("redis://127.0.0.1:6379", createLogger("silent"), "test");
  });
  after(async () => {
    for (const p of publishers) await p.close();
    // The proxy first: ending a client whose connection is frozen would wait forever.
    await proxy?.down();
    for (const l of leaderships) await l.release();
    for await (const keys of redis.scanIterator({ MATCH: `${names.redisKeyPrefix}*` }))
      if (keys.length > 0) await redis.unlink(keys);
    await redis.close();
    await db.drop();
  });

  test("lock session terminated server-side: the leader stands by at its next tick, then one instance leads again", async () => {
    const env = publisherEnv(names, db.url);
    publishers.push(await startPublisherInProcess(env), await startPublisherInProcess(env));
    const [a, b] = publishers as [InProcessPublisher, InProcessPublisher];
    await Promise.all([a.firstRun, b.firstRun]);
    const leader = a.leadership.isLeader ? a : b;
    const standby = leader === a ? b : a;
    assert.equal(leader.leadership.isLeader, true);
    assert.equal(standby.leadership.isLeader, false);
    const [held] = await lockHolders();
    assert.equal(held?.application_name, LOCK_APPLICATION_NAME);

    // What Postgres does to a session whose peer stopped answering keepalives, or an
    // operator to a stuck one.
    await db.pool.query("select pg_terminate_backend($1)", [held!.pid]);

    assert.equal(await leader.tick(), undefined, "the old leader does not publish");
    assert.equal(leader.leadership.isLeader, false, "nor claim leadership");
    assert.equal(await gauge(leader), 0);

    // Both keep ticking, as their schedules would: exactly one takes the lock again.
    await eventually(
      "one instance holds the lock again",
      async () => {
        await standby.tick();
        await leader.tick();
        return (await lockHolders()).length === 1;
      },
      { timeoutMs: 10_000 },
    );
    const holders = await lockHolders();
    assert.equal(holders.length, 1, "one lock, one holder");
    assert.notEqual(holders[0]!.pid, held!.pid, "held by a new session");
    assert.equal(
      [a, b].filter((p) => p.leadership.isLeader).length,
      1,
      "exactly one instance claims leadership",
    );
    const newLeader = a.leadership.isLeader ? a : b;
    assert.equal(await gauge(newLeader), 1);
    assert.ok(await newLeader.tick(), "the new leader publishes");

    for (const p of publishers.splice(0)) await p.close();
  });

  test("lock connection goes silent: the leader's check times out and it stops claiming leadership", async () => {
    const logger = createLogger("silent");
    const target = new URL(db.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    const viaProxy = new URL(db.url);
    viaProxy.host = `127.0.0.1:${proxy.port}`;
    const leader = new Leadership(viaProxy.toString(), logger);
    const standby = new Leadership(db.url, logger);
    leaderships.push(leader, standby);

    await eventually(
      "the publishers' lock is gone",
      async () => (await lockHolders()).length === 0,
    );
    assert.equal(await leader.acquire(), true);
    assert.equal(await standby.acquire(), false);

    proxy.freeze();
    // Postgres still sees a healthy session here (the proxy answers its keepalives), so
    // the lock stays taken; what must not happen is the cut-off leader going on publishing.
    assert.equal(await leader.acquire(), false, "the check fails instead of trusting the lock");
    assert.equal(leader.isLeader, false);
    assert.equal(await standby.acquire(), false, "the server has not dropped the session yet");

    // The server drops the session (as its keepalives would with a real dead peer).
    await proxy.down();
    proxy = undefined;
    await eventually("the standby takes the lock", () => standby.acquire(), { timeoutMs: 10_000 });
    assert.equal(await leader.acquire(), false, "the old leader cannot reconnect, nor lead");
    assert.equal(standby.isLeader, true);
    assert.equal((await lockHolders()).length, 1);
  });
});
