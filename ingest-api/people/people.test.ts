import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { expectError, issueFields, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { insertPoll, insertStoredVote } from "../../test-support/stored-votes.ts";

// The people API against Postgres: create, replace, change, read, erase, pages and exports,
// who sees names, and a school admin kept to its own school (another school's people answer
// as a school that does not exist).

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let h: IngestHarness;
let adminA: TestSchoolAdmin;
let adminB: TestSchoolAdmin;

before(async () => {
  // Small export chunks: an export of a few hundred people crosses several of them.
  h = await startIngestHarness({ PEOPLE_EXPORT_CHUNK_ROWS: "100" });
  await createSchool(h.app, "school-a");
  await createSchool(h.app, "school-b");
  adminA = await issueSchoolAdmin(h.app, "school-a");
  adminB = await issueSchoolAdmin(h.app, "school-b");
});
after(() => h?.close());

type Auth = { Authorization: string };
const as = (auth: Auth) => ({
  put: (path: string, body: unknown) =>
    request(h.app)
      .put(path)
      .set(auth)
      .send(body as object),
  patch: (path: string, body: unknown) =>
    request(h.app)
      .patch(path)
      .set(auth)
      .send(body as object),
  get: (path: string) => request(h.app).get(path).set(auth),
  delete: (path: string) => request(h.app).delete(path).set(auth),
  post: (path: string) => request(h.app).post(path).set(auth),
});
const deployment = as(ADMIN);
const people = (school: string) => `/v1/schools/${school}/people`;
const person = (school: string, id: string) => `${people(school)}/${encodeURIComponent(id)}`;

describe("PUT /v1/schools/:schoolId/people/:personId", () => {
  test("201 when created, 200 when replaced; the school's admin sees the name, the deployment admin null", async () => {
    const created = await as(adminA.auth).put(person("school-a", "S-1001"), {
      name: "  Ada Lovelace ",
      groups: ["5a", "choir"],
    });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.headers["cache-control"], "no-store");
    const { createdAt, updatedAt, ...rest } = created.body;
    assert.match(createdAt, ISO);
    assert.equal(updatedAt, createdAt);
    assert.deepEqual(rest, {
      schoolId: "school-a",
      id: "S-1001",
      name: "Ada Lovelace",
      groups: ["5a", "choir"],
      active: true,
    });

    // The deployment admin may write a name, and never reads one.
    const replaced = await deployment.put(person("school-a", "S-1001"), {
      name: "Ada King",
      active: false,
    });
    assert.equal(replaced.status, 200, replaced.text);
    assert.equal(replaced.body.name, null);
    assert.deepEqual(replaced.body.groups, [], "a replace resets what it leaves out");
    assert.equal(replaced.body.active, false);
    assert.equal(replaced.body.createdAt, createdAt);
    assert.equal((await deployment.get(person("school-a", "S-1001"))).body.name, null);
    const seen = await as(adminA.auth).get(person("school-a", "S-1001")).expect(200);
    assert.equal(seen.body.name, "Ada King");
    const { rows } = await h.db.pool.query(
      "select name, groups, active from people where school_id = 'school-a' and id = 'S-1001'",
    );
    assert.deepEqual(rows, [{ name: "Ada King", groups: [], active: false }]);
  });

  test("a replace that changes nothing keeps updatedAt; name null is no name", async () => {
    const path = person("school-a", "same");
    const first = await as(adminA.auth).put(path, { name: null, groups: ["x"] });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.body.name, null);
    await new Promise((r) => setTimeout(r, 5));
    const again = await as(adminA.auth).put(path, { name: null, groups: ["x"] });
    assert.equal(again.status, 200);
    assert.equal(again.body.updatedAt, first.body.updatedAt);
  });

  test("the id is a voter id's normal form: trimmed, NFC; a slash travels percent-encoded", async () => {
    const res = await as(adminA.auth).put(person("school-a", "  Jose\u0301 "), { name: "J" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.id, "Jos\u00e9");
    await as(adminA.auth).get(person("school-a", "Jos\u00e9")).expect(200);
    const slashed = await as(adminA.auth).put(person("school-a", "A/17"), { name: "Slash" });
    assert.equal(slashed.status, 201, slashed.text);
    assert.equal((await as(adminA.auth).get(person("school-a", "A/17"))).body.name, "Slash");
  });

  test("bad input names each field, never repeating a name", async () => {
    const secret = `Secret ${"x".repeat(200)}`;
    const cases: [unknown, string[]][] = [
      [{}, ["name"]],
      [{ name: secret }, ["name"]],
      [{ name: "a\nb" }, ["name"]],
      [{ name: "" }, ["name"]],
      [{ name: 5 }, ["name"]],
      [{ name: "A", groups: "5a" }, ["groups"]],
      [{ name: "A", groups: ["5 a"] }, ["groups.0"]],
      [{ name: "A", groups: ["5a", "5a"] }, ["groups"]],
      [{ name: "A", groups: Array.from({ length: 51 }, (_, i) => `g${i}`) }, ["groups"]],
      [{ name: "A", active: "yes" }, ["active"]],
      [{ name: "A", nickname: "B" }, ["nickname"]],
    ];
    for (const [body, fields] of cases) {
      const res = await as(adminA.auth).put(person("school-a", "bad"), body);
      assert.deepEqual(issueFields(res), fields, JSON.stringify(body).slice(0, 80));
      assert.ok(!res.text.includes("Secret"), "a name was repeated in an error");
    }
    const long = await as(adminA.auth).put(person("school-a", "x".repeat(129)), { name: "A" });
    assert.match(issueFor(long, "personId").message, /at most 128/);
    const backslash = await as(adminA.auth).put(person("school-a", "a\\b"), { name: "A" });
    assert.deepEqual(issueFields(backslash), ["personId"]);
    const badSchool = await as(ADMIN).put(person("no school!", "p"), { name: "A" });
    assert.deepEqual(issueFields(badSchool), ["schoolId"]);
    const { rowCount } = await h.db.pool.query("select 1 from people where id = 'bad'");
    assert.equal(rowCount, 0);
  });

  test("a school that does not exist: 404 school_not_found", async () => {
    const res = await deployment.put(person("nowhere", "p1"), { name: "A" });
    expectError(res, 404, "school_not_found");
  });
});

