import { randomUUID } from "node:crypto";
import pg from "pg";
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

/** A role of migration 016 that the services' and the analyst's login users are members of. */
export type ServiceRole =
  | "tallyflow_api"
  | "tallyflow_writer"
  | "tallyflow_publisher"
  | "tallyflow_analyst";

export interface LoginRole {
  name: string;
  /** The test database's URL as this user. */
  url: string;
  /** Drops the user (roles are cluster-wide: every test drops its own). */
  drop(): Promise<void>;
}

/**
 * A login user in `group`, as an operator creates one (docs/operations.md), with a name of
 * its own so that test files running at once on the shared cluster never share one.
 */
export async function createLoginRole(db: TestDatabase, group: ServiceRole): Promise<LoginRole> {
  const name = `tftest_${randomUUID().slice(0, 8)}_${group.replace("tallyflow_", "")}`;
  const password = randomUUID();
  await db.pool.query(
    `create role ${pg.escapeIdentifier(name)} login password ${pg.escapeLiteral(password)} in role ${pg.escapeIdentifier(group)}`,
  );
  const url = new URL(db.url);
  url.username = name;
  url.password = password;
  return {
    name,
    url: url.toString(),
    async drop() {
      await db.pool.query(
        "select pg_terminate_backend(pid) from pg_stat_activity where usename = $1",
        [name],
      );
      await db.pool.query(`drop role if exists ${pg.escapeIdentifier(name)}`);
    },
  };
}
