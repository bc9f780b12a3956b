import { setTimeout as sleep } from "node:timers/promises";
import { AuthorizationError, connect, type NatsConnection } from "@nats-io/transport-node";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";
import { type NatsAuth, natsConnectAuth } from "./nats-auth.ts";

export type { NatsConnection };

export interface ConnectNatsOptions {
  /** Sees connected/disconnected. */
  onStatus?: (connected: boolean) => void;
  /** How long to keep trying while no server answers at all yet. @defaultValue 0 */
  firstConnectWaitMs?: number;
}

/**
 * Connects as `auth`'s user with unlimited reconnects. `onStatus` sees connected/disconnected
 * so that callers can fail fast (503) instead of waiting for a timeout while NATS is down.
 * One WARN per outage, one INFO when it heals: no log flood while reconnecting. A wrong
 * password fails here, as a configuration error would.
 */
export async function connectNats(
  url: string,
  name: string,
  auth: NatsAuth,
  logger: Logger,
  { onStatus = () => {}, firstConnectWaitMs = 0 }: ConnectNatsOptions = {},
): Promise<NatsConnection> {
  const nc = await connectWithin(url, name, auth, logger, firstConnectWaitMs);
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
  auth: NatsAuth,
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
        ...natsConnectAuth(auth),
        maxReconnectAttempts: -1,
        reconnectTimeWait: 500,
        pingInterval: 10_000,
        // nats.js otherwise builds two Error objects (stack capture) per request, only to give
        // a failed request our caller's stack: measured as ~20 % of the API's CPU per vote.
        // Our callers wrap NATS failures in errors of their own, with the NATS error as cause.
        noAsyncTraces: true,
      });
    } catch (err) {
      // A refused login is not a server still starting: waiting would not change it.
      if (Date.now() >= deadline || err instanceof AuthorizationError) throw err;
      if (!warned) logger.warn({ err, server: url, waitMs }, "NATS not reachable yet; waiting");
      warned = true;
      await sleep(500);
    }
  }
}

/**
 * The server tells whether it checks who connects. When it does not, anyone who reaches it
 * can publish votes or purge the stream (docs/operations.md, "NATS users"); when it does and
 * this process logs in with the public development password, so can anyone who read it.
 */
function warnAboutAuth(nc: NatsConnection, auth: NatsAuth, logger: Logger): void {
  if (nc.info?.auth_required !== true)
    logger.warn(
      "the NATS server lets anyone in: run it with docs/nats/accounts.conf (docs/operations.md)",
    );
  else if (auth.passwordIsDefault)
    logger.warn(
      { user: auth.user },
      `using the development NATS password (set ${auth.passwordVariable})`,
    );
}

/**
 * A service's NATS connection, drained on shutdown. `onStatus` as for connectNats: a
 * service passes its self-heal check there, since a server it reconnects to may be a new
 * one without its stream. The service warns at start when NATS does not keep others out.
 */
export async function addNats(
  lifecycle: Lifecycle,
  config: { natsUrl: string; natsConnectWaitMs: number; natsAuth: NatsAuth },
  name: string,
  logger: Logger,
  onStatus: (connected: boolean) => void,
): Promise<NatsConnection> {
  const nc = await connectNats(config.natsUrl, name, config.natsAuth, logger, {
    onStatus,
    firstConnectWaitMs: config.natsConnectWaitMs,
  });
  warnAboutAuth(nc, config.natsAuth, logger);
  return lifecycle.add("nats", nc, closeNats);
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