describe("PATCH and GET one", () => {
  test("PATCH changes what it names; name null removes the name; nothing changed keeps updatedAt", async () => {
    const path = person("school-a", "patched");
    const created = (await as(adminA.auth).put(path, { name: "Grace", groups: ["6b"] })).body;
    const renamed = await as(adminA.auth).patch(path, { name: "Grace Hopper" }).expect(200);
    assert.equal(renamed.body.name, "Grace Hopper");
    assert.deepEqual(renamed.body.groups, ["6b"]);
    assert.equal(renamed.body.active, true);
    const moved = await as(ADMIN)
      .patch(path, { groups: ["7a"], active: false })
      .expect(200);
    assert.equal(moved.body.name, null, "the deployment admin reads no name");
    assert.deepEqual(moved.body.groups, ["7a"]);
    assert.equal(moved.body.active, false);
    const kept = await as(adminA.auth).get(path).expect(200);
    assert.equal(kept.body.name, "Grace Hopper", "a PATCH without name keeps it");
    const noName = await as(adminA.auth).patch(path, { name: null }).expect(200);
    assert.equal(noName.body.name, null);
    const same = await as(adminA.auth)
      .patch(path, { groups: ["7a"] })
      .expect(200);
    assert.equal(same.body.updatedAt, noName.body.updatedAt);
    assert.equal(same.body.createdAt, created.createdAt);
    assert.deepEqual(issueFields(await as(adminA.auth).patch(path, { active: 1 })), ["active"]);
    assert.deepEqual(issueFields(await as(adminA.auth).patch(path, { id: "x" })), ["id"]);
  });

  test("an unknown person: 404 person_not_found (PATCH and GET); an unknown school: school_not_found", async () => {
    expectError(await as(adminA.auth).get(person("school-a", "ghost")), 404, "person_not_found");
    expectError(
      await as(adminA.auth).patch(person("school-a", "ghost"), { name: "G" }),
      404,
      "person_not_found",
    );
    expectError(await deployment.get(person("nowhere", "ghost")), 404, "school_not_found");
    expectError(await deployment.patch(person("nowhere", "g"), {}), 404, "school_not_found");
  });
});

