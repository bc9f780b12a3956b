import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { queryNumber } from "../test-support/stored-votes.ts";
import { PollPurge } from "./poll-purge.ts";
import { createWriterMetrics } from "./writer-metrics.ts";

// Migration 031 and poll-purge.ts: deleting a poll of many votes takes no longer than
// deleting a poll of none, and its votes then go in bounded steps, while votes of other
// polls keep being stored.

const VOTES = 60_000;
const STEP = 5_000;

async function pollWithVotes(pool: Pool, id: string, votes: number): Promise<void> {
  await pool.query("insert into polls (id, slug, title, archived_at) values ($1, $1, $1, now())", [
    id,
  ]);
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
     select gen_random_uuid(), $1, 'yes', 'k1', now() - i * interval '1 second', now(), i
     from generate_series(1, $2::int) as i`,
    [id, votes],
  );
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

describe("a deleted poll's votes are purged in the background (migration 031)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
    await pollWithVotes(db.pool, "big", VOTES);
    await pollWithVotes(db.pool, "reference", VOTES);
    await db.pool.query("analyze votes");
  });
  after(() => db?.drop());

  test("the delete does not grow with the votes; the purge takes them in bounded steps", async () => {
    // The reference, measured in the same run: what the delete did before 031.
    const table = await timed(() => db.pool.query("delete from votes where poll_id = 'reference'"));
    // The poll's delete in a transaction of its own, whose statistics say what it deleted:
    // not one vote (what makes it not grow with them, whatever the machine's load; its time
    // against the table's delete is checked loosely, as a busy machine swings both).
    const client = await db.pool.connect();
    let poll: number;
    let votesDeleted: number;
    // The backend's counts not yet flushed to the shared statistics (the reference's delete,
    // when it ran on this connection) are in the view too: the difference is this delete's.
    const deletedSoFar = () =>
      queryNumber(
        client,
        `select coalesce(sum(n_tup_del), 0) from pg_stat_xact_user_tables
         where relid in (select relid from pg_partition_tree('votes'))`,
      );
    try {
      await client.query("begin");
      const before = await deletedSoFar();
      poll = await timed(() => client.query("select delete_polls(array['big'])"));
      votesDeleted = (await deletedSoFar()) - before;
      await client.query("commit");
    } finally {
      client.release();
    }
    assert.equal(votesDeleted, 0, `the poll's delete deleted ${votesDeleted} votes`);
    assert.ok(
      poll < table / 2,
      `deleting the poll took ${poll.toFixed(1)} ms, deleting its votes ${table.toFixed(1)} ms`,
    );
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'big'"),
      VOTES,
    );

    const metrics = createWriterMetrics(async () => ({ undelivered: 0, ackPending: 0 }));
    const purge = new PollPurge({
      pool: db.pool,
      config: { pollPurgeBatchRows: STEP, pollPurgeBatchPolls: 100, pollPurgeIntervalMs: 60_000 },
      logger: createLogger("silent"),
      metrics,
    });
    const steps: number[] = [];
    for (;;) {
      // A vote of another poll stored between two steps: nothing holds it.
      await db.pool.query(
        `insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
         values (gen_random_uuid(), 'other', 'yes', 'k1', now(), now(), 1)`,
      );
      const purged = await purge.step();
      if (purged === undefined) break;
      steps.push(purged);
      assert.ok(steps.length <= VOTES / STEP + 2, "the purge ends");
    }
    assert.ok(
      steps.every((n) => n <= STEP),
      `each step at most ${STEP} rows: ${steps.join(", ")}`,
    );
    assert.equal(
      steps.reduce((a, b) => a + b, 0),
      VOTES,
    );
    assert.equal(await queryNumber(db.pool, "select count(*) from votes where poll_id = 'big'"), 0);
    assert.equal(await queryNumber(db.pool, "select count(*) from poll_purges"), 0);
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'other'"),
      steps.length + 1,
    );
    assert.equal((await metrics.pollPurgeRows.get()).values[0]!.value, VOTES);
  });

  test("an id being purged is refused to a create, and free once the purge is done", async () => {
    await pollWithVotes(db.pool, "again", 10);
    await db.pool.query("select delete_polls(array['again'])");
    // As the API creates a poll: the row, then polls_inserted in its transaction (one
    // implicit transaction here: the refusal undoes the insert).
    const create = () =>
      db.pool.query(
        `insert into polls (id, slug, title) values ('again', 'again', 'again');
         select polls_inserted(array['again'])`,
      );
    await assert.rejects(
      create(),
      (err: { code?: string; constraint?: string }) =>
        err.code === "23505" && err.constraint === "poll_purges_pkey",
    );
    assert.equal(await queryNumber(db.pool, "select count(*) from polls where id = 'again'"), 0);
    await db.pool.query("select * from purge_deleted_polls(100)");
    await create();
    assert.equal(
      await queryNumber(db.pool, "select count(*) from votes where poll_id = 'again'"),
      0,
      "the new poll starts with none of the old one's votes",
    );
  });
});
