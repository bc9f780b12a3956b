import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import type { Pool } from "../common/postgres.ts";
import { testNames } from "../test-support/names.ts";
import { type DatabaseBefore, databaseBefore } from "../test-support/schema-before.ts";
import { insertPoll } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";

// Migration 053: poll_change_log holds a row per poll (was a row per poll per batch, 048).
// A deployment upgraded with a backlog (its publisher away) keeps, per poll, the highest
// change_seq logged: what the publisher reads of it is what it read of the rows before.

describe("a deployment from before 053: the change log becomes a row per poll", () => {
  let old: DatabaseBefore;
  let pool: Pool;

  const log = async () =>
    (
      await pool.query<{ poll_id: string; change_seq: number }>(
        "select poll_id, change_seq from poll_change_log order by poll_id",
      )
    ).rows;

  before(async () => {
    old = await databaseBefore(53, testNames().database);
    pool = old.pool;
  });
  after(async () => {
    await old?.close();
  });

  test("the backlog keeps each poll's highest change_seq, and the writer then sets that row", async () => {
    await insertPoll(pool, "lunch", ["yes", "no"]);
    await insertPoll(pool, "color", ["red"]);
    // As the 048 writer left them: a row per poll per batch, nobody publishing.
    await pool.query(
      `insert into poll_change_log (poll_id, change_seq)
       select 'lunch', s from generate_series(1, 5) s
       union all select 'color', s from generate_series(1, 2) s`,
    );
    await pool.query(
      `insert into poll_changes (poll_id, change_seq, last_stream_seq, changed_at)
       values ('lunch', 5, 5, now()), ('color', 2, 2, now())`,
    );
    await old.upgrade();
    assert.deepEqual(await log(), [
      { poll_id: "color", change_seq: 2 },
      { poll_id: "lunch", change_seq: 5 },
    ]);

    // Two more batches of lunch: still its one row, at the last batch's change_seq.
    for (const seq of [10, 11])
      await storeBatch(
        pool,
        "T",
        [{ ...makeVote({ pollId: "lunch", optionId: "yes" }), streamSeq: seq }],
        [],
      );
    assert.deepEqual(await log(), [
      { poll_id: "color", change_seq: 2 },
      { poll_id: "lunch", change_seq: 7 },
    ]);
  });
});