describe("DELETE: erasure", () => {
  test("the row goes and the person's stored events stay counted under a pseudonym", async () => {
    await as(adminA.auth).put(person("school-a", "leaver"), { name: "Leaving Person" });
    await insertPoll(h.db.pool, "erase-poll", ["yes", "no"]);
    await h.db.pool.query("update polls set school_id = 'school-a' where id = 'erase-poll'");
    await insertPoll(h.db.pool, "other-school-poll", ["yes"]);
    await h.db.pool.query("update polls set school_id = 'school-b' where id = 'other-school-poll'");
    for (const poll of ["erase-poll", "erase-poll", "other-school-poll"]) {
      const eventId = await insertStoredVote(h.db.pool, poll, "yes");
      await h.db.pool.query("update votes set voter_id = 'leaver' where event_id = $1", [eventId]);
    }
    await h.db.pool.query(
      "insert into voter_ballots (poll_id, voter_id, event_id) values ('erase-poll', 'leaver', gen_random_uuid())",
    );
    const totalBefore = await h.db.pool.query(
      "select poll_id, count(*)::int as n from votes group by 1 order by 1",
    );

    const res = await as(adminA.auth).delete(person("school-a", "leaver"));
    assert.equal(res.status, 200, res.text);
    const { pseudonym, ...rest } = res.body;
    assert.deepEqual(rest, { erased: true, id: "leaver", eventsRewritten: 2 });
    assert.match(pseudonym, /^erased-[A-Za-z0-9_-]{16}$/);

    expectError(await as(adminA.auth).get(person("school-a", "leaver")), 404, "person_not_found");
    const { rows } = await h.db.pool.query(
      "select poll_id, voter_id from votes where voter_id in ('leaver', $1) order by poll_id, voter_id",
      [pseudonym],
    );
    assert.deepEqual(rows, [
      { poll_id: "erase-poll", voter_id: pseudonym },
      { poll_id: "erase-poll", voter_id: pseudonym },
      // Another school's voter of the same id is another person: untouched.
      { poll_id: "other-school-poll", voter_id: "leaver" },
    ]);
    const ballots = await h.db.pool.query("select voter_id from voter_ballots");
    assert.deepEqual(ballots.rows, [{ voter_id: pseudonym }]);
    const totalAfter = await h.db.pool.query(
      "select poll_id, count(*)::int as n from votes group by 1 order by 1",
    );
    assert.deepEqual(totalAfter.rows, totalBefore.rows, "totals do not change");

    // Erasing again: there is no one left to erase.
    expectError(
      await as(adminA.auth).delete(person("school-a", "leaver")),
      404,
      "person_not_found",
    );
    // A second erasure draws another pseudonym.
    await as(ADMIN).put(person("school-a", "leaver"), { name: "Back" });
    const second = await as(ADMIN).delete(person("school-a", "leaver")).expect(200);
    assert.notEqual(second.body.pseudonym, pseudonym);
    assert.equal(second.body.eventsRewritten, 0);
  });
});

