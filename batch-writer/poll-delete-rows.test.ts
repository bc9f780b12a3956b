import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Pool } from "../common/postgres.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";

// Migrations 011, 031 and 052: deleting a poll (delete_polls, which the ingest API calls)
// deletes, in the same transaction, the writer's rows bounded by the poll's options and
// buckets, and queues the rest (bounded by its votes) for the writers' background purge.
// Dead letters are kept.

/** The writer's tables the delete clears at once: a few rows per option and bucket. */
const CLEARED_AT_ONCE = ["vote_rollups", "poll_changes", "poll_change_log", "duplicate_counts"];
/** The writer's tables as large as the poll's votes: purged in bounded steps (031). */
const PURGED_LATER = ["votes", "voter_ballots", "rejected_votes", "conflicting_votes"];
const WRITER_TABLES = [...CLEARED_AT_ONCE, ...PURGED_LATER];
/** Tables with a poll_id that the delete leaves alone: the registry's own (cascade), and the purge queue. */
const REGISTRY_TABLES = ["poll_options", "poll_purges"];
/**
 * The writer's lesson register state (migration 026): cleared by its foreign keys' cascade
 * from polls, in the same deleting transaction, not by the trigger.
 */
const CASCADED_WRITER_TABLES = ["register_people", "register_states"];
/**
 * Change logs that must outlive the poll (migrations 042, 050): the delete itself is logged there,
 * so that the publisher removes the deleted register's documents.
 */
const CHANGE_LOGS = ["register_change_log"];

async function insertPoll(pool: Pool, id: string): Promise<void> {
  await pool.query("insert into polls (id, slug, title) values ($1, $1, $1)", [id]);
}

/** One row of the poll in every writer table, and a dead letter naming it. */
async function insertWriterRows(pool: Pool, pollId: string): Promise<void> {
  const vote = `$1, '${pollId}', 'yes', 'k1', now(), now(), 1`;
  const cols = "event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq";
  await pool.query(`insert into votes (${cols}) values (${vote})`, [randomUUID()]);
  await pool.query(`insert into rejected_votes (${cols}, reason) values (${vote}, 'test')`, [
    randomUUID(),
  ]);
  await pool.query(`insert into conflicting_votes (${cols}) values (${vote})`, [randomUUID()]);
  await pool.query(
    "insert into vote_rollups (poll_id, option_id, bucket_start, count) values ($1, 'yes', now(), 1)",
    [pollId],
  );
  await pool.query(
    "insert into poll_changes (poll_id, change_seq, last_stream_seq, changed_at) values ($1, 1, 1, now())",
    [pollId],
  );
  await pool.query("insert into poll_change_log (poll_id, change_seq) values ($1, 1)", [pollId]);
  await pool.query(
    "insert into voter_ballots (poll_id, voter_id, event_id) values ($1, 'v1', $2)",
    [pollId, randomUUID()],
  );
  await pool.query(
    "insert into duplicate_counts (poll_id, kiosk_id, day, count) values ($1, 'k1', current_date, 1)",
    [pollId],
  );
  await pool.query(
    `insert into register_states (poll_id, school_id, group_id, starts_at, ends_at)
     values ($1, 'default', 'g', now(), now() + interval '1 hour')`,
    [pollId],
  );
  await pool.query(
    "insert into register_people (poll_id, person_id, status) values ($1, 'p1', 'absent')",
    [pollId],
  );
  await pool.query(
    `insert into dead_letters (stream, stream_seq, msg_id, subject, raw, error, deliveries)
     values ('votes', $1, $2, 'votes.x', convert_to($3, 'UTF8'), 'test', 1)`,
    [Math.floor(Math.random() * 1e9), randomUUID(), `{"pollId":"${pollId}"}`],
  );
}

