import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { loadRollupsFor } from "./rollup-store.ts";

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