describe("a school admin and another school's people", () => {
  test("every people route answers 404 school_not_found, as for a school that does not exist", async () => {
    await as(adminB.auth).put(person("school-b", "b-1"), { name: "Bea" });
    const csv = "id,name,groups\nb-1,Mallory,\n";
    const routes: [string, (school: string) => request.Test][] = [
      ["PUT one", (s) => as(adminA.auth).put(person(s, "b-1"), { name: "Mallory" })],
      ["PATCH one", (s) => as(adminA.auth).patch(person(s, "b-1"), { name: "Mallory" })],
      ["GET one", (s) => as(adminA.auth).get(person(s, "b-1"))],
      ["DELETE one", (s) => as(adminA.auth).delete(person(s, "b-1"))],
      ["GET list", (s) => as(adminA.auth).get(people(s))],
      ["GET list ?q", (s) => as(adminA.auth).get(`${people(s)}?q=b`)],
      [
        "POST import",
        (s) =>
          as(adminA.auth)
            .post(`${people(s)}/import`)
            .set("Content-Type", "text/csv")
            .send(csv),
      ],
      [
        "POST import replace",
        (s) =>
          as(adminA.auth)
            .post(`${people(s)}/import?mode=replace`)
            .set("Content-Type", "text/csv")
            .send(csv),
      ],
      ["GET export", (s) => as(adminA.auth).get(`${people(s)}/export`)],
    ];
    for (const [name, send] of routes) {
      const other = expectError(await send("school-b"), 404, "school_not_found");
      const missing = expectError(await send("school-z"), 404, "school_not_found");
      assert.equal(
        other.message.replace("school-b", "?"),
        missing.message.replace("school-z", "?"),
        `${name}: another school answers as a missing one`,
      );
    }
    // Nothing of school B changed, and its admin still sees its own.
    const bea = await as(adminB.auth).get(person("school-b", "b-1")).expect(200);
    assert.equal(bea.body.name, "Bea");
    assert.equal(bea.body.updatedAt, bea.body.createdAt);
  });

  test("a revoked school admin is refused (401)", async () => {
    const gone = await issueSchoolAdmin(h.app, "school-a", "Leaving");
    await as(gone.auth).get(people("school-a")).expect(200);
    await request(h.app).delete(`/v1/schools/school-a/admins/${gone.id}`).set(ADMIN).expect(200);
    expectError(await as(gone.auth).get(people("school-a")), 401, "unauthorized");
  });

  test("no token: 401", async () => {
    expectError(await request(h.app).get(people("school-a")), 401, "unauthorized");
  });
});

