import { createClient } from "redis";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";

function newClient(url: string, name: string) {
  return createClient({
    url,
    name,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 2_000,
      reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 2_000),
    },
  });
}

export type RedisClient = ReturnType<typeof newClient>;

/**
 * A client that fails fast while Redis is down (no offline queue: a caller gets an error
 * at once and can answer 503, instead of a request hanging until Redis returns) and
 * reconnects on its own with capped backoff. One WARN per outage.
 */
export async function connectRedis(
  url: string,
  logger: Logger,
  name: string,
): Promise<RedisClient> {
  let down = false;
  const client = newClient(url, name);
  client.on("error", (err: unknown) => {
    if (!down) logger.warn({ err }, "Redis unavailable; reconnecting");
    down = true;
  });
  client.on("ready", () => {
    if (down) logger.info("Redis reconnected");
    down = false;
  });
  await client.connect();
  return client;
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
  resource = "redis",
): Promise<RedisClient> {
  return lifecycle.add(resource, await connectRedis(url, logger, name), closeRedis);
}

export async function closeRedis(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    await client.close();
  } catch {
    client.destroy();
  }
}
