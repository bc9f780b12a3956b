import type { Server } from "node:http";

/**
 * A reference server of the benches listens as the API does, and on SIGTERM or SIGINT stops
 * and exits once `release` (its NATS or Redis connection) has let go.
 */
export function listenUntilStopped(
  server: Server,
  port: number,
  release: () => Promise<unknown>,
): void {
  server.keepAliveTimeout = 65_000; // as the API, so neither closes idle bench connections
  server.listen(port, "127.0.0.1");
  const stop = () => {
    server.close();
    server.closeIdleConnections();
    release().finally(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
}
