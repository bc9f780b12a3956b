import type { Logger } from "../common/logger.ts";
import { createPool, type Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type TestDatabase,
} from "./database.ts";
import type { TestNames } from "./names.ts";

/** A publisher test file's database, its tallyflow_publisher login, a pool as it and Redis. */
export interface PublisherBed {
  db: TestDatabase;
  /** tallyflow_publisher's login: the publisher's grants, not the owner's. */
  role: LoginRole;
  /** Two connections as `role`. */
  pool: Pool;
  redis: RedisClient;
  /** Deletes the file's Redis keys (its prefix), closes the clients, drops the role and database. */
  close(): Promise<void>;
}

/** Opens the bed a register or attendance publisher test reads and writes through. */
export async function openPublisherBed(
  names: TestNames,
  applicationName: string,
  logger: Logger,
): Promise<PublisherBed> {
  const db = await createTestDatabase(names.database);
  const role = await createLoginRole(db, "tallyflow_publisher");
  const pool = createPool(role.url, logger, { max: 2, applicationName });
  const redis = await connectRedis("redis://127.0.0.1:6379", logger, "test");
  return {
    db,
    role,
    pool,
    redis,
    async close() {
      for await (const keys of redis.scanIterator({
        MATCH: `${names.redisKeyPrefix}*`,
        COUNT: 1000,
      }))
        if (keys.length > 0) await redis.unlink(keys);
      await redis.close();
      await pool.end();
      await role.drop();
      await db.drop();
    },
  };
}
