import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import request from "supertest";
import { updatePollsSql, updateSchoolsSql } from "../ingest-api/registry/registry-changes.ts";
import { createPoll } from "../test-support/api.ts";
import {
  createLoginRole,
  createTestDatabase,
  type LoginRole,
  type ServiceRole,
  type TestDatabase,
} from "../test-support/database.ts";
import { ADMIN, startIngestHarness } from "../test-support/ingest.ts";
import { testNames } from "../test-support/names.ts";

// Migration 016's roles: each service's login user can do its job and nothing the rules
// forbid (the API never touches votes; the writer never changes the registry; the
// publisher and the analyst only read).

const REFUSED = /permission denied/;

describe("the services' Postgres roles", () => {
  let db: TestDatabase;
  const roles: LoginRole[] = [];
  const clients: pg.Client[] = [];
  const as = async (group: ServiceRole) => {
    const role = await createLoginRole(db, group);
    roles.push(role);
    const client = new pg.Client({ connectionString: role.url });
    clients.push(client);
    await client.connect();
    return client;
  };

  before(async () => {
    db = await createTestDatabase(testNames().database);
    await db.pool.query(`
      insert into polls (id, slug, title, time_zone) values ('p', 'p', 'P', 'UTC');
      insert into poll_options (poll_id, id, label, position) values ('p', 'yes', 'Yes', 0);
      insert into kiosks (id, slug, name, token_hash) values ('k', 'k', 'K', '\\x01');
      insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq)
        values ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b', 'p', 'yes', 'k', now(), now(), 1)`);
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => {});
    for (const r of roles) await r.drop();
    await db?.drop();
  });

  test("the API manages the registry and cannot touch votes", async () => {
    const api = await as("tallyflow_api");
    await api.query("insert into polls (id, slug, title, time_zone) values ('q', 'q', 'Q', 'UTC')");
    // What follows a registry write in its transaction (migration 052): the API's to call.
    await api.query("select polls_inserted(array['q'])");
    await api.query("select notify_registry_rows('polls', array['q'])");
    await api.query("select notify_people_schools(array['default'])");
    // An update with its notification and register log in the statement (migration 055);
    // the log itself is not the API's to write but through these functions.
    await api.query(updatePollsSql("title = 'P2'", "p.id = 'p'"));
    // Attendance's record of a school changed (migration 057), through its functions only.
    await api.query("select attendance_schools_changed(array['default'])");
    await api.query(updateSchoolsSql("time_zone = 'Europe/Paris'", "s.id = 'default'"));
    await assert.rejects(api.query("delete from attendance_school_change_log"), REFUSED);
    await assert.rejects(
      api.query("select attendance_time_zone_changed('default', 'UTC')"),
      REFUSED,
    );
    await assert.rejects(api.query("select log_register_changes(array['p'])"), REFUSED);
    await assert.rejects(api.query("delete from register_change_log"), REFUSED);
    await api.query("select voter_id from voter_ballots");
    assert.equal((await api.query("select poll_has_votes('p') as has")).rows[0].has, true);
    await assert.rejects(
      api.query(
        "insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq) values ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1c', 'p', 'yes', 'k', now(), now(), 1)",
      ),
      REFUSED,
    );
    await assert.rejects(api.query("select count(*) from votes"), REFUSED);
    await assert.rejects(api.query("delete from votes"), REFUSED);
    await assert.rejects(api.query("select * from vote_rollups"), REFUSED);
    // One poll's votes and results for its CSV exports, through migration 034's functions.
    const exported = await api.query("select event_id, option_id from export_poll_votes('p')");
    assert.equal(exported.rows.length, 1);
    await api.query("select * from export_poll_results('p', false)");
    // The audit log is append-only for the API (migration 027).
    await api.query(
      "insert into audit_log (actor_kind, action, status) values ('deployment', 'POST /x', 201)",
    );
    await api.query("select count(*) from audit_log");
    await assert.rejects(api.query("update audit_log set action = 'x'"), REFUSED);
    await assert.rejects(api.query("delete from audit_log"), REFUSED);
    await assert.rejects(api.query("truncate audit_log"), REFUSED);
    // Dead letters: read and marked replayed by the console's routes, nothing else (032).
    await api.query("select raw from dead_letters");
    await api.query("update dead_letters set replayed_at = now() where false");
    await assert.rejects(api.query("update dead_letters set raw = '\\x00' where false"), REFUSED);
    await assert.rejects(api.query("delete from dead_letters"), REFUSED);
    // Deleting an archived poll queues its rows for the purge through delete_polls's own
    // rights (migration 052); the writer's role runs the purge through purge_deleted_polls
    // (migration 031).
    await api.query("update polls set archived_at = now() where id = 'p'");
    await api.query("select delete_polls(array['p'])");
    const votesOfP = async () =>
      (await db.pool.query("select count(*)::int as n from votes where poll_id = 'p'")).rows[0].n;
    assert.equal(await votesOfP(), 1);
    assert.equal((await api.query("select count(*)::int as n from poll_purges")).rows[0].n, 1);
    await assert.rejects(api.query("select * from purge_deleted_polls(10)"), REFUSED);
    const writer = await as("tallyflow_writer");
    const step = await writer.query("select purged::int, done from purge_deleted_polls(10)");
    assert.deepEqual(step.rows, [{ purged: 1, done: true }]);
    assert.equal(await votesOfP(), 0);
  });

  test("the writer stores votes and cannot change the registry", async () => {
    await db.pool.query(`
      insert into polls (id, slug, title, time_zone) values ('w', 'w', 'W', 'UTC');
      insert into poll_options (poll_id, id, label, position) values ('w', 'yes', 'Yes', 0)`);
    const writer = await as("tallyflow_writer");
    await writer.query(
      "insert into votes (event_id, poll_id, option_id, kiosk_id, cast_at, received_at, stream_seq) values ('0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1d', 'w', 'yes', 'k', now(), now(), 1)",
    );
    await writer.query("select incarnation from polls");
    // The publisher's change log (migration 048): the writer only adds to it.
    await writer.query("insert into poll_change_log (poll_id, change_seq) values ('w', 1)");
    await assert.rejects(writer.query("delete from poll_change_log"), REFUSED);
    await assert.rejects(writer.query("update polls set title = 'x' where id = 'w'"), REFUSED);
    await assert.rejects(writer.query("delete from polls where id = 'w'"), REFUSED);
    await assert.rejects(writer.query("select delete_polls(array['w'])"), REFUSED);
    await assert.rejects(writer.query("update kiosks set name = 'x'"), REFUSED);
    await assert.rejects(
      writer.query("insert into poll_options values ('w', 'no', 'No', 1)"),
      REFUSED,
    );
  });

  test("the publisher reads and consumes the change log; the analyst only reads", async () => {
    const publisher = await as("tallyflow_publisher");
    await publisher.query("select * from vote_rollups");
    await publisher.query("select * from poll_changes");
    // It deletes the change log rows it published (migration 048), and writes nothing else.
    await publisher.query("select * from poll_change_log");
    await publisher.query("delete from poll_change_log where false");
    // Locking them first, in the writers' order (migration 058), for which FOR UPDATE needs
    // an UPDATE right: on change_seq, never used; the key stays out of its reach.
    await publisher.query("select poll_id from poll_change_log where false for update");
    await publisher.query("select poll_id from register_change_log where false for update");
    await assert.rejects(publisher.query("update poll_change_log set poll_id = 'x'"), REFUSED);
    await assert.rejects(publisher.query("update register_change_log set poll_id = 'x'"), REFUSED);
    await assert.rejects(
      publisher.query("insert into poll_change_log (poll_id, change_seq) values ('x', 1)"),
      REFUSED,
    );
    await assert.rejects(publisher.query("update poll_changes set change_seq = 0"), REFUSED);
    await assert.rejects(publisher.query("delete from vote_rollups"), REFUSED);
    await assert.rejects(publisher.query("select * from votes"), REFUSED);
    const analyst = await as("tallyflow_analyst");
    await analyst.query("select count(*) from votes");
    await analyst.query("select count(*) from poll_change_log");
    await assert.rejects(analyst.query("delete from votes"), REFUSED);
    await assert.rejects(analyst.query("update polls set title = 'x'"), REFUSED);
    // Personal data and credentials: the school's own admin exports names, nobody reads hashes.
    await analyst.query("select id, groups, active from people");
    await assert.rejects(analyst.query("select name from people"), REFUSED);
    await assert.rejects(analyst.query("select token_hash from school_admins"), REFUSED);
  });

  test("every table is readable by the analyst and granted to a service", async () => {
    const { rows } = await db.pool.query<{ table: string; analyst: boolean; service: boolean }>(`
      select c.relname as table,
        -- Any column: personal data and secrets (people.name, school_admins.token_hash)
        -- are left out by column grants, migration 017.
        has_any_column_privilege('tallyflow_analyst', c.oid, 'select') as analyst,
        (has_table_privilege('tallyflow_api', c.oid, 'select')
          or has_table_privilege('tallyflow_writer', c.oid, 'insert')
          -- Kept by triggers, read by the publisher (attendance_school_change_log, 051;
          -- register_roster_change_log, 056).
          or has_table_privilege('tallyflow_publisher', c.oid, 'select')
          -- Rules the writers read (time_partitioned_tables, 044).
          or has_table_privilege('tallyflow_writer', c.oid, 'select')) as service
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p') and c.relname <> 'schema_migrations'
        -- A partition (votes', migration 033) is reached through its partitioned table,
        -- whose rights are checked instead.
        and not c.relispartition
      order by 1`);
    assert.ok(rows.length > 10);
    for (const r of rows) {
      assert.ok(
        r.analyst,
        `${r.table}: no select for tallyflow_analyst (a migration must grant it)`,
      );
      assert.ok(r.service, `${r.table}: granted to no service (a migration must grant it)`);
    }
  });

  test("the API runs as its role: registry, votes, one-vote claims, poll deletion", async () => {
    const role = await createLoginRole(db, "tallyflow_api");
    roles.push(role);
    const names = testNames();
    const url = new URL(role.url);
    url.pathname = `/${names.database}`;
    const h = await startIngestHarness({ DATABASE_URL: url.toString() }, { names });
    try {
      const who = await request(h.app).get("/readyz");
      assert.equal(who.status, 200, who.text);
      await createPoll(h.app, { id: "r", oneVotePerVoter: true });
      const kiosk = await request(h.app).post("/v1/kiosks").set(ADMIN).send({ id: "k", name: "K" });
      assert.equal(kiosk.status, 201, kiosk.text);
      const vote = await request(h.app)
        .post("/v1/votes")
        .set({ Authorization: `Bearer ${kiosk.body.token}` })
        .send({ pollId: "r", optionId: "yes", voterId: "v" });
      assert.equal(vote.status, 202, vote.text);
      await request(h.app).patch("/v1/polls/r").set(ADMIN).send({ archived: true }).expect(200);
      await request(h.app).delete("/v1/polls/r").set(ADMIN).expect(200);
      const { rows } = await h.db.pool.query("select current_user");
      assert.notEqual(rows[0].current_user, role.name, "the fixtures' own pool is the owner's");
    } finally {
      await h.close();
    }
  });

  test("the migration runs again, in another database, with the roles already there", async () => {
    const other = await createTestDatabase(testNames().database);
    try {
      const { rows } = await other.pool.query(
        "select has_table_privilege('tallyflow_writer', 'votes', 'insert') as ok",
      );
      assert.equal(rows[0].ok, true);
    } finally {
      await other.drop();
    }
  });
});
