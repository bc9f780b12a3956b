// A set of 64-bit lookup keys (people.lookup_key, migration 017: the first 64 bits of
// md5(id)) in one typed array, for the known-people check at 10 million people in 20 bytes
// each at most. Written here rather than taken from npm: the well-kept collections there
// (mnemonist, @rimbu/hashed, data-structure-typed) keep their entries as JavaScript values
// in a Map or Set (~50-80 bytes an entry, more with a BigInt key), index small integers
// (sparse sets over 0..n), or answer "maybe" (Bloom filters: a stranger let in by chance);
// none holds 64-bit keys flat in a typed array and answers exactly.
//
// Open addressing with linear probing over one Uint32Array of [high, low] pairs (8 bytes a
// slot, no per-key object): at a load between 0.47 and 0.7 that is 11.4 to 17 bytes a key.
// The pair (0, 0) marks an empty slot; the key 0 itself is kept apart in a flag. Keys are
// never removed one by one: a school's roster changed is a new set, built from its keys.

/** Above this load a set grows (by GROWTH): a miss probes ~6 slots on average at 0.7. */
const MAX_LOAD = 0.7;
/** 1.5, not 2: the load stays within 0.47-0.7 after a growth (17 bytes a key at worst). */
const GROWTH = 1.5;
/** What a set built for a known count starts at: between the two, so a few adds fit. */
const BUILD_LOAD = 0.6;
const MIN_CAPACITY = 8;

/**
 * Spreads a key over the slots. The keys are md5 bits already, so this is not for their
 * sake but so that keys alike in some bits (equal low halves, say) do not pile up: both
 * halves go through murmur3's 32-bit finaliser.
 */
function mix(high: number, low: number): number {
  let h = (low ^ Math.imul(high, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The slot a hash starts probing at: the hash scaled to [0, capacity) (no modulo). */
function startSlot(hash: number, capacity: number): number {
  return Math.floor((hash * capacity) / 4_294_967_296);
}

export class LookupKeySet {
  /** [high0, low0, high1, low1, …]: capacity pairs. */
  #slots: Uint32Array;
  #capacity: number;
  /** Keys in #slots (the key 0 not counted: it is #hasZero). */
  #used = 0;
  #hasZero = false;

  /** An empty set with room for `expected` keys before it grows. */
  constructor(expected = 0) {
    this.#capacity = Math.max(MIN_CAPACITY, Math.ceil(expected / BUILD_LOAD));
    this.#slots = new Uint32Array(this.#capacity * 2);
  }

  /** A set of `count` keys given as [high, low] pairs (duplicates are one key). */
  static fromPairs(pairs: Uint32Array, count: number): LookupKeySet {
    const set = new LookupKeySet(count);
    for (let i = 0; i < count; i++) set.add(pairs[2 * i]!, pairs[2 * i + 1]!);
    return set;
  }

  /** Keys held. */
  get size(): number {
    return this.#used + (this.#hasZero ? 1 : 0);
  }

  /** Bytes of the slot array: what the set costs beyond a small fixed object. */
  get bytes(): number {
    return this.#slots.byteLength;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** The key as its two unsigned 32-bit halves (a signed half is taken as its bits). */
  has(high: number, low: number): boolean {
    high >>>= 0;
    low >>>= 0;
    if (high === 0 && low === 0) return this.#hasZero;
    const slots = this.#slots;
    const capacity = this.#capacity;
    let i = startSlot(mix(high, low), capacity);
    for (;;) {
      const h = slots[2 * i]!;
      const l = slots[2 * i + 1]!;
      if (h === high && l === low) return true;
      if (h === 0 && l === 0) return false;
      if (++i === capacity) i = 0;
    }
  }

  /**
   * Where the key is held: its slot (0 … capacity − 1), `capacity` for the key 0 (held apart),
   * or -1 if it is not held. Stable while the set does not grow (a set built by fromPairs for
   * its count never does): what a group's members are stored as (group-members.ts).
   */
  slotOf(high: number, low: number): number {
    high >>>= 0;
    low >>>= 0;
    if (high === 0 && low === 0) return this.#hasZero ? this.#capacity : -1;
    const slots = this.#slots;
    const capacity = this.#capacity;
    let i = startSlot(mix(high, low), capacity);
    for (;;) {
      const h = slots[2 * i]!;
      const l = slots[2 * i + 1]!;
      if (h === high && l === low) return i;
      if (h === 0 && l === 0) return -1;
      if (++i === capacity) i = 0;
    }
  }

  /** Adds the key; false if it was there already. */
  add(high: number, low: number): boolean {
    high >>>= 0;
    low >>>= 0;
    if (high === 0 && low === 0) {
      const added = !this.#hasZero;
      this.#hasZero = true;
      return added;
    }
    if (this.#used + 1 > this.#capacity * MAX_LOAD) this.#grow();
    return this.#insert(high, low);
  }

  #insert(high: number, low: number): boolean {
    const slots = this.#slots;
    const capacity = this.#capacity;
    let i = startSlot(mix(high, low), capacity);
    for (;;) {
      const h = slots[2 * i]!;
      const l = slots[2 * i + 1]!;
      if (h === high && l === low) return false;
      if (h === 0 && l === 0) {
        slots[2 * i] = high;
        slots[2 * i + 1] = low;
        this.#used++;
        return true;
      }
      if (++i === capacity) i = 0;
    }
  }

  #grow(): void {
    const old = this.#slots;
    this.#capacity = Math.ceil(this.#capacity * GROWTH);
    this.#slots = new Uint32Array(this.#capacity * 2);
    this.#used = 0;
    for (let i = 0; i < old.length; i += 2) {
      const h = old[i]!;
      const l = old[i + 1]!;
      if (h !== 0 || l !== 0) this.#insert(h, l);
    }
  }
}
