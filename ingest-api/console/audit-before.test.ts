import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// The audit log's before-values beyond polls and schools: a kiosk's edit and revocation, a
// person's replacement, edit and erasure (never the name), a holiday's rename and removal
// each log the fields they changed with their value before and after (audit-recorder.ts).

interface Entry {
  action: string;
  objectId: string | null;
  schoolId: string | null;
  changes: Record<string, unknown> | null;
}

describe("the audit log's before-values", () => {
  let h: IngestHarness;
  let admin: TestSchoolAdmin;

  const entriesOf = async (action: string) => {
    const res = await request(h.app)
      .get(`/v1/audit?action=${encodeURIComponent(action)}`)
      .set(ADMIN);
    assert.equal(res.status, 200, res.text);
    return (res.body.entries as Entry[]).reverse(); // oldest first
  };
  const logged = (action: string, count: number) =>
    eventually(`${count} × ${action} logged`, async () => {
      const found = await entriesOf(action);
      return found.length >= count ? found : undefined;
    });

  before(async () => {
    h = await startIngestHarness();
    await createSchool(h.app, "north");
    admin = await issueSchoolAdmin(h.app, "north");
  });
  after(() => h?.close());

  test("a kiosk's edit and revocation", async () => {
    const made = await request(h.app)
      .post("/v1/kiosks")
      .set(admin.auth)
      .send({ id: "gate", name: "Gate" });
    assert.equal(made.status, 201, made.text);
    const id = made.body.id as string;
    await request(h.app)
      .patch(`/v1/kiosks/${id}`)
      .set(admin.auth)
      .send({ name: "Main gate" })
      .expect(200);
    await request(h.app).delete(`/v1/kiosks/${id}`).set(admin.auth).expect(200);
    const [edited] = await logged("PATCH /v1/kiosks/:id", 1);
    assert.deepEqual(edited!.changes, { name: { before: "Gate", after: "Main gate" } });
    const [revoked] = await logged("DELETE /v1/kiosks/:id", 1);
    const gone = revoked!.changes!.before as { name: string; revokedAt: string | null };
    assert.equal(gone.name, "Main gate");
    assert.equal(gone.revokedAt, null, "the kiosk as it was before its revocation");
  });

  test("a person's replacement, edit and erasure, without the name", async () => {
    const base = "/v1/schools/north/people/p-7";
    await request(h.app)
      .put(base)
      .set(admin.auth)
      .send({ name: "Ada Lovelace", groups: ["7a"] })
      .expect(201);
    await request(h.app)
      .put(base)
      .set(admin.auth)
      .send({ name: "Ada Byron", groups: ["7b"] })
      .expect(200);
    await request(h.app).patch(base).set(admin.auth).send({ active: false }).expect(200);
    await request(h.app).delete(base).set(admin.auth).expect(200);
    const [created, replaced] = await logged("PUT /v1/schools/:schoolId/people/:personId", 2);
    // Created: nothing before, what the request set (without the name).
    assert.deepEqual(created!.changes, { request: { groups: ["7a"] } });
    assert.deepEqual(replaced!.changes, { groups: { before: ["7a"], after: ["7b"] } });
    const [patched] = await logged("PATCH /v1/schools/:schoolId/people/:personId", 1);
    assert.deepEqual(patched!.changes, { active: { before: true, after: false } });
    const [erased] = await logged("DELETE /v1/schools/:schoolId/people/:personId", 1);
    const before = erased!.changes!.before as Record<string, unknown>;
    assert.equal(before.id, "p-7");
    assert.deepEqual(before.groups, ["7b"]);
    assert.equal(before.active, false);
    assert.equal("name" in before, false);
    assert.doesNotMatch(JSON.stringify([created, replaced, patched, erased]), /Ada|Lovelace|Byron/);
  });

  test("a holiday's rename and removal", async () => {
    const path = "/v1/schools/north/holidays/2026-12-24";
    await request(h.app).put(path).set(admin.auth).send({ name: "Christmas Eve" }).expect(201);
    await request(h.app).put(path).set(admin.auth).send({ name: "Winter break" }).expect(200);
    await request(h.app).delete(path).set(admin.auth).expect(200);
    const [created, renamed] = await logged("PUT /v1/schools/:schoolId/holidays/:date", 2);
    assert.deepEqual(created!.changes, { request: { name: "Christmas Eve" } });
    assert.deepEqual(renamed!.changes, {
      name: { before: "Christmas Eve", after: "Winter break" },
    });
    assert.equal(renamed!.objectId, "2026-12-24");
    assert.equal(renamed!.schoolId, "north");
    const [removed] = await logged("DELETE /v1/schools/:schoolId/holidays/:date", 1);
    assert.deepEqual(removed!.changes, { before: { date: "2026-12-24", name: "Winter break" } });
  });

  test("a roster export is logged (a read that carries names), whether sent whole or not", async () => {
    const res = await request(h.app).get("/v1/schools/north/people/export").set(admin.auth);
    assert.equal(res.status, 200, res.text);
    await request(h.app).get("/v1/schools/north/people").set(admin.auth).expect(200);
    const [exported] = await logged("GET /v1/schools/:schoolId/people/export", 1);
    assert.equal(exported!.schoolId, "north");
    assert.deepEqual(exported!.changes, { export: "roster", names: true, complete: true });
    // Other reads are not logged.
    assert.deepEqual(await entriesOf("GET /v1/schools/:schoolId/people"), []);
  });
});
