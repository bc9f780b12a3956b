import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import {
  REGISTER_SENTINEL,
  registerKeys,
  registerSentinelKey,
} from "../common/register-contract.ts";
import { updatePeopleSql } from "../ingest-api/registry/registry-changes.ts";
import { createPublisherMetrics } from "../result-publisher/publisher-metrics.ts";
import { RegisterPublisher } from "../result-publisher/register-publisher.ts";
import { testNames } from "../test-support/names.ts";
import { readRegisterDocument } from "../test-support/register-documents.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 056 upgrades a deployment whose register publisher read the rosters changed
// since its last run's snapshot (attendance_school_changes' tx_id, 050–055) without losing
// a roster change it had not published when the services stopped for the upgrade: the
// table goes, and the publisher, finding that old snapshot in Redis where its sentinel now
// is, rebuilds the kept window once.

const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const HOUR = 3_600_000;
const NOW = Date.now();
let pool: Pool;
let redis: RedisClient;
let old: DatabaseBefore;

const document = (pollId: string) => readRegisterDocument(redis, prefix, pollId);

before(async () => {
  old = await databaseBefore(56, names.database);
  pool = old.pool;
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
});

after(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.del(keys);
  await redis?.quit();
  await old?.close();
});

describe("migration 056: the registers' rosters' log replaces attendance_school_changes' tx_id", () => {
  test("a roster change the last run before the upgrade had not seen is published after it", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    await pool.query(
      "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}')",
    );
    await pool.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ('open', 'open', 'Open', 'ash', 'register', 'roster', '{7A}', $1, $2)`,
      [new Date(NOW - HOUR), new Date(NOW)],
    );
    // The old publisher's last run: it consumed the log (050), wrote its document (with an
    // old version: the current code does not run against the 055 schema) and its cursor,
    // that run's snapshot.
    await pool.query("delete from register_change_log");
    await redis.set(
      registerKeys(prefix, "open").json,
      JSON.stringify({ version: "old", pollId: "open", lists: { pending: ["A1", "A2"] } }),
    );
    const { rows } = await pool.query<{ s: string }>("select pg_current_snapshot()::text as s");
    await redis.set(registerSentinelKey(prefix), rows[0]!.s);

    // After it, as the 055 API wrote it: a pupil joins 7A (023's trigger moves the school's
    // tx_id in attendance_school_changes, which that publisher would have read next).
    await pool.query("insert into people (school_id, id, groups) values ('ash', 'A3', '{7A}')");
    const { rows: marked } = await pool.query(
      "select 1 from attendance_school_changes where school_id = 'ash'",
    );
    assert.equal(marked.length, 1);

    await old.upgrade();
    const { rows: tables } = await pool.query<{ t: string | null }>(
      "select to_regclass('attendance_school_changes')::text as t",
    );
    assert.equal(tables[0]!.t, null, "the table and its xid8 are gone");

    const publisher = new RegisterPublisher({
      pool,
      redis,
      keyPrefix: prefix,
      daysKept: 7,
      maxDocumentsPerRun: 100,
      completionGraceMs: 600_000,
      logger,
      metrics: createPublisherMetrics(),
    });
    const run = await publisher.run(NOW);
    assert.equal(run.rebuilt, true, "the old snapshot says nothing of the rosters' new log");
    assert.deepEqual((await document("open"))?.lists.pending, ["A1", "A2", "A3"]);
    assert.equal(await redis.get(registerSentinelKey(prefix)), REGISTER_SENTINEL);

    // And from then on, a roster change through the rosters' log only.
    const idle = await publisher.run(NOW);
    assert.deepEqual([idle.rebuilt, idle.registers], [false, 0]);
    // As the API writes people since migration 059 (upgraded to the latest).
    await pool.query(updatePeopleSql("active = false", "p.school_id = 'ash' and p.id = 'A1'"));
    const next = await publisher.run(NOW);
    assert.deepEqual([next.rebuilt, next.rosters, next.published], [false, 1, ["open"]]);
    assert.deepEqual((await document("open"))?.lists.pending, ["A2", "A3"]);
  });
});
