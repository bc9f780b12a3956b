import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../harness/waiting.ts";
import { asWriterBatch } from "../harness/writer-rollups.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { deleteChangeLog, loadChangeLog, loadRollupsFor } from "./rollup-store.ts";

// The publisher's delta read by change_seq (migration 048): per poll, only the rows its
// batches wrote after the change_seq given for it, over more polls than one query takes.

describe("loadRollupsFor by change_seq", () => {
  let db: TestDatabase;
  const POLLS = 1_201; // three queries of 500 polls, the last one short
  const ids = Array.from({ length: POLLS }, (_, i) => `p${i}`);

  before(async () => {
    db = await createTestDatabase(testNames().database);
    // Poll i has rows at change_seq 1..3 (one bucket each) and is asked for those above
    // 1 + i % 3: 2, 1 or 0 rows.
    await db.pool.query(
      `insert into vote_rollups (poll_id, option_id, bucket_start, count, change_seq)
       select 'p' || i, 'o', timestamptz '2026-01-01' + s * interval '10 minutes', 10 * s, s
       from generate_series(0, $1::int - 1) i, generate_series(1, 3) s`,
      [POLLS],
    );
  });
  after(async () => {
    await db?.drop();
  });

  test("each poll's rows above its own change_seq, and no other", async () => {
    const since = ids.map((_, i) => 1 + (i % 3));
    const byPoll = await loadRollupsFor(db.pool, ids, since);
    ids.forEach((id, i) => {
      const counts = (byPoll.get(id) ?? []).map((r) => r.count).sort((a, b) => a - b);
      const expected = [10, 20, 30].filter((c) => c / 10 > since[i]!);
      assert.deepEqual(counts, expected, id);
    });
  });

  test("without change_seqs, every row of the polls asked for", async () => {
    const byPoll = await loadRollupsFor(db.pool, ["p0", "p7"]);
    assert.deepEqual([...byPoll.keys()].sort(), ["p0", "p7"]);
    assert.equal(byPoll.get("p7")?.length, 3);
  });
});

describe("deleteChangeLog beside a writer batch of the same polls", () => {
  let db: TestDatabase;
  // Writes what a batch writes for these polls (their markers, log rows and a rollup each).
  const batch = (polls: string[]) =>
    asWriterBatch(
      `select poll_id, 'o'::text as option_id, timestamptz '2026-01-01' as bucket_start,
              1::bigint as count
       from unnest('{${polls.join(",")}}'::text[]) as u(poll_id)`,
    );

  before(async () => {
    db = await createTestDatabase(`${testNames().database}_dl`);
  });
  after(async () => {
    await db?.drop();
  });

  test("they wait for each other, in the writers' lock order, and never deadlock", async () => {
    // Logged b first, then a: the order a run reading the table's heap holds them in.
    await db.pool.query(batch(["dl-b"]));
    await db.pool.query(batch(["dl-a"]));
    const read = await loadChangeLog(db.pool);
    assert.deepEqual([...read.logged.keys()], ["dl-b", "dl-a"]);
    // A writer's batch of a and b, open: it holds a's log row.
    const writer = await db.pool.connect();
    let deleting: Promise<number> | undefined;
    try {
      await writer.query("begin");
      await writer.query(batch(["dl-a"]));
      deleting = deleteChangeLog(db.pool, read.logged);
      deleting.catch(() => {});
      await eventually("the delete waits for the writer", async () => {
        const { rows } = await db.pool.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity
           where wait_event_type = 'Lock' and query like '%delete from poll_change_log%'`,
        );
        return rows[0]!.n > 0 ? true : undefined;
      });
      // The batch goes on to b's log row (poll order): the delete must not hold it meanwhile.
      await writer.query(batch(["dl-b"]));
      await writer.query("commit");
      assert.equal(await deleting, 0, "both rows moved on since the run read them: they stay");
    } finally {
      await writer.query("rollback").catch(() => {});
      writer.release();
      await deleting?.catch(() => {});
    }
    const { rows } = await db.pool.query<{ poll_id: string; change_seq: string }>(
      "select poll_id, change_seq from poll_change_log order by poll_id",
    );
    assert.deepEqual(
      rows.map((r) => [r.poll_id, Number(r.change_seq)]),
      [
        ["dl-a", 2],
        ["dl-b", 2],
      ],
    );
  });
});
