import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";

export const PG_BASE_URL = process.env.TEST_PG_URL ?? "postgres://postgres@127.0.0.1:5432";

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file. */
export async function createTestDatabase(name: string): Promise<TestDatabase> {
  const url = `${PG_BASE_URL}/${name}`;
  await ensureDatabase(url);
  const logger = createLogger("silent");
  const pool = createPool(url, logger, { max: 5, applicationName: "test" });
  await migrate(pool, logger);
  return {
    url,
    pool,
    async drop() {
      await pool.end();
      await dropDatabase(url);
    },
  };
}
