import { readCommonConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { createPool } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { formatReconciliation, reconcile } from "./checks/reconcile.ts";
import { readCli } from "./cli.ts";

// `npm run reconcile`: compares every poll's published totals in Redis with a direct
// count over `votes`. Prints each difference; exits 1 if there is any. A poll whose
// results are hidden (after_close) publishes no counts, so it is reported, not compared.
// Run it when the pipeline is idle (or expect differences of at most one interval).

readCli(
  {
    usage: `usage: npm run reconcile
  compares every poll's published totals in Redis with a count over votes; exit 1 on a
  difference
env: DATABASE_URL, REDIS_URL, REDIS_KEY_PREFIX`,
    options: {},
  },
  () => undefined,
);
const config = configOrExit(() => readCommonConfig(process.env));
const logger = createLogger("warn", { service: "reconcile" });
const pool = createPool(config.databaseUrl, logger, { max: 1, applicationName: "reconcile" });
const redis = await connectRedis(config.redisUrl, logger, "reconcile");
try {
  const result = await reconcile(pool, redis, config.redisKeyPrefix);
  process.stdout.write(formatReconciliation(result));
  process.exitCode = result.differences === 0 ? 0 : 1;
} finally {
  await redis.close();
  await pool.end();
}
