import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import {
  REGISTER_SENTINEL,
  registerKeys,
  registerSentinelKey,
} from "../common/register-contract.ts";
import {
  insertPeopleSql,
  peopleChanged,
  pollsInserted,
} from "../ingest-api/registry/registry-changes.ts";
import type { TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { openPublisherBed, type PublisherBed } from "../test-support/publisher-bed.ts";
import { readRegisterDocument } from "../test-support/register-documents.ts";
import { makeVote } from "../test-support/vote-messages.ts";
import { createPublisherMetrics, type PublisherMetrics } from "./publisher-metrics.ts";
import { RegisterPublisher } from "./register-publisher.ts";

// The register publisher's runs bounded by what changed (issue 26): a run with nothing
// changed reads no register row, a change is published by the next run, a new leader
// resumes from the logs (the sentinel in Redis says it may), a Redis emptied gets its documents back, a new
// register is published and a deleted one removed without reading the kept window, the
// budget owes the rest nearest to now first, and an overdue register is counted without an
// event. Read as the tallyflow_publisher role (its grants, migration 050's log included).

const names = testNames();
const prefix = names.redisKeyPrefix;
const logger = createLogger("silent");
const NOW = Date.now();
const HOUR = 3_600_000;

let bed: PublisherBed;
let db: TestDatabase;
let pool: Pool;
let redis: RedisClient;

const newPublisher = (metrics: PublisherMetrics, maxDocumentsPerRun = 100, overdueRecountMs = 0) =>
  new RegisterPublisher({
    pool,
    redis,
    keyPrefix: prefix,
    daysKept: 7,
    maxDocumentsPerRun,
    completionGraceMs: 600_000,
    overdueRecountMs,
    logger,
    metrics,
  });

const rowsRead = async (m: PublisherMetrics) =>
  (await m.registerRowsRead.get()).values[0]?.value ?? 0;
const lost = async (m: PublisherMetrics) => (await m.registerLost.get()).values[0]?.value ?? 0;

const document = (pollId: string) => readRegisterDocument(redis, prefix, pollId);

/** As the API creates one: the row, then polls_inserted (its log row, migration 055). */
async function addRegister(id: string, startsAtMs: number, endsAtMs = startsAtMs + HOUR) {
  await db.pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ($1, $1, $1, 'ash', 'register', 'roster', '{7A}', $2, $3)`,
    [id, new Date(startsAtMs), new Date(endsAtMs)],
  );
  await pollsInserted(db.pool, [id]);
}

async function absent(pollId: string, personId: string) {
  const vote = { ...makeVote({ pollId, optionId: "absent", voterId: personId }), streamSeq: 1 };
  await storeBatch(db.pool, "VOTES", [vote], []);
  await db.pool.query("discard temp");
}

before(async () => {
  bed = await openPublisherBed(names, "test-register-publisher", logger);
  ({ db, pool, redis } = bed);
  await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
  await db.pool.query(
    "insert into people (school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}')",
  );
  // Yesterday's, today's (now), and one of three days ago.
  await addRegister("r-yesterday", NOW - 24 * HOUR);
  await addRegister("r-now", NOW - HOUR / 2);
  await addRegister("r-old", NOW - 72 * HOUR);
});

after(async () => {
  await bed?.close();
});

describe("the register publisher reads what changed", () => {
  const metrics = createPublisherMetrics();
  // Made once Redis is connected (the file's before).
  let publisher: RegisterPublisher;
  before(() => {
    publisher = newPublisher(metrics, 2);
  });

  test("a first leader reads the kept window: within the budget, nearest to now first", async () => {
    const first = await publisher.run(NOW);
    assert.equal(first.rebuilt, true);
    assert.deepEqual(first.published.sort(), ["r-now", "r-yesterday"]);
    assert.equal(first.owed, 1);
    // The rebuild's owed document is in this leader's memory only: a new one must rebuild.
    assert.equal(await redis.get(registerSentinelKey(prefix)), "");
    const second = await publisher.run(NOW);
    assert.equal(second.rebuilt, false);
    assert.deepEqual(second.published, ["r-old"]);
    assert.equal(second.owed, 0);
    assert.equal((await document("r-now"))?.lists.pending.length, 2);
    assert.equal(await redis.get(registerSentinelKey(prefix)), REGISTER_SENTINEL);
  });

  test("a run with nothing changed reads no register row and writes nothing", async () => {
    const before = await rowsRead(metrics);
    const run = await publisher.run(NOW);
    assert.deepEqual([run.registers, run.built, run.published], [0, 0, []]);
    assert.equal(await rowsRead(metrics), before);
  });

  test("a change is published by the next run, that register only", async () => {
    await absent("r-yesterday", "A2");
    const run = await publisher.run(NOW);
    assert.deepEqual(run.published, ["r-yesterday"]);
    assert.deepEqual((await document("r-yesterday"))?.lists.absent, ["A2"]);
  });

  test("a new leader resumes from the logs, the sentinel in Redis: no kept window read", async () => {
    const fresh = createPublisherMetrics();
    const leader = newPublisher(fresh);
    await absent("r-now", "A1");
    const run = await leader.run(NOW);
    assert.equal(run.rebuilt, false);
    assert.deepEqual(run.published, ["r-now"]);
    // Only the changed register (its state row, its rows), not the three kept.
    assert.ok((await rowsRead(fresh)) <= 6, String(await rowsRead(fresh)));
    const idle = await leader.run(NOW);
    assert.deepEqual(idle.published, []);
    // The old leader has nothing left: the new one consumed the log.
    assert.deepEqual((await publisher.run(NOW)).published, []);
  });

  test("a new register is published, a deleted one's document removed", async () => {
    await addRegister("r-new", NOW + HOUR);
    let run = await publisher.run(NOW);
    assert.deepEqual(run.published, ["r-new"]);
    assert.ok(await document("r-new"));
    await db.pool.query("select delete_polls(array['r-new'])");
    run = await publisher.run(NOW);
    assert.deepEqual(run.removed, ["r-new"]);
    assert.equal(await document("r-new"), null);
    assert.equal(await redis.get(registerKeys(prefix, "r-new").version), null);
  });

  test("a roster change republishes the school's registers not completed", async () => {
    await db.pool.query(insertPeopleSql("(school_id, id, groups) values ('ash', 'A3', '{7A}')"));
    await peopleChanged(db.pool, ["ash"]);
    const run = await publisher.run(NOW);
    // Within the budget of 2, the oldest owed to the next run.
    assert.deepEqual(run.published.sort(), ["r-now", "r-yesterday"]);
    assert.deepEqual((await publisher.run(NOW)).published, ["r-old"]);
    assert.deepEqual((await document("r-old"))?.lists.pending, ["A1", "A2", "A3"]);
  });

  test("a Redis emptied: the sentinel's loss is loud, the documents come back", async () => {
    for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
      if (keys.length > 0) await redis.del(keys);
    const before = await lost(metrics);
    const first = await publisher.run(NOW);
    assert.equal(first.rebuilt, true);
    assert.equal(await lost(metrics), before + 1);
    await publisher.run(NOW);
    for (const id of ["r-now", "r-yesterday", "r-old"]) assert.ok(await document(id), id);
  });

  test("an overdue register is counted when its end plus the grace passes, without an event", async () => {
    // r-now ends in half an hour: not overdue now, overdue 41 minutes later.
    assert.equal((await publisher.run(NOW)).overdue, 2);
    const later = await publisher.run(NOW + 41 * 60_000);
    assert.equal(later.overdue, 3);
    assert.deepEqual(later.published, []);
  });

  test("the overdue are recounted at most every REGISTER_OVERDUE_RECOUNT_MS (a scan of the window)", async () => {
    const hourly = newPublisher(createPublisherMetrics(), 100, HOUR);
    assert.equal((await hourly.run(NOW)).overdue, 2);
    // 41 minutes later r-now is overdue, but the count is not an hour old.
    assert.equal((await hourly.run(NOW + 41 * 60_000)).overdue, 2);
    assert.equal((await hourly.run(NOW + HOUR)).overdue, 3);
  });
});
