import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eventually } from "../harness/waiting.ts";
import { createTestDatabase, type TestDatabase } from "../test-support/database.ts";
import { testNames } from "../test-support/names.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { createLogger } from "./logger.ts";
import { createPool, type Pool } from "./postgres.ts";

// A pool connection whose peer went silent (a partition: no FIN, no RST) must not hold its
// caller for ever: the query fails at PG_QUERY_TIMEOUT_MS and the next one gets a new
// connection.

const QUERY_TIMEOUT_MS = 1_000;

describe("a Postgres pool over a black-holed connection", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let pool: Pool;

  before(async () => {
    db = await createTestDatabase(testNames().database);
    const target = new URL(db.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.up();
    const url = new URL(db.url);
    url.host = `127.0.0.1:${proxy.port}`;
    pool = createPool(url.toString(), createLogger("silent"), {
      max: 1,
      applicationName: "liveness-test",
      queryTimeoutMs: QUERY_TIMEOUT_MS,
      keepAliveMs: 1_000,
    });
  });
  after(async () => {
    await pool?.end().catch(() => {});
    await proxy?.down();
    await db?.drop();
  });

  test("the query fails within the timeout, and the pool replaces the connection", async () => {
    assert.equal((await pool.query<{ one: number }>("select 1 as one")).rows[0]!.one, 1);
    const connections = proxy.connections;
    proxy.freeze();
    const started = Date.now();
    await assert.rejects(pool.query("select 1"), /timeout/i);
    // A generous bound: the outcome is under test, not the speed of a loaded machine.
    assert.ok(Date.now() - started < 20_000, `failed after ${Date.now() - started} ms`);
    const answer = await eventually("a query is answered on a new connection", async () =>
      (await pool.query<{ one: number }>("select 1 as one")).rows[0]!.one === 1 ? true : undefined,
    );
    assert.equal(answer, true);
    assert.ok(proxy.connections > connections, "a new connection was opened");
  });
});
