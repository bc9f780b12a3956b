import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createLogger } from "../../common/logger.ts";
import type { ListenLiveness } from "../../common/postgres.ts";
import { eventually } from "../../harness/waiting.ts";
import {
  createProxiedDatabase,
  type ProxiedDatabase,
} from "../../test-support/proxied-database.ts";
import { peopleChanged, pollsInserted } from "../registry/registry-changes.ts";
import { KnownPeople } from "./known-people.ts";

// The known people on their own, against a real Postgres reached through a TcpProxy (to
// silence the LISTEN connection, or take Postgres away). The safety-net reload is pushed
// out to 10 minutes: only NOTIFY (sent after each change, as the API's stores do:
// registry-changes.ts), and the catch-up of a re-opened LISTEN, make these pass.

const LIVENESS: ListenLiveness = { checkIntervalMs: 200, checkTimeoutMs: 500, keepAliveMs: 1_000 };

describe("KnownPeople", () => {
  let pg: ProxiedDatabase;
  let people: KnownPeople;
  const sql = (text: string, values: unknown[] = []) => pg.db.pool.query(text, values);
  /** A statement changing these schools' people, then their notification. */
  const change = async (schools: string[], text: string, values: unknown[] = []) => {
    await sql(text, values);
    await peopleChanged(pg.db.pool, schools);
  };
  const addPerson = (school: string, id: string, active = true) =>
    change([school], "insert into people (school_id, id, active) values ($1, $2, $3)", [
      school,
      id,
      active,
    ]);

  before(async () => {
    pg = await createProxiedDatabase();
    await sql("insert into schools (id, name) values ('north', 'North'), ('south', 'South')");
    // Before the start: the first load reads them.
    await addPerson("north", "n1");
    await addPerson("north", "n-inactive", false);
    people = new KnownPeople({
      databaseUrl: pg.urlViaProxy,
      refreshMs: 600_000,
      loadTimeoutMs: 10_000,
      logger: createLogger("silent"),
      liveness: LIVENESS,
    });
    await people.start();
  });
  after(async () => {
    people?.stop();
    await pg?.close();
  });

  test("the start loads the active people of every school, and only them", () => {
    assert.equal(people.has("north", "n1"), true);
    assert.equal(people.has("north", "n-inactive"), false);
    assert.equal(people.has("south", "n1"), false, "another school's person");
    assert.equal(people.has("nowhere", "n1"), false);
    assert.equal(people.people, 1);
    assert.equal(people.schools, 1);
    assert.equal(people.loads.full, 1, "one load at start: the LISTEN before it needs no catch-up");
    assert.ok(people.bytes > 0);
  });

  test("inserts, deactivations and deletes reach it by NOTIFY, one school at a time", async () => {
    await eventually("the set is LISTENing", () => people.ageMs === 0);
    const schoolLoads = people.loads.schools;
    await addPerson("south", "s1");
    await eventually("a person added is known", () => people.has("south", "s1"));
    await change(["north"], "update people set active = false where id = 'n1'");
    await eventually("a person deactivated is unknown", () => !people.has("north", "n1"));
    await change(["north"], "update people set active = true where id = 'n-inactive'");
    await eventually("a person activated is known", () => people.has("north", "n-inactive"));
    await change(["south"], "delete from people where school_id = 'south'");
    await eventually("a school's people deleted are unknown", () => !people.has("south", "s1"));
    assert.equal(people.schools, 1, "a school without active people is dropped");
    assert.ok(people.loads.schools > schoolLoads, "loaded per school");
    assert.equal(people.loads.full, 1, "no full load was needed");
  });

  test("a school with a register: its groups' members, followed as people move", async () => {
    await eventually("the set is LISTENing", () => people.ageMs === 0);
    await sql("insert into schools (id, name) values ('west', 'West')");
    await change(
      ["west"],
      `insert into people (school_id, id, groups)
       values ('west', 'w1', '{7A}'), ('west', 'w2', '{7A,choir}'), ('west', 'w3', '{7B}')`,
    );
    await eventually("west's people known", () => people.has("west", "w3"));
    assert.equal(people.holdsGroupsOf("west"), false, "no register: no group held");
    assert.equal(people.inGroup("west", "7A", "w1"), false);
    await sql(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       values ('west-reg', 'west-reg', 'Maths', 'west', 'register', 'roster', '{7A}', now(), now() + interval '1 hour')`,
    );
    await pollsInserted(pg.db.pool, ["west-reg"]);
    await eventually("the first register has the groups read", () => people.holdsGroupsOf("west"));
    assert.equal(people.inGroup("west", "7A", "w1"), true);
    assert.equal(people.inGroup("west", "7A", "w2"), true);
    assert.equal(people.inGroup("west", "choir", "w2"), true);
    assert.equal(people.inGroup("west", "7A", "w3"), false, "another group's");
    assert.equal(people.inGroup("west", "7A", "stranger"), false);
    assert.equal(people.inGroup("west", "9Z", "w1"), false, "no such group");
    assert.equal(people.inGroup("north", "7A", "w1"), false, "another school");
    assert.equal(people.memberOf("west", "7A", "w1"), "member");
    assert.equal(people.memberOf("west", "7A", "w3"), "not_in_group");
    assert.equal(people.memberOf("west", "9Z", "w3"), "not_in_group");
    assert.equal(people.memberOf("west", "7A", "stranger"), "unknown");
    assert.equal(people.memberOf("nowhere", "7A", "w1"), "unknown");
    await change(["west"], "update people set groups = '{7B}' where id = 'w1'");
    await eventually("a person moved is in their new group", () =>
      people.inGroup("west", "7B", "w1"),
    );
    assert.equal(people.inGroup("west", "7A", "w1"), false);
    await change(["west"], "update people set active = false where id = 'w2'");
    await eventually(
      "an inactive person is in no group",
      () => !people.inGroup("west", "choir", "w2"),
    );
    assert.equal(people.inGroup("west", "7B", "w3"), true, "the others as they were");
  });

  test("one statement touching a school thousands of times is one load; a burst of reloads is one more", async () => {
    const loads = people.loads.schools;
    await change(
      ["south"],
      "insert into people (school_id, id) select 'south', 'bulk-' || i from generate_series(1, 5000) i",
    );
    await eventually("an import of 5,000 is known", () => people.has("south", "bulk-5000"));
    assert.ok(people.has("south", "bulk-1"));
    await new Promise((resolve) => setTimeout(resolve, 200)); // a second notification, were there one
    assert.equal(people.loads.schools - loads, 1);
    // Ten reloads of one school asked while the first runs: that one, then one more.
    const before = people.loads.schools;
    await Promise.all(Array.from({ length: 10 }, () => people.reloadSchool("south")));
    assert.equal(people.loads.schools - before, 2);
  });

  test("a person added while the LISTEN connection is silent is known once it is re-opened", async () => {
    await eventually("the set is LISTENing", () => people.ageMs === 0);
    const connections = pg.proxy.connections;
    const fullLoads = people.loads.full;
    pg.proxy.freeze();
    await addPerson("north", "while-silent");
    await eventually("the person is known after the catch-up", () =>
      people.has("north", "while-silent"),
    );
    assert.ok(pg.proxy.connections > connections, "a new LISTEN connection was opened");
    assert.ok(people.loads.full > fullLoads, "re-opening LISTEN loaded everything");
    await addPerson("north", "after");
    await eventually("later changes are heard on the new connection", () =>
      people.has("north", "after"),
    );
  });

  test("a load that fails while LISTEN is fine is tried again within a second", async () => {
    await eventually("the set is LISTENing", () => people.ageMs === 0);
    // Loads fail (no table people) while the LISTEN connection stays up and hears the
    // insert below: only the retry can load it once the table is back.
    await sql("alter table people rename to people_away");
    try {
      await change(
        ["north"],
        "insert into people_away (school_id, id) values ('north', 'while-failing')",
      );
      await eventually("the load failed", () => people.ageMs > 0);
    } finally {
      await sql("alter table people_away rename to people");
    }
    await eventually(
      "the person is known after a retry",
      () => people.has("north", "while-failing"),
      { timeoutMs: 5_000 },
    );
  });

  test("while Postgres is away the last snapshot keeps answering, and its age grows", async () => {
    await pg.proxy.down();
    try {
      await assert.rejects(people.reload());
      assert.equal(people.has("north", "after"), true);
      assert.equal(people.has("south", "bulk-1"), true);
      await eventually("the age grows", () => people.ageMs > 0);
    } finally {
      await pg.proxy.up();
    }
    await addPerson("north", "back");
    await eventually("changes are heard again", () => people.has("north", "back"));
    await eventually("the age is back to 0", () => people.ageMs === 0);
  });
});
