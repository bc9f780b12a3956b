import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { v7 as uuidv7 } from "uuid";
import { createLogger } from "../common/logger.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import {
  countVotes,
  insertPoll,
  queryNumber,
  votesPartitionNames,
} from "../test-support/stored-votes.ts";
import { makeVote, type VoteSpec } from "../test-support/vote-messages.ts";
import type { DecodedVote } from "./decode.ts";
import { storeBatch } from "./store-batch.ts";
import { VotesPartitions } from "./votes-partitions.ts";
import { eventIdTimeMs } from "./votes-retention.ts";

// VOTES_RETENTION_DAYS (migration 035): partitions of months past retention are dropped
// (never the legacy or default one), their rollups stay, and a vote whose event id time is
// past the horizon is refused (past_retention) instead of being stored and counted again.

const DAY_MS = 86_400_000;
const idAt = (at: string) => uuidv7({ msecs: Date.parse(at) });
/** Retention days that put the writer's horizon on `at` (to within a day after it). */
const daysSince = (at: string) => Math.floor((Date.now() - Date.parse(at)) / DAY_MS);

describe("votes retention (migration 035)", () => {
  let db: TestDatabase;
  let seq = 1;
  const decoded = (spec: VoteSpec): DecodedVote => ({ ...makeVote(spec), streamSeq: seq++ });
  const partitions = () => votesPartitionNames(db.pool);
  const rolledUp = () => queryNumber(db.pool, "select coalesce(sum(count), 0) from vote_rollups");
  const jan = decoded({
    eventId: idAt("2020-01-20T10:00:00Z"),
    pollId: "lunch",
    optionId: "pizza",
  });
  const feb = decoded({
    eventId: idAt("2020-02-20T10:00:00Z"),
    pollId: "lunch",
    optionId: "salad",
  });
  const mar = decoded({
    eventId: idAt("2020-03-20T10:00:00Z"),
    pollId: "lunch",
    optionId: "pizza",
  });
  const apr = decoded({
    eventId: idAt("2020-04-05T10:00:00Z"),
    pollId: "lunch",
    optionId: "pizza",
  });
  const legacy = decoded({ eventId: randomUUID(), pollId: "lunch", optionId: "salad" });

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await insertPoll(db.pool, "lunch", ["pizza", "salad"]);
    // Partitions for 2020-01 to 2020-04, and votes in each, stored before retention was set.
    await db.pool.query(
      "select votes_ensure_partitions(interval '3 months', timestamptz '2020-01-15 00:00:00+00')",
    );
    assert.equal(
      (await storeBatch(db.pool, "VOTES", [jan, feb, mar, apr, legacy], [])).inserted,
      5,
    );
  });
  after(() => db?.drop());

  test("the event id time read in JavaScript is Postgres's event_id_time", async () => {
    const { rows } = await db.pool.query<{ at: Date }>("select event_id_time($1) as at", [
      jan.eventId,
    ]);
    assert.equal(eventIdTimeMs(jan.eventId), rows[0]!.at.getTime());
    assert.equal(eventIdTimeMs(legacy.eventId), undefined);
  });

  test("months ended before the horizon are dropped, later ones kept, legacy and default never", async () => {
    const before = await rolledUp();
    const { rows } = await db.pool.query<{ partition_name: string }>(
      "select * from votes_drop_expired_partitions(interval '30 days', timestamptz '2020-04-10 00:00:00+00')",
    );
    // Horizon 2020-03-11, less the day of grace: January and February ended before it.
    assert.deepEqual(
      rows.map((r) => r.partition_name),
      ["votes_p2020_01", "votes_p2020_02"],
    );
    const left = await partitions();
    assert.ok(!left.includes("votes_p2020_01") && !left.includes("votes_p2020_02"));
    for (const p of ["votes_p2020_03", "votes_p2020_04", "votes_legacy", "votes_default"])
      assert.ok(left.includes(p), p);
    assert.equal(await countVotes(db.pool), 3);
    // Raw rows go; the rollups (the published totals) keep counting them.
    assert.equal(await rolledUp(), before);

    // Even a horizon past every month drops no legacy or default partition (rolled back).
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      const all = await client.query<{ partition_name: string }>(
        "select * from votes_drop_expired_partitions(interval '1 day', timestamptz '2300-01-01 00:00:00+00')",
      );
      const dropped = all.rows.map((r) => r.partition_name);
      assert.ok(dropped.includes("votes_p2020_03"));
      assert.ok(!dropped.includes("votes_legacy") && !dropped.includes("votes_default"));
      assert.deepEqual(await votesPartitionNames(client), ["votes_default", "votes_legacy"]);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });

  test("a resend of a dropped month is refused (past_retention) on both paths, not counted", async () => {
    const keepDays = daysSince("2020-04-10T00:00:00Z") + 30;
    const votesBefore = await countVotes(db.pool);
    const rollupsBefore = await rolledUp();
    const fresh = decoded({ pollId: "lunch", optionId: "pizza" });
    const resendJan = { ...jan, streamSeq: seq++ };
    // Direct path (distinct ids, no voters).
    const direct = await storeBatch(db.pool, "VOTES", [resendJan, fresh], [], 0, [], keepDays);
    assert.equal(direct.inserted, 1);
    assert.equal(direct.pastRetention, 1);
    assert.equal(direct.received, 2);
    // Staging path (an id repeated in the batch), with a legacy id stored as today.
    const fresh2 = decoded({ pollId: "lunch", optionId: "salad" });
    const legacy2 = decoded({ eventId: randomUUID(), pollId: "lunch", optionId: "salad" });
    const resendFeb = { ...feb, streamSeq: seq++ };
    const staged = await storeBatch(
      db.pool,
      "VOTES",
      [resendFeb, fresh2, { ...fresh2, streamSeq: seq++ }, legacy2],
      [],
      0,
      [],
      keepDays,
    );
    assert.equal(staged.pastRetention, 1);
    assert.equal(staged.inserted, 2);
    assert.equal(staged.duplicates, 1);
    assert.equal(await countVotes(db.pool), votesBefore + 3);
    assert.equal(await rolledUp(), rollupsBefore + 3);
    const { rows } = await db.pool.query<{ event_id: string; reason: string }>(
      "select event_id::text, reason from rejected_votes where event_id = any($1) order by cast_at",
      [[jan.eventId, feb.eventId]],
    );
    assert.deepEqual(rows, [
      { event_id: jan.eventId, reason: "past_retention" },
      { event_id: feb.eventId, reason: "past_retention" },
    ]);
    // Nothing came back in the default partition to be moved into a new 2020 partition.
    assert.equal(await queryNumber(db.pool, "select count(*) from votes_default"), 0);
  });

  test("a partition held by an open transaction is left for the next pass, without a long wait", async () => {
    const maintenance = new VotesPartitions({
      pool: db.pool,
      config: {
        votesPartitionsAheadMonths: 3,
        votesPartitionCheckMs: 60_000,
        votesRetentionDays: daysSince("2020-06-10T00:00:00Z"),
      },
      logger: createLogger("silent"),
    });
    const holder = await db.pool.connect();
    try {
      await holder.query("begin");
      await holder.query("select count(*) from votes_p2020_03");
      const started = performance.now();
      assert.deepEqual(await maintenance.dropExpired(), []);
      const waitedMs = performance.now() - started;
      assert.ok(waitedMs < 3_000, `waited ${waitedMs} ms`);
      const left = await partitions();
      assert.ok(left.includes("votes_p2020_03") && left.includes("votes_p2020_04"));
    } finally {
      await holder.query("commit");
      holder.release();
    }
    // Released: the next pass drops both.
    assert.deepEqual(await maintenance.dropExpired(), ["votes_p2020_03", "votes_p2020_04"]);
  });
});
