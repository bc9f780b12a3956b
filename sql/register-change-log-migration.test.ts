import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { registerKeys } from "../common/register-contract.ts";
import { updatePollsSql } from "../ingest-api/registry/registry-changes.ts";
import { createPublisherMetrics } from "../result-publisher/publisher-metrics.ts";
import { RegisterPublisher } from "../result-publisher/register-publisher.ts";
import { testNames } from "../test-support/names.ts";
import { readRegisterDocument } from "../test-support/register-documents.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";

// Migration 050 upgrades a deployment whose register publisher tracked changes by
// transaction id (042–049) without losing a change it had not published: a register's state
// written after its last run's snapshot, a register's poll edited, and one deleted (its
// document removed), all pending when the services stopped for the upgrade.

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
  old = await databaseBefore(50, names.database);
  pool = old.pool;
  redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
});

after(async () => {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.del(keys);
  await redis?.quit();
  await old?.close();
});

describe("migration 050: the registers' change log replaces their transaction ids", () => {
  test("the changes the last run before the upgrade had not seen are published after it", async () => {
    await pool.query("insert into schools (id, name) values ('ash', 'Ash')");
    await pool.query(
      "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}')",
    );
    for (const id of ["state", "edited", "deleted", "quiet"])
      await pool.query(
        `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
         values ($1, $1, $1, 'ash', 'register', 'roster', '{7A}', $2, $3)`,
        [id, new Date(NOW - HOUR), new Date(NOW)],
      );
    await pool.query(
      `insert into register_states (poll_id, school_id, group_id, starts_at, ends_at, pending)
       select id, school_id, group_ids[1], starts_at, ends_at, 2 from polls`,
    );
    // "state" was created before 042 was applied (so not in its log: the log alone would
    // not tell its change after the cursor).
    await pool.query("delete from register_poll_changes where poll_id = 'state'");
    // The old publisher's last run: its documents in Redis (written here, with an old
    // version: the current code cannot run against the 049 schema), and its cursor (that
    // run's snapshot) under the old key.
    for (const id of ["state", "edited", "deleted", "quiet"])
      await redis.set(
        registerKeys(prefix, id).json,
        JSON.stringify({ version: "old", pollId: id, title: id }),
      );
    const { rows } = await pool.query<{ s: string }>("select pg_current_snapshot()::text as s");
    await redis.set(`${prefix}register-cursor`, rows[0]!.s);

    // After it, as the 049 writer and API wrote them: A2 absent in "state" (its tx_id moved),
    // "edited" renamed and "deleted" deleted (042's triggers log both).
    await pool.query(
      `insert into register_people (poll_id, person_id, status, last_event_at)
       values ('state', 'A2', 'absent', now())`,
    );
    await pool.query(
      `update register_states set absent = 1, pending = 1, tx_id = pg_current_xact_id()
       where poll_id = 'state'`,
    );
    await pool.query("update polls set title = 'Renamed' where id = 'edited'");
    await pool.query("delete from polls where id = 'deleted'");

    await old.upgrade();
    const { rows: logged } = await pool.query<{ poll_id: string }>(
      "select poll_id from register_change_log order by poll_id",
    );
    // 042's rows, each poll once ("edited" and "deleted" were logged at creation too).
    assert.deepEqual(
      logged.map((r) => r.poll_id),
      ["deleted", "edited", "quiet"],
    );

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
    assert.equal(
      run.rebuilt,
      true,
      "the old cursor says nothing of the log: the window is rebuilt",
    );
    assert.deepEqual(run.removed, ["deleted"]);
    assert.equal(await document("deleted"), null);
    assert.deepEqual((await document("state"))?.lists.absent, ["A2"]);
    assert.equal((await document("edited"))?.title, "Renamed");
    assert.notEqual((await document("quiet"))?.version, "old");
    const { rows: left } = await pool.query("select 1 from register_change_log");
    assert.equal(left.length, 0, "the log consumed");

    // And from then on, a change through the new writer's log only.
    const idle = await publisher.run(NOW);
    assert.deepEqual([idle.rebuilt, idle.registers], [false, 0]);
    await pool.query(updatePollsSql("title = 'Quieter'", "p.id = 'quiet'"));
    assert.deepEqual((await publisher.run(NOW)).published, ["quiet"]);
  });
});
