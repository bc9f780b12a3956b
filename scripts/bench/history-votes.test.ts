import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import {
  daysIn,
  fitLine,
  historyMonths,
  insertVotesParams,
  insertVotesSql,
  partitionOf,
  REFERENCE_MIX,
  rowsPerMonth,
  uuidV7Sql,
} from "./history-votes.ts";

// bench:history's generated history is only worth its figures if each row lands in the
// partition of its month (as a kiosk's vote would) and the months hold the rows asked for.

describe("bench:history's generated votes", () => {
  let db: TestDatabase;
  const months = historyMonths(3, Date.UTC(2026, 0, 15));

  before(async () => {
    db = await createTestDatabase(testNames().database);
    for (const m of months)
      await db.pool.query("select * from votes_ensure_partitions(interval '0', $1)", [m]);
  });
  after(async () => {
    await db?.drop();
  });

  test("the months are the whole months before now's, oldest first", () => {
    assert.deepEqual(
      months.map((m) => m.toISOString().slice(0, 10)),
      ["2025-10-01", "2025-11-01", "2025-12-01"],
    );
    assert.deepEqual(months.map(daysIn), [31, 30, 31]);
    assert.deepEqual(months.map(partitionOf), [
      "votes_p2025_10",
      "votes_p2025_11",
      "votes_p2025_12",
    ]);
  });

  test("rows are split by days and add up to the total", () => {
    const split = rowsPerMonth(920, months);
    assert.deepEqual(split, [310, 300, 310]);
    assert.equal(
      rowsPerMonth(1_000_003, months).reduce((a, b) => a + b, 0),
      1_000_003,
    );
  });

  test("a UUIDv7 built from a time carries that time to the ms, and routes to its month", async () => {
    const edges = [
      "2025-10-01T00:00:00.000Z",
      "2025-10-31T23:59:59.999Z",
      "2025-11-01T00:00:00.000Z",
      "2025-12-15T12:34:56.789Z",
    ];
    const { rows } = await db.pool.query<{ id: string; back: Date }>(
      `select ${uuidV7Sql("t", "n")}::text as id, event_id_time(${uuidV7Sql("t", "n")}) as back
       from unnest($1::timestamptz[]) with ordinality as x(t, n)`,
      [edges],
    );
    assert.deepEqual(
      rows.map((r) => r.back.toISOString()),
      edges,
    );
    for (const r of rows)
      assert.match(r.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-8[0-9a-f]{3}-[0-9a-f]{12}$/);
    // Same time, different row numbers: different ids.
    const { rows: same } = await db.pool.query<{ n: number }>(
      `select count(distinct ${uuidV7Sql("timestamptz '2025-11-01'", "g")})::int as n
       from generate_series(1, 1000) g`,
    );
    assert.equal(same[0]!.n, 1000);
  });

  test("a month loaded in chunks lands in its own partition, in the two peak hours", async () => {
    const month = { start: months[1]!, firstRow: 1_001, rows: 3_000 };
    for (const chunk of [
      { first: 1_001, last: 2_500 },
      { first: 2_501, last: 4_000 },
    ])
      await db.pool.query(insertVotesSql("votes"), insertVotesParams(chunk, month, REFERENCE_MIX));
    const { rows } = await db.pool.query<{
      part: string;
      n: number;
      hours: number[];
      days: number;
      off: number;
      polls: number;
    }>(
      `select tableoid::regclass::text as part, count(*)::int as n,
              array_agg(distinct extract(hour from cast_at at time zone 'UTC')::int) as hours,
              count(distinct (cast_at at time zone 'UTC')::date)::int as days,
              count(*) filter (where event_id_time(event_id) <> date_trunc('milliseconds', cast_at))::int as off,
              count(distinct poll_id)::int as polls
       from votes group by 1`,
    );
    assert.deepEqual(rows, [
      { part: "votes_p2025_11", n: 3_000, hours: [8, 15], days: 30, off: 0, polls: 20 },
    ]);
  });

  test("the fitted line of the writer's rate against the history", () => {
    const fit = fitLine([0, 10, 20, 30], [100, 90, 80, 70]);
    assert.ok(Math.abs(fit.slope + 1) < 1e-9);
    assert.ok(Math.abs(fit.intercept - 100) < 1e-9);
    assert.deepEqual(fitLine([5, 5], [1, 3]), { intercept: 2, slope: 0 });
  });
});
