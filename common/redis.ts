import { createClient } from "redis";
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

export async function closeRedis(client: RedisClient): Promise<void> {
  if (!client.isOpen) return;
  try {
    await client.close();
  } catch {
    client.destroy();
  }
}
