import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { TallyflowError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { Pool, PoolClient } from "./postgres.ts";

export const migrationsDir = join(import.meta.dirname, "..", "sql", "migrations");

// Any fixed number works; it only has to be the same in every process that migrates.
const MIGRATION_LOCK_KEY = 7_316_504_221;

// A migration whose first line is this runs outside a transaction (CREATE INDEX
// CONCURRENTLY refuses to run inside one). Postgres runs a multi-statement query as one
// implicit transaction, so such a migration holds exactly one statement, and it must be
// safe to run again: a failure half-way is retried at the next deploy.
const NO_TRANSACTION_MARKER = /^--\s*migrate:\s*no-transaction\b/;

interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
  transactional: boolean;
}

/** The schema and this code disagree; migrating would make it worse, so nothing is applied. */
export class MigrationError extends TallyflowError {
  override readonly name = "MigrationError";
  declare readonly code: "migration_edited" | "migration_unknown" | "migration_failed";
  constructor(code: MigrationError["code"], message: string, cause?: unknown) {
    super(code, message, { cause });
  }
}

export async function loadMigrations(dir = migrationsDir): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => {
      const sql = await readFile(join(dir, file), "utf8");
      return {
        version: Number.parseInt(file.slice(0, 3), 10),
        name: file,
        sql,
        checksum: createHash("sha256").update(sql).digest("hex"),
        transactional: !NO_TRANSACTION_MARKER.test(sql),
      };
    }),
  );
}

interface Applied {
  version: number;
  name: string;
  checksum: string;
}

/**
 * Checks what the database recorded against what this code has, before applying anything:
 * - a landed migration edited afterwards is refused (migrations are never edited, only added);
 * - a recorded migration this code does not have is refused: the database was migrated by
 *   newer code, or by a migration renumbered after it landed. Either way this code does not
 *   know the schema it would run against.
 */
function checkApplied(migrations: Migration[], applied: Applied[]): void {
  const known = new Map(migrations.map((m) => [m.version, m]));
  for (const done of applied) {
    const m = known.get(done.version);
    if (!m)
      throw new MigrationError(
        "migration_unknown",
        `the database recorded migration ${done.name}, which this code does not have; ` +
          "deploy the code that has it, or repair schema_migrations by hand",
      );
    if (m.checksum !== done.checksum)
      throw new MigrationError(
        "migration_edited",
        `migration ${m.name} was edited after it was applied; add a new one`,
      );
  }
}

/**
 * Applies pending migrations in order, each in its own transaction (unless it opts out),
 * under an advisory lock so that several processes starting at once do not race.
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
    const { rows } = await client.query<Applied>(
      "select version, name, checksum from schema_migrations order by version",
    );
    checkApplied(migrations, rows);
    const done = new Set(rows.map((r) => r.version));
    let count = 0;
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await apply(client, m);
      logger.info({ migration: m.name, transactional: m.transactional }, "migration applied");
      count++;
    }
    return count;
  } finally {
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK_KEY]).catch(() => {});
    client.release();
  }
}

async function apply(client: PoolClient, m: Migration): Promise<void> {
  const record = () =>
    client.query("insert into schema_migrations (version, name, checksum) values ($1, $2, $3)", [
      m.version,
      m.name,
      m.checksum,
    ]);
  if (!m.transactional) {
    try {
      await client.query(m.sql);
    } catch (err) {
      throw new MigrationError("migration_failed", `migration ${m.name} failed`, err);
    }
    await record();
    return;
  }
  await client.query("begin");
  try {
    await client.query(m.sql);
    await record();
    await client.query("commit");
  } catch (err) {
    await client.query("rollback");
    throw new MigrationError("migration_failed", `migration ${m.name} failed`, err);
  }
}
