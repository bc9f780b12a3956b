import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../common/logger.ts";
import type { ListenLiveness } from "../common/postgres.ts";
import { eventually } from "../harness/waiting.ts";
import { notifyRegistryRows, pollsInserted } from "../ingest-api/registry/registry-changes.ts";
import { createProxiedDatabase, type ProxiedDatabase } from "../test-support/proxied-database.ts";
import { RegistryWatch } from "./registry-watch.ts";

// The publisher reads the registry only when its LISTEN connection says it changed (or no
// LISTEN works). Gone silent (a partition: no FIN, no RST), that connection reports nothing
// and hears nothing: a change would go unpublished until the 5-minute resync. The watch
// must notice and mark the registry stale.

const LIVENESS: ListenLiveness = { checkIntervalMs: 200, checkTimeoutMs: 500, keepAliveMs: 1_000 };

describe("the publisher's registry LISTEN connection gone silent", () => {
  let pg: ProxiedDatabase;
  let watch: RegistryWatch;
  /** A poll created as the API's store does: the row, then its notification. */
  const addPoll = async (id: string) => {
    await pg.db.pool.query("insert into polls (id, slug, title) values ($1, $1, $1)", [id]);
    await pollsInserted(pg.db.pool, [id]);
  };

  before(async () => {
    pg = await createProxiedDatabase();
    watch = new RegistryWatch(pg.urlViaProxy, createLogger("silent"), LIVENESS);
  });
  after(async () => {
    // The proxy first: ending a client on a silent connection waits for an answer.
    await pg?.proxy.down();
    await watch?.close();
    await pg?.close();
  });

  test("a poll created after the freeze makes the next run read the registry, and later ones too", async () => {
    await eventually("the watch listens, nothing changed", () => watch.takeStale() === false);
    await addPoll("before");
    await eventually("a change before the freeze is heard", () => watch.takeStale());
    // One change may be told more than once (a row's notice and its table's): settle first.
    await eventually("every notice of that change is taken", () => !watch.takeStale());
    const connections = pg.proxy.connections;
    pg.proxy.freeze();
    await addPoll("after");
    await eventually("a change after the freeze is seen", () => watch.takeStale());
    await eventually("the new connection listens, nothing changed", () => !watch.takeStale());
    assert.ok(pg.proxy.connections > connections, "a new LISTEN connection was opened");
    await addPoll("later");
    await eventually("a change on the new connection is heard", () => watch.takeStale());
  });

  test("a kiosk's change does not make a run read the registry; a poll option's does", async () => {
    await eventually("the watch listens, nothing changed", () => !watch.takeStale());
    await notifyRegistryRows(pg.db.pool, "kiosks", ["kiosk-1", "kiosk-2"]);
    // A notification arrives within milliseconds here: 300 ms is time for it to have marked
    // the registry stale, had it.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(watch.takeStale(), false, "a kiosk's change marked the registry stale");
    await notifyRegistryRows(pg.db.pool, "poll_options", ["before"]);
    await eventually("an option's change is heard", () => watch.takeStale());
  });
});