describe("GET /v1/schools/:schoolId/people: pages", () => {
  const ids = Array.from({ length: 120 }, (_, i) => `p${String(i).padStart(3, "0")}`);

  before(async () => {
    await createSchool(h.app, "paged");
    const rows = ids.map((id, i) => `${id},Pupil ${i},${i % 3 === 0 ? "red" : "blue"}`);
    const res = await request(h.app)
      .post(`${people("paged")}/import`)
      .set(ADMIN)
      .set("Content-Type", "text/csv")
      .send(`id,name,groups\n${rows.join("\n")}\n`);
    assert.equal(res.body.created, 120, res.text);
  });

  async function walk(auth: Auth, query: string, limit: number, during?: () => Promise<void>) {
    const seen: string[] = [];
    let next: string | null = null;
    let pages = 0;
    do {
      const after: string = next === null ? "" : `&after=${next}`;
      const res = await as(auth).get(`${people("paged")}?limit=${limit}${query}${after}`);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.items.length <= limit);
      seen.push(...res.body.items.map((p: { id: string }) => p.id));
      next = res.body.next;
      if (pages++ === 0) await during?.();
    } while (next !== null);
    return { seen, pages };
  }

  test("keyset pages in id order, the last with next null; stable under inserts", async () => {
    const admin = await issueSchoolAdmin(h.app, "paged");
    const { seen, pages } = await walk(admin.auth, "", 50);
    assert.deepEqual(seen, ids);
    assert.equal(pages, 3);
    // People added behind the cursor are not seen, those ahead are: nothing repeats or is skipped.
    const during = await walk(admin.auth, "", 50, async () => {
      for (const id of ["p000a", "p119z"])
        await as(ADMIN).put(person("paged", id), { name: "New" }).expect(201);
    });
    assert.deepEqual(during.seen, [...ids, "p119z"]);
    const first = await as(admin.auth).get(people("paged")).expect(200);
    assert.equal(first.body.items.length, 50, "limit defaults to 50");
    assert.equal(first.body.items[0].name, "Pupil 0", "the school's admin sees names");
    assert.equal(first.headers["cache-control"], "no-store");
    const byDeployment = await deployment.get(people("paged")).expect(200);
    assert.ok(byDeployment.body.items.every((p: { name: null }) => p.name === null));
    await as(ADMIN).delete(person("paged", "p000a")).expect(200);
    await as(ADMIN).delete(person("paged", "p119z")).expect(200);
  });

  test("ids are ordered bytewise (uppercase before lowercase, as the primary key)", async () => {
    await createSchool(h.app, "bytewise");
    for (const id of ["b", "B", "a", "Ä", "10", "9"])
      await deployment.put(person("bytewise", id), { name: "N" }).expect(201);
    const res = await deployment.get(people("bytewise")).expect(200);
    assert.deepEqual(
      res.body.items.map((p: { id: string }) => p.id),
      ["10", "9", "B", "a", "b", "Ä"],
    );
  });

  test("q: an id prefix (LIKE wildcards match as written), or part of a name for who sees names", async () => {
    const admin = await issueSchoolAdmin(h.app, "paged");
    const prefix = await walk(admin.auth, "&q=p01", 4);
    assert.deepEqual(prefix.seen, ids.slice(10, 20));
    assert.deepEqual((await walk(admin.auth, "&q=p_1", 50)).seen, [], "_ is not a wildcard");
    assert.deepEqual((await walk(admin.auth, "&q=%25", 50)).seen, [], "% is not a wildcard");
    // Name search: case-insensitive, anywhere in the name; with the id prefix matches too.
    const named = await walk(admin.auth, `&q=${encodeURIComponent("PUPIL 11")}`, 50);
    assert.deepEqual(named.seen, ["p011", ...ids.slice(110, 120)]);
    // The deployment admin's q searches ids only: names are not probed through it.
    assert.deepEqual((await walk(ADMIN, "&q=pupil", 50)).seen, []);
    assert.deepEqual((await walk(ADMIN, "&q=p11", 50)).seen, ids.slice(110, 120));
    const blank = await as(admin.auth)
      .get(`${people("paged")}?q=%20%20&limit=500`)
      .expect(200);
    assert.equal(blank.body.items.length, 120, "a blank q lists everyone");
  });

  test("group: the members of that group, paged", async () => {
    const red = await walk(ADMIN, "&group=red", 7);
    assert.deepEqual(
      red.seen,
      ids.filter((_, i) => i % 3 === 0),
    );
    const both = await walk(ADMIN, "&group=red&q=p00", 50);
    assert.deepEqual(both.seen, ["p000", "p003", "p006", "p009"]);
    assert.deepEqual((await walk(ADMIN, "&group=green", 50)).seen, []);
  });

  test("every query parameter is checked, naming it", async () => {
    const bad: [string, string][] = [
      ["limit=0", "limit"],
      ["limit=501", "limit"],
      ["limit=abc", "limit"],
      ["limit=-1", "limit"],
      ["limit=1.5", "limit"],
      ["limit=5&limit=6", "limit"],
      ["after=not-a-cursor!", "after"],
      [`after=${Buffer.from(" p001").toString("base64url")}`, "after"],
      [`after=${Buffer.from("p001").toString("base64")}=`, "after"],
      ["group=red%20team", "group"],
      [`q=${"x".repeat(129)}`, "q"],
      ["q=a%0Ab", "q"],
      ["sort=name", "sort"],
    ];
    for (const [query, field] of bad) {
      const res = await deployment.get(`${people("paged")}?${query}`);
      assert.deepEqual(issueFields(res), [field], query);
    }
    const max = await deployment.get(`${people("paged")}?limit=500`).expect(200);
    assert.equal(max.body.items.length, 120);
    assert.equal(max.body.next, null);
  });

  test("a school without people: an empty page; a school that does not exist: 404", async () => {
    await createSchool(h.app, "empty-school");
    const empty = await deployment.get(people("empty-school")).expect(200);
    assert.deepEqual(empty.body, { items: [], next: null });
    expectError(await deployment.get(people("no-such-school")), 404, "school_not_found");
    // An empty page of a real school past its end is not a 404 either.
    const past = Buffer.from("zzz").toString("base64url");
    const end = await deployment.get(`${people("paged")}?after=${past}`).expect(200);
    assert.deepEqual(end.body, { items: [], next: null });
  });
});

