import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { createLogger } from "../../common/logger.ts";
import { migrate, migrationsDir } from "../../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../../common/postgres.ts";
import { eventually } from "../../harness/waiting.ts";
import { createTestDatabase, PG_BASE_URL, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import {
  deletePolls,
  notifyRegistryRows,
  peopleChanged,
  pollsInserted,
  updatePolls,
  updateSchools,
} from "./registry-changes.ts";

// Migration 052: what a registry write does besides its rows, now called by the writing
// transaction instead of triggers (Citus refuses triggers on reference tables, and a
// worker's NOTIFY reaches no listener: docs/citus.md, "Triggers"). The payloads are those
// the listeners parse (registry-cache.ts, known-people.ts, registry-watch.ts).

/** Every notification heard on the registry's two channels, as `channel payload`. */
async function listen(url: string): Promise<{ heard: string[]; client: pg.Client }> {
  const client = new pg.Client({ connectionString: url });
  const heard: string[] = [];
  client.on("notification", (n) => heard.push(`${n.channel} ${n.payload}`));
  await client.connect();
  await client.query("listen tallyflow_registry");
  await client.query("listen tallyflow_people");
  return { heard, client };
}

describe("registry changes told by the writing transaction", () => {
  let db: TestDatabase;
  let listener: { heard: string[]; client: pg.Client };
  /** The notifications heard once `marker` (sent last) arrives, the marker left out. */
  const heardUpTo = async (marker: string): Promise<string[]> => {
    await notifyRegistryRows(db.pool, "schools", [marker]);
    const end = `tallyflow_registry schools:${marker}`;
    await eventually(`${marker} heard`, () => listener.heard.includes(end));
    const got = listener.heard.splice(0, listener.heard.indexOf(end) + 1);
    return got.slice(0, -1);
  };

  before(async () => {
    db = await createTestDatabase(testNames().database);
    listener = await listen(db.url);
    await db.pool.query("insert into schools (id, name) values ('oak', 'Oak'), ('elm', 'Elm')");
  });
  after(async () => {
    await listener?.client.end();
    await db?.drop();
  });

  test("one notification a distinct row, in the listeners' format; none for no rows", async () => {
    await notifyRegistryRows(db.pool, "kiosks", ["k1", "k2", "k1"]);
    await notifyRegistryRows(db.pool, "poll_options", ["p1"]);
    await notifyRegistryRows(db.pool, "polls", []);
    await peopleChanged(db.pool, ["oak", "oak", "elm"]);
    await db.pool.query("select notify_registry_rows('polls', array[null, 'p2'])");
    assert.deepEqual((await heardUpTo("m1")).sort(), [
      "tallyflow_people elm",
      "tallyflow_people oak",
      "tallyflow_registry kiosks:k1",
      "tallyflow_registry kiosks:k2",
      "tallyflow_registry poll_options:p1",
      "tallyflow_registry polls:p2",
    ]);
  });

  test("delivered at the commit of the writing transaction, never on a rollback", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await notifyRegistryRows(client, "polls", ["rolled-back"]);
      await client.query("rollback");
      await client.query("begin");
      await notifyRegistryRows(client, "polls", ["committed"]);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(listener.heard, [], "nothing before the commit");
      await client.query("commit");
    } finally {
      client.release();
    }
    assert.deepEqual(await heardUpTo("m2"), ["tallyflow_registry polls:committed"]);
  });

  test("a table that is not the registry's is a clear error", async () => {
    await assert.rejects(
      db.pool.query("select notify_registry_rows('votes', array['x'])"),
      /"votes" is not a registry table \(schools, polls, poll_options, kiosks\)/,
    );
  });

  test("a school's first lesson registers tell the known people once, later ones not", async () => {
    const register = (id: string, school: string) =>
      db.pool.query(
        `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
         values ($1, $1, $1, $2, 'register', 'roster', '{7A}', now(), now() + interval '1 hour')`,
        [id, school],
      );
    // Two created together (one statement's worth) in a school without any.
    await register("oak-1", "oak");
    await register("oak-2", "oak");
    await db.pool.query(
      "insert into polls (id, slug, title, school_id) values ('elm-vote', 'elm-vote', 'V', 'elm')",
    );
    await pollsInserted(db.pool, ["oak-1", "oak-2", "elm-vote"]);
    assert.deepEqual((await heardUpTo("m3")).sort(), [
      "tallyflow_people oak",
      "tallyflow_registry polls:elm-vote",
      "tallyflow_registry polls:oak-1",
      "tallyflow_registry polls:oak-2",
    ]);
    await register("oak-3", "oak");
    await pollsInserted(db.pool, ["oak-3"]);
    assert.deepEqual(await heardUpTo("m4"), ["tallyflow_registry polls:oak-3"]);
  });

  test("a poll's delete queues its purge and is told; its id is refused until the purge is done", async () => {
    await db.pool.query(
      "insert into polls (id, slug, title, school_id) values ('lunch', 'lunch', 'Lunch', 'oak')",
    );
    assert.deepEqual(await deletePolls(db.pool, ["lunch", "no-such-poll"]), ["lunch"]);
    assert.deepEqual(await heardUpTo("m5"), ["tallyflow_registry polls:lunch"]);
    const { rows } = await db.pool.query("select poll_id, school_id, kind from poll_purges");
    assert.deepEqual(rows, [{ poll_id: "lunch", school_id: "oak", kind: "vote" }]);
    const create = () =>
      db.pool.query(
        `insert into polls (id, slug, title, school_id) values ('lunch', 'lunch', 'Again', 'oak');
         select polls_inserted(array['lunch'])`,
      );
    await assert.rejects(create(), (err: { code?: string; constraint?: string }) => {
      assert.equal(err.code, "23505");
      assert.equal(err.constraint, "poll_purges_pkey");
      return true;
    });
    await db.pool.query("select * from purge_deleted_polls(100)");
    await create();
  });

  test("an update is told, and logs a register only where its document shows a changed column", async () => {
    await db.pool.query(
      `insert into schools (id, name) values ('ash', 'Ash');
       insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ('ash-reg', 'ash-reg', 'R', 'oak', 'register', 'roster', '{7A}', now(), now() + interval '1 hour'),
              ('ash-att', 'ash-att', 'A', 'oak', 'attendance', 'roster', '{7A}', null, null)`,
    );
    await db.pool.query("delete from register_change_log");
    await heardUpTo("m6-start");
    const seq = async () => {
      const { rows } = await db.pool.query<{ change_seq: string }>(
        "select change_seq from register_change_log where poll_id = 'ash-reg'",
      );
      return Number(rows[0]?.change_seq ?? 0);
    };
    // 042's rule: what register-document.ts shows of the poll, one column at a time.
    const shown = [
      "title = 'R2'",
      "starts_at = p.starts_at - interval '1 minute'",
      "ends_at = p.ends_at + interval '1 minute'",
      "group_ids = '{7B}'",
      "school_id = 'ash'",
    ];
    for (const [i, set] of shown.entries()) {
      await updatePolls(db.pool, set, "p.id = $1", ["ash-reg"]);
      assert.equal(await seq(), i + 1, set);
    }
    for (const set of ["time_zone = 'Europe/London'", "archived_at = now()", "title = 'R2'"])
      await updatePolls(db.pool, set, "p.id = $1", ["ash-reg"]);
    assert.equal(await seq(), shown.length, "no shown column changed");
    await updatePolls(db.pool, "title = 'A2'", "p.id = 'ash-att'");
    await updatePolls(db.pool, "title = p.title || '!'", "p.id = any($1)", [
      ["ash-reg", "ash-att"],
    ]);
    const { rows } = await db.pool.query("select poll_id from register_change_log");
    assert.deepEqual(rows, [{ poll_id: "ash-reg" }], "an attendance register is not logged");
    assert.equal(await seq(), shown.length + 1);
    assert.deepEqual(
      (await heardUpTo("m6")).sort(),
      [
        ...Array(shown.length + 3).fill("tallyflow_registry polls:ash-reg"),
        "tallyflow_registry polls:ash-att",
        "tallyflow_registry polls:ash-att",
        "tallyflow_registry polls:ash-reg",
      ].sort(),
    );
    await updatePolls(db.pool, "title = 'none'", "false");
    await assert.rejects(
      db.pool.query("select polls_updated(array(select p from polls p), '{}')"),
      /polls_updated: \d+ rows before, 0 after/,
    );
  });

  test("schools_updated records a school whose shown rules changed, marks days on a zone change", async () => {
    const logged = async () =>
      (
        await db.pool.query<{ school_id: string }>(
          "delete from attendance_school_change_log returning school_id",
        )
      ).rows.map((r) => r.school_id);
    await logged();
    await updateSchools(db.pool, "attendance_public_counts = true, name = 'Oak 2'", "s.id = 'oak'");
    assert.deepEqual(await logged(), [], "nothing a day document shows");
    await updateSchools(db.pool, "attendance_late_after = '08:40'", "s.id in ('oak', 'elm')");
    assert.deepEqual((await logged()).sort(), ["elm", "oak"]);
    await db.pool.query(
      "insert into attendance_days (school_id, person_id, day) values ('oak', 'P1', '2025-03-03')",
    );
    await updateSchools(db.pool, "time_zone = s.time_zone", "s.id = 'oak'");
    assert.deepEqual(await logged(), [], "the same zone");
    await updateSchools(db.pool, "time_zone = 'Asia/Kathmandu'", "s.id = 'oak'");
    assert.deepEqual(await logged(), ["oak"]);
    const dirty = await db.pool.query("select school_id, person_id from attendance_dirty");
    assert.deepEqual(dirty.rows, [{ school_id: "oak", person_id: "P1" }]);
    await assert.rejects(
      db.pool.query("select schools_updated(array(select s from schools s), '{}')"),
      /schools_updated: \d+ rows before, 0 after/,
    );
  });

  test("a poll or kiosk inserted without a slug fails: no default any more", async () => {
    await assert.rejects(
      db.pool.query("insert into polls (id, title) values ('bare', 'Bare')"),
      /null value in column "slug"/,
    );
    await assert.rejects(
      db.pool.query("insert into kiosks (id, name, token_hash) values ('bare', 'Bare', '\\x02')"),
      /null value in column "slug"/,
    );
  });
});

