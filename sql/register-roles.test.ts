import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { storeBatch } from "../batch-writer/store-batch.ts";
import { createLogger } from "../common/logger.ts";
import { createPool, type Pool } from "../common/postgres.ts";
import { groupStats, overdueRegisters } from "../ingest-api/registers/register-reads.ts";
import {
  deleteTeacher,
  insertTeacher,
  listTeachers,
  loadTeacherCredentials,
} from "../ingest-api/registers/teacher-store.ts";
import { insertPeopleSql, pollsInserted } from "../ingest-api/registry/registry-changes.ts";
import {
  countOverdue,
  deleteRegisterChangeLog,
  expandRosterChanges,
  loadKeptRegisters,
  loadRegisterChangeLog,
  loadRegisterRows,
} from "../result-publisher/register-store.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { makeVote } from "../test-support/vote-messages.ts";

// Lesson registers under the services' own Postgres roles (migration 016's, granted by 026):
// the writer stores events and a completion and keeps the state, the API manages teachers
// and reads the statistics, the publisher reads what it publishes.

let db: TestDatabase;
const roles: LoginRole[] = [];
const pools: Pool[] = [];

async function as(role: "tallyflow_writer" | "tallyflow_api" | "tallyflow_publisher") {
  const login = await createLoginRole(db, role);
  roles.push(login);
  const pool = createPool(login.url, createLogger("silent"), { max: 1 });
  pools.push(pool);
  return pool;
}

const NOW = Date.now();

before(async () => {
  db = await createTestDatabase(testNames().database);
  await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
  await db.pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     values ('r1', 'r1', 'R1', 'ash', 'register', 'roster', '{7A}', $1, $2),
            ('r2', 'r2', 'R2', 'ash', 'register', 'roster', '{7A}', $1, $2)`,
    [new Date(NOW - 3_600_000), new Date(NOW - 1_800_000)],
  );
  // As the API creates them: polls_inserted logs them (migration 055).
  await pollsInserted(db.pool, ["r1", "r2"]);
  // As the API writes them: people_changed logs their groups (migration 059).
  await db.pool.query(
    insertPeopleSql("(school_id, id, groups) values ('ash', 'A1', '{7A}'), ('ash', 'A2', '{7A}')"),
  );
});

after(async () => {
  for (const pool of pools) await pool.end();
  for (const role of roles) await role.drop();
  await db?.drop();
});

describe("lesson registers under the services' roles", () => {
  test("the writer, the API and the publisher each do their part with their grants", async () => {
    const writer = await as("tallyflow_writer");
    const { rows } = await db.pool.query<{ incarnation: string }>(
      "select incarnation from polls where id = 'r1'",
    );
    const vote = { ...makeVote({ pollId: "r1", optionId: "absent", voterId: "A2" }), streamSeq: 1 };
    await storeBatch(writer, "VOTES", [vote], [], 0, [
      {
        completionId: randomUUID(),
        pollId: "r1",
        pollIncarnation: Number(rows[0]!.incarnation),
        completedAt: new Date().toISOString(),
        receivedAt: new Date().toISOString(),
        by: "tt-1",
      },
    ]);
    await writer.query("discard temp");

    const api = await as("tallyflow_api");
    const day = new Date(NOW).toISOString().slice(0, 10);
    const stats = await groupStats(api, "ash", "7A", { from: day, to: day, timeZone: "UTC" });
    assert.deepEqual([stats.lessonsHeld, stats.present, stats.absent], [1, 1, 1]);
    const overdue = await overdueRegisters(api, "ash", 0, 10);
    assert.deepEqual(
      overdue.map((r) => r.id),
      ["r2"],
    );
    await insertTeacher(api, {
      id: "tt-1",
      schoolId: "ash",
      label: "T",
      tokenHash: Buffer.alloc(32),
    });
    assert.equal((await listTeachers(api, "ash")).length, 1);
    assert.equal((await loadTeacherCredentials(api)).length, 1);
    await deleteTeacher(api, "ash", "tt-1");

    const publisher = await as("tallyflow_publisher");
    // Migration 056's rosters' log (the people inserted above, group 7A): consumed into
    // register changes, r2's only (r1 is completed). A transaction of its own.
    assert.deepEqual(await expandRosterChanges(publisher, NOW, 7), { schools: 1, registers: 1 });
    const client = await publisher.connect();
    try {
      const kept = await loadKeptRegisters(client, NOW, 7);
      assert.equal(kept.length, 2);
      // Migration 050's log: the API's inserts (polls_inserted, 055) and the writer (r1's
      // batch) wrote it, the publisher reads and deletes it.
      const logged = await loadRegisterChangeLog(client);
      assert.deepEqual([...logged.keys()].sort(), ["r1", "r2"]);
      assert.equal(await deleteRegisterChangeLog(client, logged), 2);
      // On one client (the publisher's snapshot transaction) the reads go one at a time:
      // pg warns of a query sent while another runs, and pg 9 refuses it.
      const warnings: string[] = [];
      const onWarning = (w: Error) => warnings.push(w.message);
      process.on("warning", onWarning);
      const loaded = await loadRegisterRows(client, ["r1", "r2"]);
      await new Promise((resolve) => setImmediate(resolve));
      process.off("warning", onWarning);
      assert.deepEqual(warnings, []);
      const [r1, r2] = loaded.sort((a, b) => a.pollId.localeCompare(b.pollId));
      // A2's absence is a row; A1 is present through the completion's roster alone (037).
      assert.deepEqual(
        r1!.people.map((p) => p.personId),
        ["A2"],
      );
      assert.deepEqual(r1!.roster, ["A1", "A2"]);
      assert.deepEqual(r2!.members.sort(), ["A1", "A2"]);
      assert.equal(await countOverdue(client, NOW, 0, 7), 1);
    } finally {
      client.release();
    }
  });
});