describe("GET /v1/schools/:schoolId/people/export", () => {
  test("CSV of the active people in id order, names only for the school's own admin", async () => {
    await createSchool(h.app, "exported");
    const admin = await issueSchoolAdmin(h.app, "exported");
    const rows = Array.from(
      { length: 250 },
      (_, i) => `e${String(i).padStart(3, "0")},Name ${i},g${i % 2}`,
    );
    const imported = await request(h.app)
      .post(`${people("exported")}/import`)
      .set(admin.auth)
      .set("Content-Type", "text/csv")
      .send(`id,name,groups\n${rows.join("\n")}\n`);
    assert.equal(imported.body.created, 250, imported.text);
    await as(admin.auth).put(person("exported", "quoted"), {
      name: 'O"Brien, Pat',
      groups: ["a", "b"],
    });
    await as(admin.auth).put(person("exported", "inactive"), { name: "Gone", active: false });

    const res = await as(admin.auth).get(`${people("exported")}/export`);
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers["content-type"]), /^text\/csv; charset=utf-8/);
    assert.equal(res.headers["content-disposition"], 'attachment; filename="people-exported.csv"');
    assert.equal(res.headers["cache-control"], "no-store");
    assert.ok(
      res.text.startsWith("\ufeffid,name,groups\r\n"),
      JSON.stringify(res.text.slice(0, 30)),
    );
    const lines = res.text.slice(1).trimEnd().split("\r\n");
    assert.equal(lines.length, 1 + 250 + 1, "every active person, once (chunks of 100)");
    assert.equal(lines[1], "e000,Name 0,g0");
    assert.equal(lines.at(-2), "e249,Name 249,g1");
    assert.equal(lines.at(-1), 'quoted,"O""Brien, Pat",a;b');
    assert.ok(!res.text.includes("inactive"), "inactive people are not exported");

    const byDeployment = await deployment.get(`${people("exported")}/export`).expect(200);
    const deploymentLines = byDeployment.text.slice(1).trimEnd().split("\r\n");
    assert.equal(deploymentLines[1], "e000,,g0");
    assert.ok(!byDeployment.text.includes("Name"), "no name reaches the deployment admin");

    // The export imports back as it is: nothing changes.
    const again = await request(h.app)
      .post(`${people("exported")}/import`)
      .set(admin.auth)
      .set("Content-Type", "text/csv")
      .send(res.text);
    assert.equal(again.status, 200, again.text);
    assert.deepEqual(
      { ...again.body, errors: again.body.errors.length },
      {
        mode: "upsert",
        rows: 251,
        created: 0,
        updated: 0,
        unchanged: 251,
        errorCount: 0,
        errors: 0,
      },
    );
    // Nor does the deployment admin's export, names empty: an empty name keeps the name.
    await request(h.app)
      .post(`${people("exported")}/import`)
      .set(ADMIN)
      .set("Content-Type", "text/csv")
      .send(byDeployment.text)
      .expect(200);
    const kept = await as(admin.auth).get(person("exported", "e007")).expect(200);
    assert.equal(kept.body.name, "Name 7");
  });

  test("a school that does not exist: 404 before any CSV", async () => {
    expectError(
      await deployment.get(`${people("no-such-school")}/export`),
      404,
      "school_not_found",
    );
  });
});
