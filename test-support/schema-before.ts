import { copyFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../common/logger.ts";
import { migrate, migrationsDir } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { PG_BASE_URL } from "./database.ts";

// The upgrade tests' starting point: a database of their own as a deployment from before a
// migration left it (every migration below it applied, none from it on), so that the test
// stores what that release stored and then runs today's migrations over it.

export interface DatabaseBefore {
  url: string;
  pool: Pool;
  /** Runs every migration not applied yet (today's); resolves to how many ran. */
  upgrade(): Promise<number>;
  /** Ends the pool, drops the database and the migrations' copy. */
  close(): Promise<void>;
}

/** A new database migrated up to `version` (not included), with its own 2-connection pool. */
export async function databaseBefore(version: number, database: string): Promise<DatabaseBefore> {
  const logger = createLogger("silent");
  const dir = await mkdtemp(join(tmpdir(), `tallyflow-before-${version}-`));
  for (const file of await readdir(migrationsDir))
    if (/^\d{3}_/.test(file) && Number(file.slice(0, 3)) < version)
      await copyFile(join(migrationsDir, file), join(dir, file));
  const url = `${PG_BASE_URL}/${database}`;
  await ensureDatabase(url);
  const pool = createPool(url, logger, { max: 2, applicationName: "test" });
  try {
    await migrate(pool, logger, dir);
  } catch (err) {
    await pool.end();
    await dropDatabase(url).catch(() => {});
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    pool,
    upgrade: () => migrate(pool, logger),
    async close() {
      await pool.end();
      await dropDatabase(url).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
}
