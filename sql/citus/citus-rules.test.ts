import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTestDatabase, type TestDatabase } from "../../test-support/database.ts";
import { testNames } from "../../test-support/names.ts";
import { loadPlan, type PlannedTable, parsePlan } from "./citus-plan.ts";
import { checkCitusRules, type Violation } from "./citus-rules.ts";

// Citus is not installed here (not in Debian's packages): the migrated schema is checked
// against Citus's rules for sql/citus/distribution.sql instead (issue #29, docs/citus.md).

/**
 * What Citus would refuse today, each with why it is so and what would fix it. Nothing
 * else may be: a violation not listed fails the test, and so does a listed one that is gone
 * (the list stays true; remove it from here and from docs/citus.md's "Not shardable yet").
 */
interface KnownException {
  rule: Violation["rule"];
  table: string;
  subjects: string[];
  reason: string;
  fix: string;
}

// None since migration 059 (the people roster triggers became people_changed, called by
// every writer of people). A new one is listed here as
// { rule, table, subjects, reason: why Citus refuses it, fix: what would make it shardable }.
export const KNOWN_EXCEPTIONS: KnownException[] = [];

const excepted = (v: Violation) =>
  KNOWN_EXCEPTIONS.some(
    (e) => e.rule === v.rule && e.table === v.table && e.subjects.includes(v.subject),
  );
const show = (v: Violation) => `${v.rule} ${v.table} ${v.subject}: ${v.detail}`;

