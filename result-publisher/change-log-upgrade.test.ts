import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { migrate, migrationsDir } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { insertPoll } from "../test-support/stored-votes.ts";
import { makeVote } from "../test-support/vote-messages.ts";

// Migration 053: poll_change_log holds a row per poll (was a row per poll per batch, 048).
// A deployment upgraded with a backlog (its publisher away) keeps, per poll, the highest
// change_seq logged: what the publisher reads of it is what it read of the rows before.

describe("a deployment from before 053: the change log becomes a row per poll", () => {
  const logger = createLogger("silent");
  const names = testNames();
  const url = `${PG_BASE_URL}/${names.database}`;
  let pool: Pool;
  let oldDir: string;

  const log = async () =>
    (
      await pool.query<{ poll_id: string; change_seq: number }>(
        "select poll_id, change_seq from poll_change_log order by poll_id",
      )
    ).rows;

  before(async () => {
    oldDir = await mkdtemp(join(tmpdir(), "tallyflow-before-053-"));
    for (const file of await readdir(migrationsDir))
      if (/^\d{3}_/.test(file) && Number(file.slice(0, 3)) < 53)
        await copyFile(join(migrationsDir, file), join(oldDir, file));
    await ensureDatabase(url);
    pool = createPool(url, logger, { max: 2, applicationName: "test" });
    await migrate(pool, logger, oldDir);
  });
  after(async () => {
    await pool?.end();
    await dropDatabase(url).catch(() => {});
    if (oldDir) await rm(oldDir, { recursive: true, force: true });
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
    await migrate(pool, logger);
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
