import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { createSchool } from "../../test-support/schools.ts";

// Every write of people through the API logs the (school, group) pairs whose active members
// changed in register_roster_change_log (migration 059's people_changed, given the rows
// before and after by the statement: no trigger does it, docs/citus.md "Triggers"): the
// lesson registers' publisher republishes those groups' registers from it. A change of no
// active membership (a name, an inactive person's groups) logs nothing.

let h: IngestHarness;

before(async () => {
  h = await startIngestHarness();
  await createSchool(h.app, "ash");
  await createSchool(h.app, "elm");
});
after(() => h?.close());

const person = (school: string, id: string) => `/v1/schools/${school}/people/${id}`;

/** The log's rows, consumed (as the publishing leader does). */
async function logged(): Promise<Record<string, string[]>> {
  const { rows } = await h.db.pool.query<{ school_id: string; groups: string[] }>(
    "delete from register_roster_change_log returning school_id, groups",
  );
  return Object.fromEntries(rows.map((r) => [r.school_id, r.groups]));
}

function importCsv(school: string, body: string, mode: "upsert" | "replace") {
  return request(h.app)
    .post(`/v1/schools/${school}/people/import?mode=${mode}`)
    .set(ADMIN)
    .set("Content-Type", "text/csv")
    .send(body);
}

describe("a write of people logs the groups whose active members changed", () => {
  test("put, patch, deactivation, delete: each the groups it changed; a name nothing", async () => {
    await logged();
    await request(h.app)
      .put(person("ash", "A1"))
      .set(ADMIN)
      .send({ name: "Ann", groups: ["7A", "choir"] })
      .expect(201);
    assert.deepEqual(await logged(), { ash: ["7A", "choir"] }, "a person created");

    await request(h.app)
      .put(person("ash", "A1"))
      .set(ADMIN)
      .send({ name: "Ann", groups: ["7A", "choir"] })
      .expect(200);
    assert.deepEqual(await logged(), {}, "a put that changes nothing");

    await request(h.app)
      .patch(person("ash", "A1"))
      .set(ADMIN)
      .send({ groups: ["7B", "choir"] })
      .expect(200);
    assert.deepEqual(await logged(), { ash: ["7A", "7B"] }, "moved from 7A to 7B");

    await request(h.app).patch(person("ash", "A1")).set(ADMIN).send({ name: "Anna" }).expect(200);
    assert.deepEqual(await logged(), {}, "a name only");

    await request(h.app).patch(person("ash", "A1")).set(ADMIN).send({ active: false }).expect(200);
    assert.deepEqual(await logged(), { ash: ["7B", "choir"] }, "deactivated");

    await request(h.app)
      .patch(person("ash", "A1"))
      .set(ADMIN)
      .send({ groups: ["7C"] })
      .expect(200);
    assert.deepEqual(await logged(), {}, "an inactive person is in no group's list");

    await request(h.app).patch(person("ash", "A1")).set(ADMIN).send({ active: true }).expect(200);
    assert.deepEqual(await logged(), { ash: ["7C"] }, "active again");

    await request(h.app).delete(person("ash", "A1")).set(ADMIN).expect(200);
    assert.deepEqual(await logged(), { ash: ["7C"] }, "erased");
  });

  test("an import: the groups its rows changed, and replace mode's deactivations", async () => {
    await logged();
    let res = await importCsv("elm", "id,name,groups\nE1,Eve,8A\nE2,Ed,8A;8B\nE3,,8C\n", "upsert");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await logged(), { elm: ["8A", "8B", "8C"] }, "created");

    res = await importCsv("elm", "id,name,groups\nE1,Eve,8A\nE2,Edward,8A;8B\n", "upsert");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await logged(), {}, "a name changed, the rest unchanged");

    res = await importCsv("elm", "id,name,groups\nE1,Eve,8D\nE2,Edward,8A;8B\n", "replace");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(await logged(), { elm: ["8A", "8C", "8D"] }, "E1 moved, E3 deactivated");
  });

  test("a school's delete logs its active people's groups", async () => {
    await createSchool(h.app, "oak");
    await request(h.app)
      .put(person("oak", "O1"))
      .set(ADMIN)
      .send({ name: "Oz", groups: ["9A"] })
      .expect(201);
    await request(h.app)
      .put(person("oak", "O2"))
      .set(ADMIN)
      .send({ name: "Olga", groups: ["9B"], active: false })
      .expect(201);
    await logged();
    await request(h.app).delete("/v1/schools/oak").set(ADMIN).expect(200);
    assert.deepEqual(await logged(), { oak: ["9A"] });
  });
});
