import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { createLoginRole, type LoginRole } from "../../test-support/database.ts";
import {
  ADMIN,
  type IngestHarness,
  startIngestHarness,
  startIngestReplica,
} from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// Migration 055: a register poll's creation, edit and deletion are logged in
// register_change_log by the API's own statements (no trigger on polls, which Citus
// refuses), with 042's rule unchanged: a register, when created, deleted, or edited in what
// its document shows (its title through the API; starts_at, ends_at, group_ids and
// school_id are fixed at its create); never another poll, never another column. The API
// runs as its Postgres role (tallyflow_api), which has no rights on the log itself.

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

let h: IngestHarness;
let role: LoginRole;
let api: { app: Express; close(): Promise<void> };
let head: TestSchoolAdmin;

/** The log: each register's change_seq (how many changes not consumed). */
async function logged(): Promise<Record<string, number>> {
  const { rows } = await h.db.pool.query<{ poll_id: string; change_seq: string }>(
    "select poll_id, change_seq from register_change_log order by poll_id",
  );
  return Object.fromEntries(rows.map((r) => [r.poll_id, Number(r.change_seq)]));
}

async function createRegister(id: string, auth = head.auth) {
  const res = await request(api.app)
    .post("/v1/polls")
    .set(auth)
    .send({
      id,
      kind: "register",
      title: `Lesson ${id}`,
      groupId: "7A",
      startsAt: iso(Date.now() + HOUR),
      endsAt: iso(Date.now() + 2 * HOUR),
    });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

async function createVote(id: string) {
  const res = await request(api.app)
    .post("/v1/polls")
    .set(head.auth)
    .send({ id, title: `Vote ${id}`, options: [{ id: "yes", label: "Yes" }] });
  assert.equal(res.status, 201, res.text);
  return res.body.id as string;
}

const patch = async (id: string, body: object) => {
  const res = await request(api.app).patch(`/v1/polls/${id}`).set(head.auth).send(body);
  assert.equal(res.status, 200, res.text);
};

before(async () => {
  h = await startIngestHarness();
  role = await createLoginRole(h.db, "tallyflow_api");
  api = await startIngestReplica(h, { DATABASE_URL: role.url });
  await createSchool(h.app, "oak");
  head = await issueSchoolAdmin(h.app, "oak");
});

after(async () => {
  await api?.close();
  await role?.drop();
  await h?.close();
});

describe("a register poll's changes in the register change log (migration 055)", () => {
  let lesson: string;
  let lunch: string;

  test("a register's creation is logged; another poll's is not", async () => {
    lesson = await createRegister("maths");
    lunch = await createVote("lunch");
    assert.deepEqual(await logged(), { [lesson]: 1 });
  });

  test("an edit of what the document shows is logged, of anything else not", async () => {
    await patch(lesson, { timeZone: "Europe/London" });
    await patch(lesson, { archived: true });
    await patch(lesson, { archived: false });
    assert.deepEqual(await logged(), { [lesson]: 1 }, "no shown column changed");
    await patch(lesson, { title: "Maths, room 4" });
    assert.deepEqual(await logged(), { [lesson]: 2 });
    await patch(lesson, { title: "Maths, room 4" });
    assert.deepEqual(await logged(), { [lesson]: 2 }, "the same title again changes nothing");
    await patch(lunch, { title: "Lunch, Friday" });
    assert.deepEqual(await logged(), { [lesson]: 2 }, "not a register");
  });

  test("a register's deletion is logged; another poll's is not", async () => {
    await request(api.app).delete(`/v1/polls/${lunch}`).set(head.auth).expect(200);
    assert.deepEqual(await logged(), { [lesson]: 2 });
    await request(api.app).delete(`/v1/polls/${lesson}`).set(head.auth).expect(200);
    assert.deepEqual(await logged(), { [lesson]: 3 }, "the publisher removes its document");
  });

  test("a school's deletion logs its registers", async () => {
    await createSchool(h.app, "elm");
    const elmHead = await issueSchoolAdmin(h.app, "elm");
    const history = await createRegister("history", elmHead.auth);
    await h.db.pool.query("delete from register_change_log");
    await request(api.app).delete("/v1/schools/elm").set(ADMIN).expect(200);
    assert.deepEqual(await logged(), { [history]: 1 });
  });
});
