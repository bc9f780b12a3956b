import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { LookupKeySet } from "./lookup-key-set.ts";

// The known-people set's table: exact answers whatever the keys look like, and its size
// (bytes a key) within what bench:roster-memory holds it to.

/** A key from a counter: md5's first 64 bits, as people.lookup_key is. */
function keyOf(i: number): [number, number] {
  const d = createHash("md5").update(`person-${i}`).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

describe("LookupKeySet", () => {
  test("add and has; a key added twice is one", () => {
    const set = new LookupKeySet();
    assert.equal(set.has(1, 2), false);
    assert.equal(set.add(1, 2), true);
    assert.equal(set.add(1, 2), false);
    assert.equal(set.has(1, 2), true);
    assert.equal(set.has(2, 1), false, "the halves are not interchangeable");
    assert.equal(set.has(1, 3), false);
    assert.equal(set.size, 1);
  });

  test("the key 0 (the empty slot's pattern) and the largest key are keys like any other", () => {
    const set = new LookupKeySet();
    assert.equal(set.has(0, 0), false);
    set.add(0, 0);
    assert.equal(set.has(0, 0), true);
    assert.equal(set.add(0, 0), false);
    set.add(0xffffffff, 0xffffffff);
    assert.equal(set.has(0xffffffff, 0xffffffff), true);
    // Signed halves (as readInt32BE gives them) are the same bits.
    assert.equal(set.has(-1, -1), true);
    assert.equal(set.size, 2);
  });

  test("grows by 1.5 and keeps every key; the load stays within 0.47-0.7 past the first growths", () => {
    const set = new LookupKeySet();
    const capacities = new Set<number>();
    for (let i = 0; i < 50_000; i++) {
      const [h, l] = keyOf(i);
      set.add(h, l);
      capacities.add(set.capacity);
      if (set.size >= 100) {
        const load = set.size / set.capacity;
        assert.ok(load > 0.46 && load <= 0.7, `load ${load} at ${set.size} keys`);
      }
    }
    assert.ok(capacities.size > 10, "it grew");
    const sorted = [...capacities].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++)
      assert.equal(sorted[i], Math.ceil(sorted[i - 1]! * 1.5));
    for (let i = 0; i < 50_000; i++) assert.ok(set.has(...keyOf(i)), `key ${i}`);
    for (let i = 50_000; i < 60_000; i++) assert.equal(set.has(...keyOf(i)), false);
    assert.equal(set.size, 50_000);
  });

  test("many keys built from pairs: all found, none invented, at most 17 bytes a key", () => {
    const n = 200_000;
    const pairs = new Uint32Array(2 * n);
    for (let i = 0; i < n; i++) [pairs[2 * i], pairs[2 * i + 1]] = keyOf(i);
    const set = LookupKeySet.fromPairs(pairs, n);
    assert.equal(set.size, n);
    for (let i = 0; i < n; i++) assert.ok(set.has(pairs[2 * i]!, pairs[2 * i + 1]!));
    let found = 0;
    for (let i = n; i < 2 * n; i++) if (set.has(...keyOf(i))) found++;
    assert.equal(found, 0);
    const perKey = set.bytes / n;
    assert.ok(perKey <= 17.1 && perKey >= 11.4, `${perKey} bytes a key`);
  });

  test("keys alike in their low half (or their high half) are told apart and spread", () => {
    const set = new LookupKeySet();
    const n = 20_000;
    for (let i = 1; i <= n; i++) set.add(i, 0x12345678); // one low half for all
    for (let i = 1; i <= n; i++) set.add(0xabcdef01, i * 65_536); // one high half, low 16 bits 0
    assert.equal(set.size, 2 * n);
    for (let i = 1; i <= n; i++) {
      assert.ok(set.has(i, 0x12345678));
      assert.ok(set.has(0xabcdef01, i * 65_536));
    }
    assert.equal(set.has(n + 1, 0x12345678), false);
    assert.equal(set.has(0x12345678, 1), false);
    assert.equal(set.has(0xabcdef01, 1), false);
    // Spread: linear probing over a well-mixed table finds a key in a couple of probes;
    // these lookups take as long as md5 keys' (a pile-up would make them ~1,000× slower).
    const started = performance.now();
    for (let round = 0; round < 10; round++) for (let i = 1; i <= n; i++) set.has(i, 0x12345678);
    const ms = performance.now() - started;
    assert.ok(ms < 2_000, `200,000 lookups of alike keys took ${ms.toFixed(0)} ms`);
  });
});
