import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Lifecycle } from "./lifecycle.ts";
import type { Pool } from "./postgres.ts";

/**
 * A tiny HTTP server for services without an API: GET /metrics and GET /healthz. It listens
 * on `host`, 127.0.0.1 unless configured otherwise: the metrics are for the operator's
 * scraper, not for the internet.
 */
export async function startMetricsServer(
  registry: Registry,
  listenOn: { port: number; host: string },
  ready: () => Promise<boolean>,
): Promise<{ server: Server; port: number }> {
  const server = createServer(async (req, res) => {
    if (req.url === "/metrics") {
      res.setHeader("Content-Type", registry.contentType);
      res.end(await registry.metrics());
    } else if (req.url === "/healthz") {
      const ok = await ready().catch(() => false);
      res.statusCode = ok ? 200 : 503;
      res.setHeader("Content-Type", "application/json");
      res.end(JSON.stringify({ status: ok ? "ok" : "not_ready" }));
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(listenOn.port, listenOn.host, () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * A service's metrics server, registered with its lifecycle (closed in reverse order with
 * the rest), on METRICS_PORT / METRICS_HOST. Port 0 means none: returns undefined.
 * Otherwise the port it listens on. /healthz says ready while Postgres answers and the
 * service's other connection (NATS, Redis) is `connected`: a service works only with both.
 */
export async function addMetricsServer(
  lifecycle: Lifecycle,
  registry: Registry,
  config: { metricsPort: number; metricsHost: string },
  ready: { pool: Pool; connected: () => boolean },
): Promise<number | undefined> {
  if (config.metricsPort <= 0) return undefined;
  const listenOn = { port: config.metricsPort, host: config.metricsHost };
  const started = await startMetricsServer(registry, listenOn, async () => {
    await ready.pool.query("select 1");
    return ready.connected();
  });
  lifecycle.add(
    "metrics-server",
    started.server,
    (s) => new Promise<void>((r) => s.close(() => r())),
  );
  return started.port;
}
