import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../common/logger.ts";
import type { ListenLiveness } from "../../common/postgres.ts";
import { eventually } from "../../harness/waiting.ts";
import {
  createProxiedDatabase,
  type ProxiedDatabase,
} from "../../test-support/proxied-database.ts";
import { RegistryCache } from "./registry-cache.ts";
import { pollsInserted } from "./registry-changes.ts";

// The registry cache hears changes on a LISTEN connection. Gone silent (a partition: no
// FIN, no RST), that connection reports nothing and hears nothing: the cache must notice,
// LISTEN on a new connection and catch up on what it missed. The periodic reload is pushed
// out to 10 minutes so that only a new LISTEN connection can make this pass.

const LIVENESS: ListenLiveness = { checkIntervalMs: 200, checkTimeoutMs: 500, keepAliveMs: 1_000 };

describe("the registry cache's LISTEN connection gone silent", () => {
  let pg: ProxiedDatabase;
  let cache: RegistryCache;
  const addPoll = async (id: string) => {
    await pg.db.pool.query(
      `with p as (insert into polls (id, slug, title) values ($1, $1, $1))
       insert into poll_options (poll_id, id, label, position) values ($1, 'a', 'A', 1)`,
      [id],
    );
    await pollsInserted(pg.db.pool, [id]);
  };

  before(async () => {
    pg = await createProxiedDatabase();
    // Loads go through the pool, directly: only the LISTEN connection is black-holed.
    cache = new RegistryCache(
      pg.db.pool,
      pg.urlViaProxy,
      600_000,
      createLogger("silent"),
      LIVENESS,
    );
    await cache.start();
  });
  after(async () => {
    cache?.stop();
    await pg?.close();
  });

  test("a poll created after the freeze is seen once the connection is replaced, and later ones by NOTIFY", async () => {
    await eventually("the cache listens", () => cache.ageMs === 0);
    await addPoll("before");
    await eventually("a poll created before the freeze is seen", () => cache.poll("before"));
    const connections = pg.proxy.connections;
    pg.proxy.freeze();
    await addPoll("after");
    await eventually("a poll created after the freeze is seen", () => cache.poll("after"));
    assert.ok(pg.proxy.connections > connections, "a new LISTEN connection was opened");
    await addPoll("later");
    await eventually("a poll created on the new connection's watch is seen", () =>
      cache.poll("later"),
    );
  });
});
