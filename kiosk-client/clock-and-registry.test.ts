import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { eventually } from "../harness/waiting.ts";
import { createPoll, minutes } from "../test-support/api.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import { listenLocally } from "../test-support/http-listen.ts";
import { startIngestReplica } from "../test-support/ingest.ts";
import { type OutboxApi, startOutboxApi } from "../test-support/outbox-api.ts";
import { TcpProxy } from "../test-support/tcp-proxy.ts";
import { isOutboxError } from "./errors.ts";
import { createOutbox } from "./outbox.ts";
import type { FetchLike } from "./sender.ts";
import { MemoryStore } from "./store-memory.ts";

// No vote lost to a kiosk's clock, or to an API process a moment behind on the registry:
// the Node outbox against the real API, writer and Postgres.

const DAY_MS = 24 * 60 * 60_000;
const OFFLINE_MS = 3_000;

/** A fetch that fails like a network down while `offline.on` is set. */
function switchableFetch(offline: { on: boolean }): FetchLike {
  return (url, init) =>
    offline.on ? Promise.reject(new TypeError("fetch failed")) : fetch(url, init);
}

describe("the outbox and a kiosk clock running fast", () => {
  let api: OutboxApi;

  before(async () => {
    api = await startOutboxApi({ CAST_AT_MAX_SKEW_MS: "60000" });
  });
  after(() => api?.close());

  for (const [name, aheadMs] of [
    ["2 minutes", minutes(2)],
    ["2 days", 2 * DAY_MS],
  ] as const)
    test(`a kiosk ${name} fast, offline then online: every vote stored once, at the true time`, async () => {
      const offline = { on: true };
      const box = createOutbox({
        store: new MemoryStore(),
        apiUrl: api.url,
        token: api.kiosk.token,
        fetch: switchableFetch(offline),
        now: () => Date.now() + aheadMs,
        minBackoffMs: 10,
        maxBackoffMs: 50,
      });
      const before = await api.stored();
      const castAt = new Map<string, number>();
      const enqueue = async () => {
        const at = Date.now();
        const { eventId } = await box.enqueue({ pollId: "lunch", optionId: "pizza" });
        castAt.set(eventId, at);
      };
      // Offline since boot: the server's clock is not known yet.
      for (let i = 0; i < 3; i++) await enqueue();
      assert.equal((await box.flush({ force: true })).error?.code, "network_error");
      // Long enough offline that a vote stored at its receive time (clamped by the server)
      // would be further off its true time than the Date header's resolution allows.
      await sleep(OFFLINE_MS);
      offline.on = false;
      const first = await box.flush({ force: true });
      assert.deepEqual([first.error, first.refused, first.pending], [undefined, 0, 0]);
      // Online: each vote is stamped with the corrected time at once.
      for (let i = 0; i < 3; i++) await enqueue();
      const second = await box.flush({ force: true });
      assert.deepEqual([second.error, second.refused, second.pending], [undefined, 0, 0]);
      assert.deepEqual(await box.refused(), []);

      await api.storedCount(before.rows + 6);
      const { rows } = await api.harness.db.pool.query<{ event_id: string; cast_at: Date }>(
        "select event_id::text, cast_at from votes where event_id = any($1::uuid[])",
        [[...castAt.keys()]],
      );
      assert.equal(rows.length, 6, "each vote stored once");
      for (const r of rows) {
        const offBy = Math.abs(r.cast_at.getTime() - castAt.get(r.event_id)!);
        assert.ok(offBy < 2_000, `castAt of ${r.event_id} is ${offBy} ms off the true time`);
      }
      await box.close();
    });

  test("an outbox that never learned the clock: the server stores its votes at the receive time, never refuses them", async () => {
    // What an older kiosk sends: the device's castAt, 2 days ahead.
    const box = createOutbox({ store: new MemoryStore(), apiUrl: api.url, token: api.kiosk.token });
    const before = await api.stored();
    const ahead = new Date(Date.now() + 2 * DAY_MS).toISOString();
    await box.enqueue({ pollId: "lunch", optionId: "salad", castAt: ahead });
    const result = await box.flush();
    assert.deepEqual([result.error, result.refused, result.pending], [undefined, 0, 0]);
    await api.storedCount(before.rows + 1);
    await box.close();
  });
});

describe("the outbox and an API process a moment behind on the registry", () => {
  let api: OutboxApi;
  let proxy: TcpProxy;
  let replica: Awaited<ReturnType<typeof startIngestReplica>>;
  let replicaUrl: string;
  let closeReplicaServer: () => Promise<void>;

  before(async () => {
    api = await startOutboxApi();
    const pg = new URL(PG_BASE_URL);
    proxy = new TcpProxy(pg.hostname, Number(pg.port || 5432));
    await proxy.up();
    const viaProxy = new URL(api.harness.db.url);
    viaProxy.hostname = "127.0.0.1";
    viaProxy.port = String(proxy.port);
    replica = await startIngestReplica(api.harness, { DATABASE_URL: viaProxy.href });
    const server = await listenLocally(replica.app);
    replicaUrl = server.url;
    closeReplicaServer = server.close;
  });
  after(async () => {
    await closeReplicaServer?.();
    await replica?.close();
    await proxy?.down();
    await api?.close();
  });

  test("a vote for a poll created through another API process a moment earlier is kept, sent again, and stored once", async () => {
    const box = createOutbox({
      store: new MemoryStore(),
      apiUrl: replicaUrl,
      token: api.kiosk.token,
      minBackoffMs: 50,
      maxBackoffMs: 200,
      registryLagRetryMs: 60_000,
    });
    // The replica stops hearing registry changes (its Postgres connections are cut).
    await proxy.down();
    await createPoll(api.harness.app, { id: "late" });
    const { eventId } = await box.enqueue({ pollId: "late", optionId: "yes" });
    const lagging = await box.flush();
    assert.ok(isOutboxError(lagging.error, "registry_lag"), String(lagging.error));
    assert.deepEqual([lagging.refused, lagging.pending], [0, 1]);

    await proxy.up(); // the replica re-LISTENs and catches up
    await eventually(
      "the vote is sent",
      async () => (await box.flush({ force: true })).pending === 0,
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    assert.deepEqual(await box.refused(), []);
    await api.storedCount((await api.stored()).rows);
    await eventually("stored", async () => (await api.stored()).ids.has(eventId), {
      timeoutMs: 30_000,
    });
    const { rows } = await api.harness.db.pool.query("select 1 from votes where event_id = $1", [
      eventId,
    ]);
    assert.equal(rows.length, 1, "stored once");
    await box.close();
  });

  test("a poll that does not exist is refused once the bounded time is over", async () => {
    const box = createOutbox({
      store: new MemoryStore(),
      apiUrl: replicaUrl,
      token: api.kiosk.token,
      minBackoffMs: 10,
      maxBackoffMs: 20,
      registryLagRetryMs: 300,
    });
    await box.enqueue({ pollId: "never", optionId: "yes" });
    assert.equal((await box.flush()).refused, 0);
    await eventually("refused", async () => (await box.flush({ force: true })).refused === 1, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    assert.equal((await box.refused())[0]?.error.code, "poll_not_found");
    await box.close();
  });
});
