import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "./logger.ts";
import type { Pool } from "./postgres.ts";

export const migrationsDir = join(import.meta.dirname, "..", "sql", "migrations");

// Any fixed number works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK_KEY = 7_316_504_221;

interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

async function loadMigrations(dir: string): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(join(dir, file), "utf8");
      return {
        version: Number.parseInt(file.slice(0, 3), 10),
        name: file,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
      };
    }),
  );
}

/**
 * Applies pending migrations in order, each in its own transaction, under an advisory
 * lock so that several processes starting at once do not race. A landed migration that
 * was edited afterwards is refused: migrations are never edited, only added.
 */
export async function migrate(pool: Pool, logger: Logger, dir = migrationsDir): Promise<number> {
  const migrations = await loadMigrations(dir);
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK_KEY]);
    await client.query(`create table if not exists schema_migrations (
      version integer primary key,
      name text not null,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const { rows } = await client.query<{ version: number; name: string; checksum: string }>(
      "select version, name, checksum from schema_migrations",
    );
    const applied = new Map(rows.map((r) => [r.version, r]));
    let count = 0;
    for (const m of migrations) {
      const done = applied.get(m.version);
      if (done) {
        if (done.checksum !== m.checksum)
          throw new Error(`migration ${m.name} was edited after it was applied; add a new one`);
        continue;
      }
      await client.query("begin");
      try {
        await client.query(m.sql);
        await client.query(
          "insert into schema_migrations (version, name, checksum) values ($1, $2, $3)",
          [m.version, m.name, m.checksum],
        );
        await client.query("commit");
      } catch (err) {
        await client.query("rollback");
        throw new Error(`migration ${m.name} failed`, { cause: err });
      }
      logger.info({ migration: m.name }, "migration applied");
      count++;
    }
    return count;
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}
