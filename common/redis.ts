import { createClient, TimeoutError } from "redis";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";

/** How a service's Redis connections find out that Redis stopped answering. */
export interface RedisLiveness {
  /** How often an otherwise idle or busy connection is asked to PING (REDIS_PING_INTERVAL_MS). */
  pingIntervalMs: number;
  /** A PING not answered within this means the connection is gone silent (REDIS_PING_TIMEOUT_MS). */
  pingTimeoutMs: number;
  /** Idle time before TCP keepalive probes (REDIS_KEEPALIVE_MS): a dead host is found by the kernel. */
  keepAliveMs: number;
  /**
   * How long a command may wait to be written to the connection (REDIS_COMMAND_TIMEOUT_MS;
   * node-redis's own bound, 5 s by default, said here so that it is a setting): behind a
   * large batch of writes on a slow socket, a command fails with a TimeoutError after it.
   */
  commandTimeoutMs: number;
}

function newClient(url: string, name: string, liveness: RedisLiveness | undefined) {
  return createClient({
    url,
    name,
    disableOfflineQueue: true,
    ...(liveness === undefined ? {} : { commandOptions: { timeout: liveness.commandTimeoutMs } }),
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
      ...(liveness === undefined
        ? {}
        : { keepAlive: true, keepAliveInitialDelay: liveness.keepAliveMs }),
    },
  });
}

export type RedisClient = ReturnType<typeof newClient>;

/**
 * A client that fails fast while Redis is down (no offline queue: a caller gets an error
 * at once and can answer 503, instead of a request hanging until Redis returns) and
 * reconnects on its own with capped backoff. One WARN per outage. With `liveness`, a
 * connection gone silent is replaced too (watchSilence).
 */
export async function connectRedis(
  url: string,
  logger: Logger,
  name: string,
  liveness?: RedisLiveness,
): Promise<RedisClient> {
  let down = false;
  const client = newClient(url, name, liveness);
  client.on("error", (err: unknown) => {
    if (!down) logger.warn({ err }, "Redis unavailable; reconnecting");
    down = true;
  });
  client.on("ready", () => {
    if (down) logger.info("Redis reconnected");
    down = false;
  });
  await client.connect();
  if (liveness !== undefined) watchSilence(client, liveness, logger);
  return client;
}

/**
 * node-redis reconnects when its socket reports an error or closes, but a peer gone silent
 * (a partition, a host gone without a FIN or RST) does neither: every command waits on the
 * same connection for ever (node-redis's command timeout only covers the wait to be
 * written, not for the answer), and a subscriber, which sends nothing, hears nothing for
 * ever. Its own pingInterval waits for the answer without a bound, and socketTimeout is
 * reset by every write. So a PING with a deadline: unanswered, the connection is destroyed
 * (the commands waiting on it fail at once) and opened again on the same client object.
 * Subscriptions survive this (node-redis keeps its listeners and subscribes again on the
 * new connection), and 'ready' is emitted as after any reconnect, for whoever must catch
 * up on what was missed.
 */
/**
 * A deadline for an answer from Redis: `expire` runs `ms` from now, but only after the loop
 * has read what arrived meanwhile (setImmediate runs after the poll phase). In a process
 * busy for longer than the deadline (a run building thousands of documents at once) the
 * timer fires late, before the socket is read, and an answer waiting there is not silence.
 * Clearing the returned timer before it fires cancels `expire`.
 */
export function afterPendingReads(ms: number, expire: () => void): NodeJS.Timeout {
  return setTimeout(() => setImmediate(expire), ms);
}

function watchSilence(client: RedisClient, liveness: RedisLiveness, logger: Logger): void {
  const schedule = () => setTimeout(check, liveness.pingIntervalMs).unref();
  const check = async () => {
    if (!client.isOpen) return; // closed for good: the watch ends with the client
    if (!client.isReady) return schedule(); // node-redis is reconnecting on its own
    let deadline: NodeJS.Timeout | undefined;
    const expired = new Promise<boolean>((resolve) => {
      deadline = afterPendingReads(liveness.pingTimeoutMs, () => resolve(true)).unref();
    });
    const silent = await Promise.race([
      client.ping().then(
        () => false,
        // An error is an answer too: node-redis reacts to a failing socket itself. Not its
        // command timeout (REDIS_COMMAND_TIMEOUT_MS): that PING waited behind writes the
        // connection did not drain and was never sent. Taken for an answer, a connection
        // gone silent under a backlog (a publisher's run of documents) was never replaced:
        // every command timed out until TCP gave up, ~15 min. The deadline decides.
        (err: unknown) => (err instanceof TimeoutError ? expired : false),
      ),
      expired,
    ]);
    clearTimeout(deadline);
    if (silent && client.isOpen) {
      logger.warn(
        { pingTimeoutMs: liveness.pingTimeoutMs },
        "Redis did not answer a PING; replacing the connection",
      );
      client.destroy();
      // connect() retries with the reconnect strategy until Redis answers, or close().
      await client.connect().catch(() => {});
    }
    schedule();
  };
  schedule();
}

/**
 * A service's client (connectRedis), registered with its lifecycle as `resource` so that it
 * is closed in reverse order with the rest.
 */
export async function addRedis(
  lifecycle: Lifecycle,
  url: string,
  logger: Logger,
  name: string,
  liveness: RedisLiveness,
  resource = "redis",
): Promise<RedisClient> {
  return lifecycle.add(resource, await connectRedis(url, logger, name, liveness), closeRedis);
}

export async function closeRedis(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    await client.close();
  } catch {
    client.destroy();
  }
}
