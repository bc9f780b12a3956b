import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TimeoutError } from "redis";
import { PrivateRedis } from "../harness/private-redis.ts";
import { eventually } from "../harness/waiting.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { createLogger } from "./logger.ts";
import { closeRedis, connectRedis, type RedisClient, type RedisLiveness } from "./redis.ts";

// REDIS_COMMAND_TIMEOUT_MS bounds a command's wait to be written: behind a backlog of writes
// the connection does not drain (Redis stalled, or the connection gone silent while the
// publisher was writing a run's documents) a command fails with a TimeoutError instead of
// waiting. Each test: a backlog of 20 MB of MULTIs (a big run), then the cause.
//
// Promise: commands fail with a clear error (never hang), the writes in flight end too, a
// silent connection is still replaced (the PING that timed out behind the backlog was never
// sent: it is not an answer), and a stalled Redis that goes on is used again, by itself.

/**
 * As the defaults (5 s each), the command timeout no longer than the PING's deadline; shorter
 * here, so that a command queued at the freeze times out before a PING sent just before it
 * (its answer lost) can have the connection replaced.
 */
const LIVENESS: RedisLiveness = {
  pingIntervalMs: 200,
  pingTimeoutMs: 1_000,
  commandTimeoutMs: 500,
  keepAliveMs: 1_000,
};

/** A run's documents: 200 MULTIs of 100 KB each, more than the kernel's buffers hold. */
function backlog(client: RedisClient, prefix: string): Promise<PromiseSettledResult<unknown>[]> {
  const document = "x".repeat(100_000);
  return Promise.allSettled(
    Array.from({ length: 200 }, (_, i) =>
      client.multi().set(`${prefix}doc:${i}`, document).set(`${prefix}version:${i}`, "1").exec(),
    ),
  );
}

describe("Redis commands behind a backlog of writes (REDIS_COMMAND_TIMEOUT_MS)", () => {
  const prefix = "backpressure:";
  const logger = createLogger(process.env.TEST_LOG_LEVEL ?? "silent");
  let redis: PrivateRedis;
  let direct: RedisClient;
  const clients: RedisClient[] = [];
  const proxies: TcpProxy[] = [];

  before(async () => {
    redis = await PrivateRedis.create();
    direct = await connectRedis(redis.url, logger, "backpressure-direct");
  });
  after(async () => {
    redis?.resume();
    for (const c of clients) c.destroy();
    for (const p of proxies) await p.down();
    await closeRedis(direct);
    await redis?.destroy();
  });

  test("a silent connection with writes backed up: commands time out, then a new connection reads what was written after", async () => {
    const proxy = new TcpProxy("127.0.0.1", redis.port);
    proxies.push(proxy);
    await proxy.up();
    const client = await connectRedis(
      `redis://127.0.0.1:${proxy.port}`,
      logger,
      "backpressure-silent",
      LIVENESS,
    );
    clients.push(client);
    await client.set(`${prefix}value`, "before");
    const connections = proxy.connections;
    proxy.freeze();
    const writes = backlog(client, prefix);
    // Behind the backlog a command is never written: it fails after the command timeout.
    await assert.rejects(client.get(`${prefix}value`), TimeoutError);
    await direct.set(`${prefix}value`, "after");
    // The PING timed out behind the backlog too; taken for an answer, the connection was
    // kept for as long as TCP took to give up on it (~15 min), every command timing out.
    await eventually(
      "the client reads the value written after the freeze",
      async () => (await client.get(`${prefix}value`)) === "after",
      { intervalMs: 200 },
    );
    assert.ok(proxy.connections > connections, "a new connection was opened");
    // The writes in flight on the silent connection failed (their run is retried), none hangs.
    const settled = await writes;
    assert.ok(settled.every((s) => s.status === "rejected"));
  });

  test("Redis stalled (SIGSTOP) under a backlog: commands fail with an error, and once it goes on the client works again by itself", async () => {
    const client = await connectRedis(redis.url, logger, "backpressure-stalled", LIVENESS);
    clients.push(client);
    redis.pause();
    try {
      const writes = backlog(client, `${prefix}stalled:`);
      await assert.rejects(client.get(`${prefix}value`));
      // Still stalled: every try fails, none waits for ever.
      await assert.rejects(client.get(`${prefix}value`));
      redis.resume();
      await eventually(
        "the client reads again once Redis goes on",
        async () => (await client.get(`${prefix}value`)) === "after",
        { intervalMs: 200 },
      );
      // Each write of the run ended, stored or failed: nothing waits on a dead connection.
      assert.equal((await writes).length, 200);
      await client.set(`${prefix}stalled:written`, "yes");
      assert.equal(await direct.get(`${prefix}stalled:written`), "yes");
    } finally {
      redis.resume();
    }
  });
});