describe("migration 052 on an existing deployment", () => {
  const url = `${PG_BASE_URL}/${testNames().database}`;
  const logger = createLogger("silent");
  let pool: Pool;
  let oldDir: string;

  before(async () => {
    oldDir = await mkdtemp(join(tmpdir(), "tallyflow-before-052-"));
    for (const file of await readdir(migrationsDir))
      if (/^\d{3}_/.test(file) && Number(file.slice(0, 3)) < 52)
        await copyFile(join(migrationsDir, file), join(oldDir, file));
    await ensureDatabase(url);
    pool = createPool(url, logger, { max: 2, applicationName: "test" });
    await migrate(pool, logger, oldDir);
    // As the triggers left them: slugs defaulted, a deleted poll's purge pending.
    await pool.query(`
      insert into polls (id, title) values ('old', 'Old'), ('kept', 'Kept');
      insert into kiosks (id, name, token_hash) values ('hall', 'Hall', '\\x01');
      delete from polls where id = 'old'`);
  });
  after(async () => {
    await pool?.end();
    await dropDatabase(url);
    await rm(oldDir, { recursive: true, force: true });
  });

  test("the triggers go, the rows and the pending purge stay, and the purge still refuses the id", async () => {
    await migrate(pool, logger);
    const { rows: triggers } = await pool.query<{ tgname: string }>(
      `select tgname from pg_trigger
       where not tgisinternal
         and tgrelid in ('schools'::regclass, 'polls'::regclass, 'poll_options'::regclass,
                         'kiosks'::regclass, 'people'::regclass)`,
    );
    assert.deepEqual(triggers, []);
    const { rows: polls } = await pool.query("select id, slug from polls");
    assert.deepEqual(polls, [{ id: "kept", slug: "kept" }]);
    await assert.rejects(
      pool.query(
        "insert into polls (id, slug, title) values ('old', 'old', 'Old'); select polls_inserted(array['old'])",
      ),
      (err: { constraint?: string }) => err.constraint === "poll_purges_pkey",
    );
  });
});