describe("the schema against Citus's rules for sql/citus/distribution.sql", () => {
  let db: TestDatabase;
  const plan = loadPlan();

  before(async () => {
    db = await createTestDatabase(testNames().database);
  });
  after(async () => {
    await db?.drop();
  });

  test("every table is planned, and Citus would refuse nothing but the known exceptions", async () => {
    const found = await checkCitusRules(db.pool, plan);
    assert.deepEqual(found.filter((v) => !excepted(v)).map(show), []);
    const stale = KNOWN_EXCEPTIONS.flatMap((e) =>
      e.subjects
        .filter(
          (s) => !found.some((v) => v.rule === e.rule && v.table === e.table && v.subject === s),
        )
        .map((s) => `${e.rule} ${e.table} ${s}`),
    );
    assert.deepEqual(
      stale,
      [],
      "fixed since: remove these from KNOWN_EXCEPTIONS and docs/citus.md",
    );
  });

  test("the plan has the layout docs/citus.md describes", () => {
    const kinds = Map.groupBy(plan, (p) =>
      p.kind === "distributed" ? `${p.kind} by ${p.column} with ${p.group}` : p.kind,
    );
    assert.deepEqual(
      kinds.get("reference")?.map((p) => p.table),
      ["schools", "polls", "poll_options", "kiosks", "people", "school_holidays"],
    );
    assert.equal(kinds.get("distributed by poll_id with votes")?.[0]?.table, "votes");
    assert.ok(
      kinds.get("distributed by poll_id with votes")?.some((p) => p.table === "vote_rollups"),
    );
    assert.equal(
      kinds.get("distributed by school_id with attendance_days")?.[0]?.table,
      "attendance_days",
    );
    assert.deepEqual([...kinds.keys()].sort(), [
      "distributed by poll_id with votes",
      "distributed by school_id with attendance_days",
      "local",
      "reference",
    ]);
  });

  test("the parser reads each call and refuses a distributed table with its colocation implicit", () => {
    assert.deepEqual(
      parsePlan(`
        -- select create_reference_table('commented_out');
        select create_reference_table('a');
        select create_distributed_table('b', 'k', colocate_with => 'none');
        SELECT create_distributed_table( 'c' , 'k' , colocate_with => 'b' );
        select citus_add_local_table_to_metadata('d');`),
      [
        { table: "a", kind: "reference" },
        { table: "b", kind: "distributed", column: "k", colocateWith: null, group: "b" },
        { table: "c", kind: "distributed", column: "k", colocateWith: "b", group: "b" },
        { table: "d", kind: "local" },
      ],
    );
    assert.throws(() => parsePlan("select create_distributed_table('b', 'k');"), /colocate_with/);
    assert.throws(() => parsePlan("select create_reference_table('public.a');"), /unqualified/);
    assert.throws(
      () => parsePlan("select create_reference_table('a'); select create_reference_table('a');"),
      /named twice/,
    );
  });

  test("the checker reports each rule broken (it can fail)", async () => {
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      // Each table breaks one rule; all are rolled back.
      await client.query(`
        create table citus_unplanned (id int primary key);
        create table citus_events (id uuid primary key, poll_id text not null);
        create table citus_parts (poll_id text not null, at timestamptz not null)
          partition by range (at);
        create table citus_parts_1 partition of citus_parts
          for values from ('2026-01-01') to ('2026-02-01');
        create unique index on citus_parts_1 (at);
        create table citus_parts_2 partition of citus_parts
          for values from ('2026-02-01') to ('2026-03-01') partition by range (at);
        create table citus_ref_to_dist (poll_id text references register_states (poll_id));
        create table citus_child (
          poll_id text not null references polls (id) on update cascade,
          event_id uuid references citus_events (id));
        create table citus_school_group (school_id text not null references register_roster_change_log (school_id));
        create table citus_int_key (poll_id int not null);
        create table citus_exclusion (
          poll_id text not null, during tstzrange, exclude using gist (during with &&));
        create table citus_nullable (poll_id text, n int generated always as identity);
        create function citus_noop() returns trigger language plpgsql as $$ begin return null; end $$;
        create trigger citus_noop after insert on citus_nullable for each statement execute function citus_noop();
        create table citus_partitioned_ref (at timestamptz) partition by range (at);
        create table citus_local_to_dist (poll_id text references register_states (poll_id));
        create table citus_too_early (poll_id text not null references polls (id));`);
      const extra: PlannedTable[] = [
        {
          table: "citus_too_early",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        ...plan,
        {
          table: "citus_events",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_parts",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_parts_1",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        { table: "citus_ref_to_dist", kind: "reference" },
        {
          table: "citus_child",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_school_group",
          kind: "distributed",
          column: "school_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_exclusion",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_int_key",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        {
          table: "citus_nullable",
          kind: "distributed",
          column: "poll_id",
          colocateWith: "votes",
          group: "votes",
        },
        { table: "citus_partitioned_ref", kind: "reference" },
        { table: "citus_local_to_dist", kind: "local" },
        { table: "citus_missing", kind: "reference" },
      ];
      const found = (await checkCitusRules(client, extra)).filter((v) =>
        v.table.startsWith("citus_"),
      );
      const brief = found.map((v) => `${v.rule} ${v.table} ${v.subject}`).sort();
      assert.deepEqual(brief, [
        "colocation citus_int_key poll_id",
        "distribution-column citus_nullable poll_id",
        "foreign-key citus_child citus_child_event_id_fkey",
        "foreign-key citus_child citus_child_poll_id_fkey",
        "foreign-key citus_local_to_dist citus_local_to_dist_poll_id_fkey",
        "foreign-key citus_ref_to_dist citus_ref_to_dist_poll_id_fkey",
        "foreign-key citus_school_group citus_school_group_school_id_fkey",
        "identity citus_nullable n",
        "order citus_too_early citus_too_early_poll_id_fkey",
        "order citus_too_early votes",
        "partition-planned citus_parts_1 citus_parts_1",
        "partitioned citus_partitioned_ref citus_partitioned_ref",
        "partitioned citus_parts citus_parts_2",
        "planned-table-missing citus_missing citus_missing",
        "trigger citus_nullable citus_noop",
        "unique-key citus_events (id)",
        "unique-key citus_exclusion (during) exclusion",
        "unique-key citus_parts (at)",
        "unplanned citus_unplanned citus_unplanned",
      ]);
    } finally {
      await client.query("rollback");
      client.release();
    }
  });
});
