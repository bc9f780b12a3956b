import { createTestDatabase, type TestDatabase } from "./database.ts";
import { testNames } from "./names.ts";
import { TcpProxy } from "./tcp-proxy.ts";

/** A fresh database (its pool direct) and a URL to it through a TcpProxy, to black-hole one connection. */
export interface ProxiedDatabase {
  db: TestDatabase;
  proxy: TcpProxy;
  /** DATABASE_URL through the proxy. */
  urlViaProxy: string;
  /** Stops the proxy (its connections destroyed), then drops the database. */
  close(): Promise<void>;
}

export async function createProxiedDatabase(): Promise<ProxiedDatabase> {
  const db = await createTestDatabase(testNames().database);
  const target = new URL(db.url);
  const proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
  await proxy.up();
  const viaProxy = new URL(db.url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  return {
    db,
    proxy,
    urlViaProxy: viaProxy.toString(),
    async close() {
      await proxy.down();
      await db.drop();
    },
  };
}
