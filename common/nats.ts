import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./logger.ts";

export type { NatsConnection };

/**
 * Connects with unlimited reconnects. `onStatus` sees connected/disconnected so that
 * callers can fail fast (503) instead of waiting for a timeout while NATS is down.
 * One WARN per outage, one INFO when it heals: no log flood while reconnecting.
 */
export async function connectNats(
  url: string,
  name: string,
  logger: Logger,
  onStatus: (connected: boolean) => void = () => {},
): Promise<NatsConnection> {
  const nc = await connect({
    servers: url.split(","),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    pingInterval: 10_000,
    // nats.js otherwise builds two Error objects (stack capture) per request, only to give
    // a failed request our caller's stack: measured as ~20 % of the API's CPU per vote.
    // Our callers wrap NATS failures in errors of their own, with the NATS error as cause.
    noAsyncTraces: true,
  });
  (async () => {
    for await (const status of nc.status()) {
      if (status.type === "disconnect") {
        onStatus(false);
        logger.warn({ server: url }, "NATS disconnected; reconnecting");
      } else if (status.type === "reconnect") {
        onStatus(true);
        logger.info({ server: url }, "NATS reconnected");
      } else if (status.type === "error") {
        logger.warn({ err: status.error }, "NATS error");
      }
    }
  })().catch((err: unknown) => logger.warn({ err }, "NATS status loop ended"));
  return nc;
}

/** Drains (flushes what is pending, stops subscriptions) and closes. */
export async function closeNats(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  try {
    await nc.drain();
  } catch {
    await nc.close();
  }
}
