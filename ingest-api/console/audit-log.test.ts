import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { expectError } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { createSchool, issueSchoolAdmin } from "../../test-support/schools.ts";

// The audit log: every admin change that succeeded, through a bearer token or a console
// session, with who, what, which object, the school, the address and what changed; read
// filtered and paged, exported as CSV, scoped like every other admin read.

interface Entry {
  id: string;
  at: string;
  schoolId: string | null;
  actorKind: string;
  actorId: string | null;
  sessionId: string | null;
  action: string;
  objectId: string | null;
  address: string;
  changes: Record<string, unknown> | null;
}

describe("the audit log", () => {
  let h: IngestHarness;
  let session: { cookie: string; csrf: string; id: string };

  const entries = async (query = "", auth: Record<string, string> = ADMIN) => {
    const res = await request(h.app).get(`/v1/audit${query}`).set(auth);
    assert.equal(res.status, 200, res.text);
    return res.body as { entries: Entry[]; next: string | null };
  };
  const logged = (action: string, objectId: string) =>
    eventually(`${action} ${objectId} logged`, async () =>
      (await entries(`?action=${encodeURIComponent(action)}`)).entries.find(
        (e) => e.objectId === objectId,
      ),
    );

  before(async () => {
    h = await startIngestHarness();
    await createSchool(h.app, "north");
    await createSchool(h.app, "south");
    const invite = await request(h.app)
      .post("/v1/console/invites")
      .set(ADMIN)
      .send({ schoolId: "north", label: "North office" });
    const code = new URL(invite.body.link).hash.replace("#invite=", "");
    const signed = await request(h.app).post("/v1/console/sessions").send({ code });
    assert.equal(signed.status, 201, signed.text);
    session = {
      cookie: String(signed.headers["set-cookie"]?.[0]).split(";")[0]!,
      csrf: signed.body.csrfToken,
      id: signed.body.session.id,
    };
  });
  after(() => h?.close());

  test("a console session's changes are logged with who, what, where and before/after", async () => {
    const auth = { Cookie: session.cookie, "X-CSRF-Token": session.csrf };
    const made = await request(h.app)
      .post("/v1/polls")
      .set(auth)
      .send({ id: "lunch", title: "Lunch", options: [{ id: "a", label: "A" }] });
    assert.equal(made.status, 201, made.text);
    const pollId = made.body.id as string;
    await request(h.app)
      .patch(`/v1/polls/${pollId}`)
      .set(auth)
      .send({ title: "Dinner" })
      .expect(200);
    await request(h.app)
      .patch(`/v1/polls/${pollId}`)
      .set(auth)
      .send({ archived: true })
      .expect(200);
    await request(h.app).delete(`/v1/polls/${pollId}`).set(auth).expect(200);

    const created = await logged("POST /v1/polls", pollId);
    assert.equal(created.schoolId, "north");
    assert.equal(created.actorKind, "school");
    assert.equal(created.sessionId, session.id);
    assert.ok(created.actorId?.startsWith("sa-"));
    assert.match(created.address, /127\.0\.0\.1|::1/);
    assert.deepEqual((created.changes!.request as { title: string }).title, "Lunch");

    const renamed = await logged("PATCH /v1/polls/:id", pollId);
    const changes = (await entries(`?action=PATCH%20/v1/polls/:id`)).entries.map((e) => e.changes);
    assert.deepEqual(
      changes.find((c) => c !== null && "title" in c),
      { title: { before: "Lunch", after: "Dinner" } },
    );
    assert.equal(renamed.schoolId, "north");
    const deleted = await logged("DELETE /v1/polls/:id", pollId);
    assert.equal((deleted.changes!.before as { title: string }).title, "Dinner");
    // The sign-in itself, and the invite that led to it.
    await logged("POST /v1/console/sessions", session.id);
    const invited = (await entries("?action=POST%20/v1/console/invites")).entries[0]!;
    assert.equal(invited.actorKind, "deployment");
    assert.equal(invited.schoolId, "north");
    assert.doesNotMatch(JSON.stringify(invited), /invite=/, "the link is never logged");
  });

  test("bearer changes are logged; secrets never; reads are not", async () => {
    const admin = await issueSchoolAdmin(h.app, "south");
    const kiosk = await request(h.app)
      .post("/v1/kiosks")
      .set(admin.auth)
      .send({ id: "hall", name: "Hall" });
    assert.equal(kiosk.status, 201, kiosk.text);
    const kioskId = kiosk.body.id as string;
    await request(h.app).post(`/v1/kiosks/${kioskId}/pairing`).set(admin.auth).expect(201);
    const issued = await logged("POST /v1/schools/:schoolId/admins", "south");
    assert.equal(issued.actorKind, "deployment");
    const made = await logged("POST /v1/kiosks", kioskId);
    assert.equal(made.actorId, admin.id);
    assert.equal(made.sessionId, null);
    const paired = await logged("POST /v1/kiosks/:id/pairing", kioskId);
    assert.equal(paired.schoolId, "south");
    await request(h.app).post(`/v1/kiosks/${kioskId}/pairing`).set(ADMIN).expect(201);
    await eventually("the deployment admin's pairing logged with the kiosk's school", async () =>
      (await entries("?action=POST%20/v1/kiosks/:id/pairing&actor=deployment")).entries.some(
        (e) => e.objectId === kioskId && e.schoolId === "south",
      ),
    );
    assert.doesNotMatch(JSON.stringify([issued, made, paired]), /tfs_|token|#code=|<svg/);
    await request(h.app).get("/v1/kiosks").set(admin.auth).expect(200);
    assert.equal((await entries("?action=GET%20/v1/kiosks")).entries.length, 0);
  });

  test("a roster's names never reach the log; a CSV import is logged by its size", async () => {
    const admin = await issueSchoolAdmin(h.app, "north");
    await request(h.app)
      .put("/v1/schools/north/people/p-0001")
      .set(admin.auth)
      .send({ name: "Ada Lovelace", groups: ["7a"] })
      .expect(201);
    await request(h.app)
      .patch("/v1/schools/north/people/p-0001")
      .set(admin.auth)
      .send({ name: "Ada King", groups: ["7b"] })
      .expect(200);
    const csv = "id,name,groups\np-0002,Grace Hopper,7a\n";
    // A preview through the console's session: its cookie and CSRF header, as the page sends
    // them; without the header, refused. It changes nothing, so it is not logged.
    const preview = () =>
      request(h.app)
        .post("/v1/schools/north/people/import?dryRun=true")
        .set({ Cookie: session.cookie, "Content-Type": "text/csv" });
    expectError(await preview().send(csv), 403, "csrf_failed");
    const previewed = await preview().set("X-CSRF-Token", session.csrf).send(csv);
    assert.equal(previewed.status, 200, previewed.text);
    assert.equal(previewed.body.created, 1);
    const imported = await request(h.app)
      .post("/v1/schools/north/people/import")
      .set({ ...admin.auth, "Content-Type": "text/csv" })
      .send(csv);
    assert.equal(imported.status, 200, imported.text);
    const erasure = await request(h.app)
      .delete("/v1/schools/north/people/p-0001")
      .set(admin.auth)
      .expect(200);
    const put = await logged("PUT /v1/schools/:schoolId/people/:personId", "p-0001");
    const patched = await logged("PATCH /v1/schools/:schoolId/people/:personId", "p-0001");
    const erased = await logged("DELETE /v1/schools/:schoolId/people/:personId", "p-0001");
    const bulk = await logged("POST /v1/schools/:schoolId/people/import", "north");
    assert.deepEqual(bulk.changes, { requestBytes: Buffer.byteLength(csv) });
    assert.deepEqual(patched.changes, { groups: { before: ["7a"], after: ["7b"] } });
    assert.deepEqual((put.changes!.request as { groups: string[] }).groups, ["7a"]);
    assert.doesNotMatch(JSON.stringify([put, patched, erased, bulk]), /Ada|Lovelace|King|Grace/);
    // The person as they were before the erasure (no name); never the pseudonym, which
    // beside the erased id would link the person's events back to them.
    const gone = erased.changes!.before as Record<string, unknown>;
    assert.deepEqual(
      { id: gone.id, groups: gone.groups, active: gone.active, name: "name" in gone },
      { id: "p-0001", groups: ["7b"], active: true, name: false },
    );
    assert.doesNotMatch(JSON.stringify(erased), new RegExp(erasure.body.pseudonym));
    const imports = await entries(
      `?action=${encodeURIComponent("POST /v1/schools/:schoolId/people/import")}`,
    );
    assert.equal(imports.entries.length, 1, "the preview is not logged");
  });

  test("filters, keyset pages, and each school admin sees its own school only", async () => {
    const all = (await entries("?limit=500")).entries;
    assert.ok(all.length >= 8);
    const ids = all.map((e) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
      "newest first",
    );
    const paged: Entry[] = [];
    let cursor = "";
    for (;;) {
      const page = await entries(`?limit=3${cursor}`);
      paged.push(...page.entries);
      if (page.next === null) break;
      cursor = `&before=${page.next}`;
    }
    assert.deepEqual(
      paged.map((e) => e.id),
      all.map((e) => e.id),
    );

    assert.ok((await entries("?schoolId=south")).entries.every((e) => e.schoolId === "south"));
    assert.ok(
      (await entries("?actor=deployment")).entries.every((e) => e.actorKind === "deployment"),
    );
    const future = new Date(Date.now() + 60_000).toISOString();
    assert.equal((await entries(`?from=${encodeURIComponent(future)}`)).entries.length, 0);
    assert.equal((await entries(`?to=${encodeURIComponent(future)}`)).entries.length, all.length);

    const south = await issueSchoolAdmin(h.app, "south");
    const seen = (await entries("", south.auth)).entries;
    assert.ok(seen.length > 0 && seen.every((e) => e.schoolId === "south"));
    expectError(
      await request(h.app).get("/v1/audit?schoolId=north").set(south.auth),
      404,
      "school_not_found",
    );
    expectError(await request(h.app).get("/v1/audit?limit=501").set(ADMIN), 400, "invalid_request");
    expectError(await request(h.app).get("/v1/audit"), 401, "unauthorized");
  });

  test("the CSV export streams the same entries; the log cannot be changed through the API", async () => {
    const all = (await entries("?limit=500")).entries;
    const res = await request(h.app).get("/v1/audit.csv").set(ADMIN);
    assert.equal(res.status, 200);
    assert.match(String(res.headers["content-type"]), /^text\/csv/);
    const rows = parse(res.text, { columns: true }) as Record<string, string>[];
    assert.deepEqual(
      rows.map((r) => r.id),
      all.map((e) => e.id),
    );
    assert.equal(rows[0]!.action, all[0]!.action);
    for (const method of ["put", "patch", "delete", "post"] as const)
      assert.equal(
        (await request(h.app)[method](`/v1/audit/${all[0]!.id}`).set(ADMIN)).status,
        404,
      );
  });
});
