import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, PG_BASE_URL, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { createLogger } from "./logger.ts";
import { loadMigrations, MigrationError, migrate } from "./migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "./postgres.ts";

const logger = createLogger("silent");

describe("the migration runner", () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(() => db?.drop());

  test("a migrated database records every migration this code has, and 009 dropped poll_change_seq", async () => {
    const { rows } = await db.pool.query<{ version: number }>(
      "select version from schema_migrations order by version",
    );
    const versions = (await loadMigrations()).map((m) => m.version);
    assert.deepEqual(
      rows.map((r) => r.version),
      versions,
    );
    const seq = await db.pool.query("select 1 from pg_class where relname = 'poll_change_seq'");
    assert.equal(seq.rowCount, 0);
    assert.equal(await migrate(db.pool, logger), 0, "a second run applies nothing");
  });

  test("a landed migration edited afterwards is refused", async () => {
    await db.pool.query("update schema_migrations set checksum = 'edited' where version = 1");
    try {
      await assert.rejects(migrate(db.pool, logger), (err: unknown) => {
        assert.ok(err instanceof MigrationError);
        assert.equal(err.code, "migration_edited");
        return true;
      });
    } finally {
      const [first] = await loadMigrations();
      await db.pool.query("update schema_migrations set checksum = $1 where version = 1", [
        first!.checksum,
      ]);
    }
  });
});

describe("a database that recorded a migration this code lacks", () => {
  const url = `${PG_BASE_URL}/${testNames().database}`;
  let dir: string;
  const pool = createPool(url, logger, { max: 2 });
  const recorded = async () =>
    (
      await pool.query<{ version: number }>("select version from schema_migrations order by 1")
    ).rows.map((r) => r.version);
  before(async () => {
    await ensureDatabase(url);
    dir = await mkdtemp(join(tmpdir(), "tf-migrations-"));
    await writeFile(join(dir, "001_table.sql"), "create table t (id int);\n");
    assert.equal(await migrate(pool, logger, dir), 1);
    // A migration this code has and the database has not: the run below must not apply it.
    await writeFile(join(dir, "002_more.sql"), "create table u (id int);\n");
    // As after 004 was renumbered 006: a database migrated in between recorded 004.
    await pool.query(
      "insert into schema_migrations (version, name, checksum) values (4, '004_report_indexes.sql', 'x')",
    );
  });
  after(async () => {
    await pool.end();
    await dropDatabase(url);
    await rm(dir, { recursive: true, force: true });
  });

  test("is refused, and nothing is applied (not even a migration pending)", async () => {
    await assert.rejects(migrate(pool, logger, dir), (err: unknown) => {
      assert.ok(err instanceof MigrationError);
      assert.equal(err.code, "migration_unknown");
      assert.match(err.message, /004_report_indexes\.sql/);
      return true;
    });
    assert.deepEqual(await recorded(), [1, 4]);
    const { rows } = await pool.query("select to_regclass('u') as u");
    assert.deepEqual(rows, [{ u: null }], "002's table was not created");
  });
});

describe("a migration that opts out of the transaction", () => {
  const url = `${PG_BASE_URL}/${testNames().database}`;
  let dir: string;
  const pool = createPool(url, logger, { max: 2 });
  before(async () => {
    await ensureDatabase(url);
    dir = await mkdtemp(join(tmpdir(), "tf-migrations-"));
    await writeFile(join(dir, "001_table.sql"), "create table t (id int, v text);\n");
    await writeFile(
      join(dir, "002_index.sql"),
      "-- migrate: no-transaction\ncreate index concurrently if not exists t_v_idx on t (v);\n",
    );
  });
  after(async () => {
    await pool.end();
    await dropDatabase(url);
    await rm(dir, { recursive: true, force: true });
  });

  test("runs CREATE INDEX CONCURRENTLY, which a transaction refuses", async () => {
    assert.equal(await migrate(pool, logger, dir), 2);
    const { rows } = await pool.query<{ indisvalid: boolean }>(
      "select i.indisvalid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = 't_v_idx'",
    );
    assert.deepEqual(rows, [{ indisvalid: true }]);
  });

  test("the same statement inside a transaction fails, so the marker is what makes it work", async () => {
    await writeFile(
      join(dir, "003_index_in_tx.sql"),
      "create index concurrently if not exists t_id_idx on t (id);\n",
    );
    await assert.rejects(migrate(pool, logger, dir), (err: unknown) => {
      assert.ok(err instanceof MigrationError);
      assert.equal(err.code, "migration_failed");
      return true;
    });
  });
});
