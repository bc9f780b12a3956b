import { createServer, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface LocalServer {
  server: Server;
  /** http://127.0.0.1:<port> */
  url: string;
  /** Stops listening and ends every connection (open event streams would hold it forever). */
  close(): Promise<void>;
}

/**
 * An app (Express or any request listener) on 127.0.0.1 and a free port, for clients that
 * need a real socket: fetch, EventSource, a browser, a child process.
 */
export async function listenLocally(app: RequestListener): Promise<LocalServer> {
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
