import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Lifecycle } from "./lifecycle.ts";

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
 * the rest). Port 0 means none: returns undefined. Otherwise the port it listens on.
 */
export async function addMetricsServer(
  lifecycle: Lifecycle,
  registry: Registry,
  listenOn: { port: number; host: string },
  ready: () => Promise<boolean>,
): Promise<number | undefined> {
  if (listenOn.port <= 0) return undefined;
  const started = await startMetricsServer(registry, listenOn, ready);
  lifecycle.add(
    "metrics-server",
    started.server,
    (s) => new Promise<void>((r) => s.close(() => r())),
  );
  return started.port;
}
