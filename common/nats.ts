import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";

export type { NatsConnection };

/**
 * Connects with unlimited reconnects. `onStatus` sees connected/disconnected so that
 * callers can fail fast (503) instead of waiting for a timeout while NATS is down.
 * One WARN per outage, one INFO when it heals: no log flood while reconnecting.
 * `firstConnectWaitMs`: how long to keep trying while no server answers at all yet.
 */
export async function connectNats(
  url: string,
  name: string,
  logger: Logger,
  onStatus: (connected: boolean) => void = () => {},
  firstConnectWaitMs = 0,
): Promise<NatsConnection> {
  const nc = await connectWithin(url, name, logger, firstConnectWaitMs);
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

/**
 * The first connection, tried again every half second for up to `waitMs` while no server
 * answers: a process started together with NATS (compose, a host booting) waits for it
 * instead of exiting. Once connected, nats.js reconnects by itself for ever.
 */
async function connectWithin(
  url: string,
  name: string,
  logger: Logger,
  waitMs: number,
): Promise<NatsConnection> {
  const deadline = Date.now() + waitMs;
  let warned = false;
  for (;;) {
    try {
      return await connect({
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
    } catch (err) {
      if (Date.now() >= deadline) throw err;
      if (!warned) logger.warn({ err, server: url, waitMs }, "NATS not reachable yet; waiting");
      warned = true;
      await sleep(500);
    }
  }
}

/**
 * A service's NATS connection, drained on shutdown. `onStatus` as for connectNats: a
 * service passes its self-heal check there, since a server it reconnects to may be a new
 * one without its stream.
 */
export async function addNats(
  lifecycle: Lifecycle,
  config: { natsUrl: string; natsConnectWaitMs: number },
  name: string,
  logger: Logger,
  onStatus: (connected: boolean) => void,
): Promise<NatsConnection> {
  return lifecycle.add(
    "nats",
    await connectNats(config.natsUrl, name, logger, onStatus, config.natsConnectWaitMs),
    closeNats,
  );
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
