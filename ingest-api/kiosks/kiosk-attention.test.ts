import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { FleetSnapshots, firstAfter } from "../registry/fleet-snapshots.ts";
import {
  type AttentionInput,
  attentionKey,
  attentionKeyOf,
  attentionParts,
  compareAttention,
  isAttentionPart,
} from "./kiosk-attention.ts";

// The fleet's attention order (the one GET /v1/kiosks?sort=attention pages), its cursor
// parts, and the snapshots that let pages and concurrent readers share one sort.

const NOW = Date.parse("2026-12-07T10:00:00Z");
const OFFLINE_MS = 300_000;
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function kiosk(id: string, o: Partial<AttentionInput> & { pending?: number; oldest?: string }) {
  const { pending, oldest, ...rest } = o;
  const status =
    pending === undefined
      ? null
      : {
          pending,
          oldestPendingAt: oldest ?? null,
          lastSentAt: null,
          refused: null,
          appVersion: null,
          persisted: null,
          lastError: null,
          reportedAt: ago(0),
        };
  return { id, revokedAt: null, lastSeenAt: ago(1_000), status, ...rest };
}

describe("the attention order", () => {
  const fleet = [
    kiosk("revoked", { revokedAt: ago(0), pending: 50 }),
    kiosk("never", { lastSeenAt: null }),
    kiosk("online", {}),
    kiosk("offline", { lastSeenAt: ago(OFFLINE_MS + 1) }),
    kiosk("waiting-few", { pending: 2, oldest: ago(60_000) }),
    kiosk("waiting-many", { pending: 40, oldest: ago(1_000) }),
    kiosk("waiting-many-older", { pending: 40, oldest: ago(9_000) }),
    kiosk("offline-waiting", { lastSeenAt: ago(OFFLINE_MS * 3), pending: 1, oldest: ago(1) }),
  ];

  test("offline with votes waiting, votes waiting (most, oldest), offline, online, never seen, revoked", () => {
    const sorted = fleet
      .map((k) => ({ id: k.id, key: attentionKey(k, NOW, OFFLINE_MS) }))
      .sort((a, b) => compareAttention(a.key, b.key))
      .map((k) => k.id);
    assert.deepEqual(sorted, [
      "offline-waiting",
      "waiting-many-older",
      "waiting-many",
      "waiting-few",
      "offline",
      "online",
      "never",
      "revoked",
    ]);
  });

  test("a key survives its cursor parts; a part that is not one is refused", () => {
    for (const k of fleet) {
      const key = attentionKey(k, NOW, OFFLINE_MS);
      const parts = attentionParts(key);
      assert.ok(parts.every(isAttentionPart));
      assert.deepEqual(attentionKeyOf(parts), key);
    }
    assert.equal(isAttentionPart("6", 0), false);
    assert.equal(isAttentionPart("-1", 1), false);
    assert.equal(isAttentionPart("soon", 2), false);
    assert.equal(isAttentionPart("a b", 3), false);
  });

  test("firstAfter finds the kiosk after any key, present or not", () => {
    const sorted = fleet
      .map((listing) => ({ listing, key: attentionKey(listing, NOW, OFFLINE_MS) }))
      .sort((a, b) => compareAttention(a.key, b.key));
    for (const [i, k] of sorted.entries()) assert.equal(firstAfter(sorted, k.key), i + 1);
    // A kiosk gone since: the page goes on from where it would be.
    assert.equal(firstAfter(sorted, [3, 0, Number.POSITIVE_INFINITY, "offlinf"]), 5);
    assert.equal(firstAfter(sorted, [0, 1e9, 0, ""]), 0);
  });
});

describe("FleetSnapshots", () => {
  test("concurrent reads share one load; fresh for ttlMs; clear and a failed load forget it", async () => {
    const snapshots = new FleetSnapshots(60_000);
    let loads = 0;
    const load = async () => {
      loads++;
      return [];
    };
    await Promise.all([snapshots.get(null, undefined, load), snapshots.get(null, undefined, load)]);
    assert.equal(loads, 1);
    await snapshots.get("school-a", undefined, load);
    await snapshots.get(null, "hall", load);
    assert.equal(loads, 3, "one per scope and search");
    snapshots.clear();
    await snapshots.get(null, undefined, load);
    assert.equal(loads, 4);
    const none = async () => {
      loads++;
      return undefined;
    };
    await snapshots.get("school-b", undefined, none);
    await snapshots.get("school-b", undefined, none);
    assert.equal(loads, 6, "without health nothing is kept");
    await assert.rejects(
      snapshots.get("school-c", undefined, () => Promise.reject(new Error("down"))),
    );
    await snapshots.get("school-c", undefined, load);
    assert.equal(loads, 7, "a failed load is not kept");
  });

  test("ttlMs 0: every read loads", async () => {
    const snapshots = new FleetSnapshots(0);
    let loads = 0;
    const load = async () => {
      loads++;
      return [];
    };
    await snapshots.get(null, undefined, load);
    await snapshots.get(null, undefined, load);
    assert.equal(loads, 2);
  });
});
