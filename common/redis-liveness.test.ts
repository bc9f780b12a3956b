import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../harness/waiting.ts";
import { testNames } from "../test-support/names.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { createLogger } from "./logger.ts";
import { closeRedis, connectRedis, type RedisClient, type RedisLiveness } from "./redis.ts";

// A Redis connection whose peer went silent (a partition: no FIN, no RST) reports no
// error: commands time out one by one on it, and a subscriber hears nothing for ever. Each
// client must notice (an unanswered PING) and open a new connection.

/** A command still waiting after this counts as "not yet": a silent connection never answers. */
const ATTEMPT_MS = 2_000;

function within<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ATTEMPT_MS} ms`)), ATTEMPT_MS);
    }),
  ]).finally(() => clearTimeout(timer));
}

const LIVENESS: RedisLiveness = {
  pingIntervalMs: 200,
  pingTimeoutMs: 500,
  commandTimeoutMs: 5_000,
  keepAliveMs: 1_000,
};

describe("Redis clients over a black-holed connection", () => {
  const prefix = testNames().redisKeyPrefix;
  const logger = createLogger("silent");
  let proxy: TcpProxy;
  let direct: RedisClient;
  const clients: RedisClient[] = [];
  const viaProxy = async (name: string) => {
    const client = await connectRedis(`redis://127.0.0.1:${proxy.port}`, logger, name, LIVENESS);
    clients.push(client);
    return client;
  };

  before(async () => {
    proxy = new TcpProxy("127.0.0.1", 6379);
    await proxy.up();
    direct = await connectRedis("redis://127.0.0.1:6379", logger, "liveness-test-direct");
  });
  after(async () => {
    // destroy, not close: close would wait for the answers a silent connection never sends.
    for (const c of clients) c.destroy();
    await direct?.del(`${prefix}value`);
    await closeRedis(direct);
    await proxy?.down();
  });

  test("a command client: once the connection goes silent, a value written after it is read on a new connection", async () => {
    const client = await viaProxy("liveness-test-commands");
    await client.set(`${prefix}value`, "before");
    const connections = proxy.connections;
    proxy.freeze();
    await direct.set(`${prefix}value`, "after");
    const value = await eventually(
      "the client reads the value written after the freeze",
      async () => ((await within(client.get(`${prefix}value`))) === "after" ? "after" : undefined),
    );
    assert.equal(value, "after");
    assert.ok(proxy.connections > connections, "a new connection was opened");
  });

  test("a subscriber: once the connection goes silent, it subscribes again on a new connection and hears later messages", async () => {
    const subscriber = await viaProxy("liveness-test-subscriber");
    const channel = `${prefix}announcements`;
    const heard: string[] = [];
    await subscriber.subscribe(channel, (message) => heard.push(message));
    await eventually("a message before the freeze is heard", async () => {
      await direct.publish(channel, "before");
      return heard.includes("before");
    });
    const connections = proxy.connections;
    proxy.freeze();
    await eventually(
      "a message published after the freeze is heard",
      async () => {
        await direct.publish(channel, "after");
        return heard.includes("after");
      },
      { intervalMs: 200 },
    );
    assert.ok(proxy.connections > connections, "a new connection was opened");
  });

  test("a live connection of a busy process is kept: an answer that came while the loop was blocked is not silence", async () => {
    // Straight to Redis: the proxy runs in this process, and would be blocked too.
    const client = await connectRedis(
      "redis://127.0.0.1:6379",
      logger,
      "liveness-test-busy",
      LIVENESS,
    );
    clients.push(client);
    let connects = 0;
    client.on("connect", () => connects++);
    // Each PING is followed by a synchronous run longer than the deadline (a publisher
    // building thousands of documents at once): the answer arrives meanwhile, in the socket,
    // and the deadline's timer fires late. Three PINGs in a row.
    const ping = client.ping.bind(client);
    let blocked = 0;
    (client as { ping: typeof client.ping }).ping = (() => {
      const answer = ping();
      if (blocked < 3) {
        blocked++;
        setImmediate(() => {
          const until = Date.now() + LIVENESS.pingTimeoutMs * 2;
          while (Date.now() < until);
        });
      }
      return answer;
    }) as typeof client.ping;
    await eventually("three PINGs were followed by a blocked loop", async () => blocked === 3);
    await new Promise((resolve) => setTimeout(resolve, LIVENESS.pingIntervalMs * 3));
    assert.equal(connects, 0, "the connection was not replaced");
    await client.set(`${prefix}busy`, "alive");
    assert.equal(await within(client.get(`${prefix}busy`)), "alive");
    await client.del(`${prefix}busy`);
  });
});
