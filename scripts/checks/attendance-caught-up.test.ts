import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../common/logger.ts";
import { connectRedis, type RedisClient } from "../../common/redis.ts";
import { AttendancePublisher } from "../../result-publisher/attendance-publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { pendingChangesNow, waitForAttendancePublisher } from "./attendance-caught-up.ts";

// What bench:attendance and `npm run verify` wait for before comparing the published day
// documents with the events: the change log of the moment the writer drained consumed by the
// publisher (migration 051). Without it a loaded run's check read school-0001's document
// (the first checked) before the publisher's run that saw the writer's last batch had
// written it, and reported it stale.

describe("waitForAttendancePublisher", () => {
  const names = testNames();
  const prefix = names.redisKeyPrefix;
  const logger = createLogger("silent");
  let db: TestDatabase;
  let redis: RedisClient;
  let publisher: AttendancePublisher;

  before(async () => {
    db = await createTestDatabase(names.database);
    redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
    publisher = new AttendancePublisher({
      pool: db.pool,
      redis,
      keyPrefix: prefix,
      daysKept: 7,
      maxDocumentsPerRun: 100,
      logger,
      metrics: createPublisherMetrics(),
    });
  });
  after(async () => {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.unlink(keys);
    await redis?.close();
    await db?.drop();
  });

  /** A committed school-day change (as a writer's batch logs it). */
  const commitOne = () =>
    db.pool.query("insert into attendance_day_changes (school_id, day) values ('x', '2026-01-05')");
  const wait = (pending: Awaited<ReturnType<typeof pendingChangesNow>>, timeoutMs: number) =>
    waitForAttendancePublisher(db.pool, redis, prefix, pending, timeoutMs, 50);

  test("no marker yet: not caught up", async () => {
    assert.equal(await wait(await pendingChangesNow(db.pool), 0), undefined);
  });

  test("caught up once a run began after the last commit, not before", async () => {
    await publisher.run();
    await commitOne();
    const drained = await pendingChangesNow(db.pool);
    assert.equal(await wait(drained, 300), undefined);
    await publisher.run();
    assert.notEqual(await wait(drained, 300), undefined);
  });

  test("a transaction still open at the drain does not hold the wait", async () => {
    const open = await db.pool.connect();
    try {
      await open.query("begin");
      await open.query("select pg_current_xact_id()");
      await commitOne();
      const drained = await pendingChangesNow(db.pool);
      assert.equal(await wait(drained, 0), undefined, "the change is pending");
      await publisher.run();
      assert.notEqual(await wait(drained, 300), undefined);
    } finally {
      await open.query("rollback");
      open.release();
    }
  });
});
