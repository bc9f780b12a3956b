import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { RedisClient } from "../common/redis.ts";
import { eventually } from "../harness/waiting.ts";
import {
  openWriterTransaction,
  runAcrossCommit,
  type WriterTransaction,
} from "../harness/writer-rollups.ts";
import { createPoll } from "../test-support/api.ts";
import { assertMatchesSql } from "../test-support/results-checks.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "./config.ts";
import { LOCK_APPLICATION_NAME } from "./leader.ts";
import { ResultsPublisher } from "./publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

// The vote results' change tracking without transaction ids (migration 048): what a run
// reads is decided by the per-poll change_seq and the change log (a row per poll since
// 053), never by a snapshot's xmin, and the log is deleted only once what was read of it
// is published.

const OPTIONS = ["yes", "no"];

/** A Redis client whose MULTIs fail: a run that reads everything and cannot publish. */
function failingWrites(redis: RedisClient): RedisClient {
  return new Proxy(redis, {
    get(target, key) {
      if (key === "multi")
        return () => {
          throw new Error("Redis is down (test)");
        };
      const value = Reflect.get(target, key, target) as unknown;
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("the change log", () => {
  let p: ResultsPipeline;
  let stored = 0;
  // One cast time for every vote here: each option's votes fold into one bucket.
  const castAt = new Date(Date.now() - 60_000).toISOString();
  const votes = async (list: [pollId: string, optionId: string][]) => {
    await p.voteBatch(list.map(([pollId, optionId]) => ({ pollId, optionId, castAt })));
    stored += list.length;
    await p.stored(stored);
  };
  const rowsRead = async () =>
    (await p.publisher.metrics.rollupRowsRead.get()).values[0]?.value ?? 0;
  const logged = async (pollId: string) =>
    (
      await p.h.db.pool.query<{ n: number }>(
        "select count(*)::int as n from poll_change_log where poll_id = $1",
        [pollId],
      )
    ).rows[0]!.n;

  before(async () => {
    p = await startResultsPipeline();
  });
  after(async () => {
    await p?.close();
  });

  test("a long transaction elsewhere does not make a run read again what it read", async () => {
    await createPoll(p.h.app, { id: "long" });
    await votes([["long", "yes"]]);
    await p.publisher.run();
    // Held open from here on: its transaction id is every later snapshot's xmin.
    const held = await p.h.db.pool.connect();
    try {
      await held.query("begin");
      await held.query("select txid_current()");
      await votes([["long", "no"]]);
      assert.deepEqual((await p.publisher.run()).published, ["long"]);
      const before = await rowsRead();
      await votes([["long", "yes"]]);
      assert.deepEqual((await p.publisher.run()).published, ["long"]);
      assert.equal(
        (await rowsRead()) - before,
        1,
        "only the bucket the new batch wrote, not the one published by the run before",
      );
      const long = await p.visible("long");
      assert.deepEqual(
        long.options.map((o) => o.count),
        [2, 1],
      );
      await assertMatchesSql(p.h, long, OPTIONS);
    } finally {
      await held.query("rollback").catch(() => {});
      held.release();
    }
    assert.equal(await logged("long"), 0, "the run deleted what it published");
  });

  test("batches while no run reads the log leave a row per poll, and the next run takes them all", async () => {
    await createPoll(p.h.app, { id: "away-a" });
    await createPoll(p.h.app, { id: "away-b" });
    await p.publisher.run();
    // The publisher away for five batches of each poll (migration 053: the row is the poll's).
    for (let i = 0; i < 5; i++)
      await votes([
        ["away-a", "yes"],
        ["away-b", "no"],
      ]);
    assert.deepEqual([await logged("away-a"), await logged("away-b")], [1, 1]);
    assert.deepEqual((await p.publisher.run()).published.sort(), ["away-a", "away-b"]);
    for (const [id, counts] of [
      ["away-a", [5, 0]],
      ["away-b", [0, 5]],
    ] as const) {
      const results = await p.visible(id);
      assert.deepEqual(
        results.options.map((o) => o.count),
        counts,
      );
      await assertMatchesSql(p.h, results, OPTIONS);
    }
    assert.deepEqual([await logged("away-a"), await logged("away-b")], [0, 0]);
  });

  test("a batch committed after a run read the log, before it deleted it, is published next", async () => {
    await createPoll(p.h.app, { id: "between" });
    await votes([["between", "yes"]]);
    // EXCLUSIVE lets the run read the log but makes its delete wait for this commit.
    const late = await openWriterTransaction(p.h.db.pool, "between", "no", 2, {
      lock: "poll_change_log in exclusive mode",
    });
    await runAcrossCommit(
      p.h.db.pool,
      "poll_change_log",
      late,
      () => p.publisher.run(),
      "the run waits to delete the log rows it read",
    );
    assert.deepEqual(
      (await p.visible("between")).options.map((o) => o.count),
      [1, 0],
      "the run published what its snapshot saw",
    );
    assert.equal(await logged("between"), 1, "the late batch's log row stays");
    stored += 2;

    const next = await p.publisher.run();
    assert.deepEqual(next.published, ["between"]);
    const between = await p.visible("between");
    assert.deepEqual(
      between.options.map((o) => o.count),
      [1, 2],
    );
    await assertMatchesSql(p.h, between, OPTIONS);
    assert.equal(await logged("between"), 0);
  });

  test("a run that fails after reading deletes nothing; a new leader publishes what it read", async () => {
    await createPoll(p.h.app, { id: "handover" });
    await p.publisher.run();
    await votes([
      ["handover", "yes"],
      ["handover", "no"],
    ]);
    // The old leader: it reads the log and the rollups, then cannot publish.
    const old = new ResultsPublisher({
      pool: p.h.db.pool,
      redis: failingWrites(p.h.redis),
      keyPrefix: p.h.names.redisKeyPrefix,
      chartWidth: 800,
      chartHeight: 600,
      distributionWindowHours: DEFAULT_DISTRIBUTION_WINDOW_HOURS,
      chartRender: "all",
      chartDemandTtlMs: 60_000,
      logger: createLogger("silent"),
      metrics: createPublisherMetrics(),
    });
    await assert.rejects(old.run(), /Redis is down/);
    assert.ok((await logged("handover")) > 0, "the failed run left the log as it was");

    const leader = await p.restartPublisher();
    assert.ok((await leader.firstRun)?.published.includes("handover"));
    const handover = await p.visible("handover");
    assert.deepEqual(
      handover.options.map((o) => o.count),
      [1, 1],
    );
    await assertMatchesSql(p.h, handover, OPTIONS);
    assert.equal(await logged("handover"), 0, "the new leader consumed the log");

    // And it goes on from there with delta reads.
    await votes([["handover", "no"]]);
    assert.deepEqual((await leader.run()).published, ["handover"]);
    assert.deepEqual(
      (await p.visible("handover")).options.map((o) => o.count),
      [1, 2],
    );
  });
  test("a leader whose lock session ends while it waits to delete the log deletes nothing", async () => {
    await createPoll(p.h.app, { id: "fenced" });
    await p.publisher.run();
    await votes([["fenced", "yes"]]);
    // The run's delete waits behind this lock; meanwhile the lock's session ends, so a new
    // leader could hold the lock and not have read the log yet: the delete must not happen.
    const holder = await openWriterTransaction(p.h.db.pool, "fenced", "no", 1, {
      lock: "poll_change_log in exclusive mode",
    });
    const lockSessionEnds: WriterTransaction = {
      async commit() {
        await p.h.db.pool.query(
          `select pg_terminate_backend(pid) from pg_stat_activity
           where application_name = $1 and datname = current_database()`,
          [LOCK_APPLICATION_NAME],
        );
        // Ended, and its lock free (a backend ends a moment after it is told to).
        await eventually("the lock session ended", async () => {
          const { rows } = await p.h.db.pool.query<{ n: number }>(
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
      p.h.db.pool,
      "poll_change_log",
      lockSessionEnds,
      () => p.publisher.run(),
      "the run waits to delete the log rows it read",
    );
    assert.equal(await logged("fenced"), 1, "the log row the stale leader read is still there");
  });
});
