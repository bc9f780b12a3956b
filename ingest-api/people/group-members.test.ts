import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import { GroupMembers } from "./group-members.ts";
import { LookupKeySet } from "./lookup-key-set.ts";

// A school's groups as slots of its key table: exact answers (members, people of another
// group, strangers, the key 0), the small arrays while the table is small and the large
// ones past 65,535 slots, and what a membership costs.

function keyOf(i: number): [number, number] {
  const d = createHash("md5").update(`person-${i}`).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/** `people` people, person i in group `g${i % groups}`, as a COPY's rows give them. */
function school(people: number, groups: number) {
  const all = new Uint32Array(2 * people);
  for (let i = 0; i < people; i++) all.set(keyOf(i), 2 * i);
  const keys = LookupKeySet.fromPairs(all, people);
  const builder = GroupMembers.builder(keys);
  for (let g = 0; g < groups; g++) {
    const members: number[] = [];
    for (let i = g; i < people; i += groups) members.push(...keyOf(i));
    // The reader's buffer is reused for the next name: the builder must not keep it.
    const buffer = Uint32Array.from(members);
    builder.add(`g${g}`, buffer, members.length / 2);
    buffer.fill(0);
  }
  const slot = (i: number) => keys.slotOf(...keyOf(i));
  return { keys, members: builder.build(), slot };
}

describe("GroupMembers", () => {
  test("members are found in their group only; strangers and unknown groups are not", () => {
    const { members, slot, keys } = school(3_000, 100);
    assert.equal(members.groups, 100);
    for (let i = 0; i < 3_000; i++) {
      assert.equal(members.has(`g${i % 100}`, slot(i)), true, `person ${i}`);
      assert.equal(members.has(`g${(i + 1) % 100}`, slot(i)), false, `person ${i}, next group`);
    }
    assert.equal(keys.slotOf(...keyOf(3_000)), -1, "a stranger has no slot");
    assert.equal(members.has("g0", -1), false);
    assert.equal(members.has("nope", slot(0)), false);
    // 2 bytes a membership (a table of 5,000 slots) and 4 bytes a group's offset.
    assert.equal(members.bytes, 2 * 3_000 + 4 * 101);
  });

  test("the key 0 has a slot of its own; a key not in the school's table is no member", () => {
    const keys = LookupKeySet.fromPairs(Uint32Array.from([0, 0, 1, 2]), 2);
    const builder = GroupMembers.builder(keys);
    builder.add("a", Uint32Array.from([0, 0, 9, 9]), 2);
    builder.add("b", Uint32Array.from([1, 2, 1, 2]), 2);
    const members = builder.build();
    assert.equal(keys.slotOf(0, 0), keys.capacity);
    assert.equal(members.has("a", keys.slotOf(0, 0)), true);
    assert.equal(members.has("a", keys.slotOf(1, 2)), false);
    assert.equal(members.has("b", keys.slotOf(1, 2)), true);
    assert.equal(members.bytes, 2 * 2 + 4 * 3, "the key 9,9 dropped, the duplicate one member");
  });

  test("a school of more than 65,535 slots: 4 bytes a membership, the same answers", () => {
    const { members, slot, keys } = school(50_000, 7);
    assert.ok(keys.capacity > 65_535);
    assert.equal(members.bytes, 4 * 50_000 + 4 * 8);
    for (let i = 0; i < 50_000; i += 97) {
      assert.equal(members.has(`g${i % 7}`, slot(i)), true);
      assert.equal(members.has(`g${(i + 3) % 7}`, slot(i)), false);
    }
  });
});
