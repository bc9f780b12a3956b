import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { SchoolKeysReader } from "./school-keys-reader.ts";

// The known people's loader reads Postgres's binary COPY as it streams: a row may be cut
// anywhere by a chunk boundary. The bytes here are a real COPY of migration 017's people
// table, fed whole, byte by byte and in every two-piece split; the keys must be md5's.

const COPY_SQL =
  "copy (select school_id, lookup_key from people where active order by school_id) to stdout (format binary)";

function read(chunks: Buffer[]): Map<string, string[]> {
  const schools = new Map<string, string[]>();
  const reader = new SchoolKeysReader((schoolId, pairs, count) => {
    const keys: string[] = [];
    for (let i = 0; i < count; i++)
      keys.push(
        ((BigInt(pairs[2 * i]!) << 32n) | BigInt(pairs[2 * i + 1]!)).toString(16).padStart(16, "0"),
      );
    schools.set(schoolId, keys);
  });
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return schools;
}

/** The key as the API computes it: md5's first 8 bytes, as 16 hex digits. */
const md5Key = (id: string) => createHash("md5").update(id).digest("hex").slice(0, 16);

describe("SchoolKeysReader on a real binary COPY", () => {
  let db: TestDatabase;
  let bytes: Buffer;
  const expected = new Map<string, string[]>();

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await db.pool.query("insert into schools (id, name) values ('a-school', 'A'), ('b', 'B')");
    const people: [string, string, boolean][] = [
      ["a-school", "p1", true],
      ["a-school", "  not trimmed here  ", true],
      ["a-school", "Zoë", true],
      ["a-school", "gone", false],
      ["b", "p1", true],
      ["default", "x", true],
    ];
    for (const [school, id, active] of people)
      await db.pool.query("insert into people (school_id, id, active) values ($1, $2, $3)", [
        school,
        id,
        active,
      ]);
    for (const [school, id, active] of people) {
      if (!active) continue;
      expected.set(school, [...(expected.get(school) ?? []), md5Key(id)]);
    }
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(COPY_SQL))) chunks.push(chunk as Buffer);
    await client.end();
    bytes = Buffer.concat(chunks);
  });
  after(() => db?.drop());

  const sorted = (m: Map<string, string[]>) =>
    new Map([...m].map(([k, v]) => [k, [...v].sort()] as const));

  test("whole: one run per school, the keys md5's first 64 bits (migration 017's lookup_key)", () => {
    assert.deepEqual(sorted(read([bytes])), sorted(expected));
  });

  test("byte by byte, and cut in two at every offset", () => {
    const bytewise = [...bytes].map((b) => Buffer.from([b]));
    assert.deepEqual(sorted(read(bytewise)), sorted(expected));
    for (let cut = 0; cut <= bytes.length; cut++)
      assert.deepEqual(
        sorted(read([bytes.subarray(0, cut), bytes.subarray(cut)])),
        sorted(expected),
        `cut at ${cut}`,
      );
  });

  test("a stream cut short, a stranger's bytes or rows out of school order are errors", () => {
    assert.throws(() => read([bytes.subarray(0, bytes.length - 2)]), /before its trailer/);
    assert.throws(() => read([Buffer.from("id,name\n1,x\n")]), /signature/);
    const reader = new SchoolKeysReader(() => {});
    assert.throws(() => {
      // The rows of school "a-school" again after those of "b": a second run.
      const header = bytes.subarray(0, 19);
      const row = (school: string) => {
        const id = Buffer.from(school);
        const b = Buffer.alloc(2 + 4 + id.length + 4 + 8);
        b.writeInt16BE(2, 0);
        b.writeInt32BE(id.length, 2);
        id.copy(b, 6);
        b.writeInt32BE(8, 6 + id.length);
        return b;
      };
      reader.push(Buffer.concat([header, row("a"), row("b"), row("a")]));
    }, /seen twice/);
  });
});
