import type { LookupKeySet } from "./lookup-key-set.ts";

// A school's groups' members as the known people hold them (a lesson register's check:
// known-people.ts `inGroup`), for the schools with a register. Not a key table per group
// (8 bytes a slot at a load of 0.47-0.7, 12-17 bytes a membership, plus each table's
// object): each member is the slot its key already has in the school's own table
// (LookupKeySet.slotOf), so a membership is one small integer — 2 bytes while the school's
// table has at most 65,535 slots (a school of up to ~39,000 people), else 4 — and every
// group of the school shares one array: the members of group n are members[offsets[n] …
// offsets[n + 1]), sorted, found by binary search (a group of 30: five comparisons after the
// school's probe). `npm run bench:roster-memory -- --groups N` measures it.

/** The slots of a school's table fit in a Uint16Array below this capacity (+1: the key 0's). */
const UINT16_SLOTS = 65_535;

export class GroupMembers {
  readonly #ordinals: Map<string, number>;
  readonly #offsets: Uint32Array;
  readonly #members: Uint16Array | Uint32Array;

  constructor(
    ordinals: Map<string, number>,
    offsets: Uint32Array,
    members: Uint16Array | Uint32Array,
  ) {
    this.#ordinals = ordinals;
    this.#offsets = offsets;
    this.#members = members;
  }

  /** Whether the person held at `slot` of the school's table (slotOf) is in the group. */
  has(groupId: string, slot: number): boolean {
    const n = this.#ordinals.get(groupId);
    if (n === undefined || slot < 0) return false;
    const members = this.#members;
    let lo = this.#offsets[n]!;
    let hi = this.#offsets[n + 1]!;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const m = members[mid]!;
      if (m === slot) return true;
      if (m < slot) lo = mid + 1;
      else hi = mid;
    }
    return false;
  }

  /** Groups held. */
  get groups(): number {
    return this.#ordinals.size;
  }

  /** Bytes of the two arrays (the group ids' map is not counted, as a table's object is not). */
  get bytes(): number {
    return this.#offsets.byteLength + this.#members.byteLength;
  }

  /** Collects a school's groups (as their keys arrive), then builds them against its table. */
  static builder(school: LookupKeySet): GroupMembersBuilder {
    return new GroupMembersBuilder(school);
  }
}

export class GroupMembersBuilder {
  readonly #school: LookupKeySet;
  readonly #groups: { id: string; slots: Uint32Array }[] = [];
  #total = 0;

  constructor(school: LookupKeySet) {
    this.#school = school;
  }

  /**
   * A group's members as [high, low] key pairs (the reader's buffer: read now, not kept).
   * A key the school's table does not hold is not a member (both are read in one COPY, so
   * there is none).
   */
  add(groupId: string, pairs: Uint32Array, count: number): void {
    const slots = new Uint32Array(count);
    let n = 0;
    for (let i = 0; i < count; i++) {
      const slot = this.#school.slotOf(pairs[2 * i]!, pairs[2 * i + 1]!);
      if (slot >= 0) slots[n++] = slot;
    }
    const sorted = slots.subarray(0, n).sort();
    // Duplicates (a key twice in the rows) are one member.
    let unique = 0;
    for (let i = 0; i < sorted.length; i++)
      if (i === 0 || sorted[i] !== sorted[i - 1]) sorted[unique++] = sorted[i]!;
    this.#groups.push({ id: groupId, slots: sorted.subarray(0, unique) });
    this.#total += unique;
  }

  build(): GroupMembers {
    const ordinals = new Map<string, number>();
    const offsets = new Uint32Array(this.#groups.length + 1);
    const members =
      this.#school.capacity + 1 <= UINT16_SLOTS
        ? new Uint16Array(this.#total)
        : new Uint32Array(this.#total);
    let at = 0;
    for (const [n, g] of this.#groups.entries()) {
      ordinals.set(g.id, n);
      offsets[n] = at;
      members.set(g.slots, at);
      at += g.slots.length;
    }
    offsets[this.#groups.length] = at;
    return new GroupMembers(ordinals, offsets, members);
  }
}
