import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../common/logger.ts";
import { connectRedis, type RedisClient } from "../../common/redis.ts";
import { AttendancePublisher } from "../../result-publisher/attendance-publisher.ts";
import { createPublisherMetrics } from "../../result-publisher/publisher-metrics.ts";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import {
  parseSnapshot,
  snapshotCovers,
  snapshotNow,
  waitForAttendancePublisher,
} from "./attendance-caught-up.ts";

// What bench:attendance and `npm run verify` wait for before comparing the published day
// documents with the events: the publisher's cursor covering the moment the writer drained.
// Without it a loaded run's check read school-0001's document (the first checked) before the
// publisher's run that saw the writer's last batch had written it, and reported it stale.

describe("snapshotCovers", () => {
  test("parses pg_snapshot text", () => {
    assert.deepEqual(parseSnapshot("10:20:12,15"), { xmin: 10n, xmax: 20n, xip: [12n, 15n] });
    assert.deepEqual(parseSnapshot("7:7:"), { xmin: 7n, xmax: 7n, xip: [] });
    assert.throws(() => parseSnapshot("nope"));
  });

  test("a later snapshot that saw the same or more covers", () => {
    assert.equal(snapshotCovers("20:20:", "10:20:12,15"), true);
    assert.equal(snapshotCovers("10:20:12,15", "10:20:12,15"), true);
    // 12 still in progress for both: neither saw it.
    assert.equal(snapshotCovers("12:30:12", "10:20:12,15"), true);
  });

  test("one that did not see a transaction done for the earlier does not", () => {
    // 18 done for the earlier (below its xmax, not in progress), not begun for the later.
    assert.equal(snapshotCovers("10:18:12,15", "10:20:12,15"), false);
    // 19 done for the earlier, in progress for the later.
    assert.equal(snapshotCovers("10:25:12,15,19", "10:20:12,15"), false);
    // 5: below the earlier's xmin (done), in progress for the later.
    assert.equal(snapshotCovers("5:25:5", "10:20:12,15"), false);
  });

  test("what the later did not see begin was in progress for the earlier: covered", () => {
    assert.equal(snapshotCovers("10:18:12,15", "10:20:12,15,18,19"), true);
  });
});

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

  /** A committed transaction with an id (as a writer's batch). */
  const commitOne = () =>
    db.pool.query("insert into attendance_day_changes (school_id, day) values ('x', '2026-01-05')");

  test("no cursor yet: not caught up", async () => {
    assert.equal(
      await waitForAttendancePublisher(redis, prefix, await snapshotNow(db.pool), 0),
      undefined,
    );
  });

  test("caught up once a run began after the last commit, not before", async () => {
    await publisher.run();
    await commitOne();
    const drained = await snapshotNow(db.pool);
    assert.equal(await waitForAttendancePublisher(redis, prefix, drained, 300, 50), undefined);
    await publisher.run();
    assert.notEqual(await waitForAttendancePublisher(redis, prefix, drained, 300, 50), undefined);
  });

  test("a transaction still open at the drain does not hold the wait", async () => {
    const open = await db.pool.connect();
    try {
      await open.query("begin");
      await open.query("select pg_current_xact_id()");
      await commitOne();
      const drained = await snapshotNow(db.pool);
      assert.ok(parseSnapshot(drained).xip.length > 0, "the open transaction is in progress");
      await publisher.run();
      assert.notEqual(await waitForAttendancePublisher(redis, prefix, drained, 300, 50), undefined);
    } finally {
      await open.query("rollback");
      open.release();
    }
  });
});
