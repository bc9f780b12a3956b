import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createClient } from "redis";
import { dropDatabase } from "../../common/postgres.ts";
import type { BenchRun } from "./run-names.ts";

// What a bench leaves behind is removed here, one way for every bench: its Redis keys (all
// under the run's prefix), its stream and its database. Each step runs even when an earlier
// one failed, and says why it failed: a bench that stops half-way must still not leave a
// database of millions of rows on a shared machine.

/** The smallest Redis client the scan needs: any connected node-redis client is one. */
interface ScanningRedis {
  scanIterator(options: { MATCH: string; COUNT: number }): AsyncIterable<string[]>;
  unlink(keys: string[]): Promise<unknown>;
}

/** UNLINKs every key under `prefix` (SCAN, 1,000 at a time: never KEYS on a shared server). */
export async function unlinkKeysUnder(redis: ScanningRedis, prefix: string): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 }))
    if (keys.length > 0) await redis.unlink(keys);
}

/**
 * Removes the run's stream, Redis keys and (unless `keep`) database, each with a client of
 * its own, logging what could not be removed instead of throwing.
 */
export async function removeBenchRun(
  run: BenchRun,
  log: (line: string) => void,
  options: { keep?: boolean } = {},
): Promise<void> {
  const nc = await connect({ servers: run.natsUrl, name: `${run.names.stream}-cleanup` }).catch(
    (err: unknown) => {
      log(`nats cleanup: ${String(err)}`);
      return null;
    },
  );
  if (nc) {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(run.names.stream).catch(() => false);
    await nc.close();
  }
  const redis = createClient({ url: run.redisUrl });
  try {
    await redis.connect();
    await unlinkKeysUnder(redis, run.names.redisKeyPrefix);
  } catch (err) {
    log(`redis cleanup: ${String(err)}`);
  } finally {
    await redis.close().catch(() => {});
  }
  if (options.keep) log(`kept the database: ${run.databaseUrl}`);
  else
    await dropDatabase(run.databaseUrl).catch((err: unknown) =>
      log(`drop database: ${String(err)}`),
    );
}