async function rowsOf(pool: Pool, pollId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of [...WRITER_TABLES, ...CASCADED_WRITER_TABLES]) {
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from ${table} where poll_id = $1`,
      [pollId],
    );
    counts[table] = rows[0]!.n;
  }
  return counts;
}

async function queued(db: Pick<Pool, "query">, pollId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "select count(*)::int as n from poll_purges where poll_id = $1",
    [pollId],
  );
  return rows[0]!.n;
}

const everyTable = (n: number) =>
  Object.fromEntries([...WRITER_TABLES, ...CASCADED_WRITER_TABLES].map((t) => [t, n]));

describe("deleting a poll clears the writer's rows of that poll (migrations 011, 031, 052)", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(() => db?.drop());

  test("every table with a poll_id is either cleared by the trigger or the registry's own", async () => {
    // A writer table added later without joining the trigger would keep a deleted poll's
    // rows, and show them to a poll created again under the same id.
    // Partitions (votes', migration 033) are reached through their partitioned table; a view
    // (register_statuses, migration 037) holds no rows of its own.
    const { rows } = await db.pool.query<{ table_name: string }>(
      `select c.table_name from information_schema.columns c
       join pg_class t on t.oid = format('public.%I', c.table_name)::regclass
       where c.table_schema = 'public' and c.column_name = 'poll_id' and not t.relispartition
         and t.relkind in ('r', 'p')
       order by c.table_name`,
    );
    assert.deepEqual(
      rows.map((r) => r.table_name),
      [...WRITER_TABLES, ...REGISTRY_TABLES, ...CASCADED_WRITER_TABLES, ...CHANGE_LOGS].sort(),
    );
  });

  test("the deleted poll's rows go, another poll's stay, dead letters stay", async () => {
    await insertPoll(db.pool, "gone");
    await insertPoll(db.pool, "stays");
    await insertWriterRows(db.pool, "gone");
    await insertWriterRows(db.pool, "stays");
    assert.deepEqual(await rowsOf(db.pool, "gone"), everyTable(1));
    const deadBefore = await db.pool.query("select 1 from dead_letters");

    await db.pool.query("select delete_polls(array['gone'])");

    const right = await rowsOf(db.pool, "gone");
    for (const table of [...CLEARED_AT_ONCE, ...CASCADED_WRITER_TABLES])
      assert.equal(right[table], 0, `${table}: cleared with the poll row`);
    for (const table of PURGED_LATER) assert.equal(right[table], 1, `${table}: left to the purge`);
    assert.equal(await queued(db.pool, "gone"), 1);

    // One row per table and step: four tables, then the step that finds nothing left.
    const steps: { purged: number; done: boolean }[] = [];
    for (;;) {
      const { rows } = await db.pool.query<{ purged: number; done: boolean }>(
        "select purged::int, done from purge_deleted_polls(1)",
      );
      if (rows.length === 0) break;
      steps.push(rows[0]!);
      assert.ok(steps.length < 10, "the purge ends");
    }
    assert.ok(
      steps.every((s) => s.purged <= 1),
      "each step removes at most its limit per table",
    );
    assert.equal(steps.at(-1)!.done, true);
    assert.equal(await queued(db.pool, "gone"), 0, "the queue row goes with the last step");
    assert.deepEqual(await rowsOf(db.pool, "gone"), everyTable(0));
    assert.deepEqual(await rowsOf(db.pool, "stays"), everyTable(1));
    const deadAfter = await db.pool.query("select 1 from dead_letters");
    assert.equal(deadAfter.rowCount, deadBefore.rowCount, "dead letters are evidence: kept");
  });

  test("a delete rolled back keeps the rows: it all runs in the deleting transaction", async () => {
    await insertPoll(db.pool, "kept");
    await insertWriterRows(db.pool, "kept");
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await client.query("select delete_polls(array['kept'])");
      const inside = await client.query<{ n: number }>(
        "select count(*)::int as n from votes where poll_id = 'kept'",
      );
      assert.equal(inside.rows[0]!.n, 1, "the votes are left to the purge");
      assert.equal(await queued(client, "kept"), 1, "queued inside the transaction");
      await client.query("rollback");
    } finally {
      client.release();
    }
    assert.deepEqual(await rowsOf(db.pool, "kept"), everyTable(1));
    assert.equal(await queued(db.pool, "kept"), 0, "nothing queued");
  });
});
