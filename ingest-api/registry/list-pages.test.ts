import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { issueFields } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// The keyset pages of the admin lists GET /v1/polls, /v1/kiosks and /v1/schools (issue #27):
// a walk of every page holds each row once, in order, even while rows are added; another
// school's rows never appear; every query parameter is checked, naming it. Small pages
// (LIST_PAGE_MAX=5, LIST_PAGE_DEFAULT=3) so that a handful of rows makes several pages.

let h: IngestHarness;
const admins: Record<"a" | "b", TestSchoolAdmin> = {} as never;
type Auth = { Authorization: string };

const options = [
  { id: "yes", label: "Yes" },
  { id: "no", label: "No" },
];

async function createPoll(auth: Auth, id: string, title: string): Promise<string> {
  const res = await request(h.app).post("/v1/polls").set(auth).send({ id, title, options });
  assert.equal(res.status, 201, res.text);
  return res.body.id;
}

async function createKiosk(auth: Auth, id: string, name: string) {
  const res = await request(h.app).post("/v1/kiosks").set(auth).send({ id, name });
  assert.equal(res.status, 201, res.text);
  return { id: res.body.id as string, auth: { Authorization: `Bearer ${res.body.token}` } };
}

/**
 * Every page of `path` (a query string included), `during` run after the first page; each
 * page no longer than `limit`, its Link header the next page's URL when there is one.
 */
async function walk(
  auth: Auth,
  path: string,
  list: "polls" | "kiosks" | "schools",
  limit: number,
  during?: () => Promise<void>,
): Promise<string[]> {
  const seen: string[] = [];
  let next: string | null = null;
  let pages = 0;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const url: string = `${path}${sep}limit=${limit}${next === null ? "" : `&after=${next}`}`;
    const res = await request(h.app).get(url).set(auth).expect(200);
    const rows = res.body[list] as { id: string }[];
    assert.ok(rows.length <= limit, `${rows.length} rows in a page of ${limit}`);
    seen.push(...rows.map((r) => r.id));
    next = res.body.next;
    if (next === null) assert.equal(res.headers.link, undefined);
    else assert.match(res.headers.link ?? "", new RegExp(`[?&]after=${next}[&>]`));
    if (pages++ === 0) await during?.();
    assert.ok(pages < 100, "the walk ends");
  } while (next !== null);
  return seen;
}

before(async () => {
  h = await startIngestHarness({ LIST_PAGE_MAX: "5", LIST_PAGE_DEFAULT: "3" });
  for (const key of ["a", "b"] as const) {
    await createSchool(h.app, `list-${key}`, {
      name: key === "a" ? "Alder school" : "Birch school",
    });
    admins[key] = await issueSchoolAdmin(h.app, `list-${key}`);
  }
});
after(() => h?.close());

describe("GET /v1/polls pages", () => {
  const made: string[] = [];
  before(async () => {
    for (let i = 0; i < 7; i++)
      made.push(await createPoll(admins.a.auth, `p${i}`, i % 2 === 0 ? `Lunch ${i}` : `Trip ${i}`));
    for (let i = 0; i < 3; i++) await createPoll(admins.b.auth, `p${i}`, `Lunch ${i}`);
  });

  test("a school admin's walk: its polls once each, in creation order, new ones at the end", async () => {
    const late: string[] = [];
    const seen = await walk(admins.a.auth, "/v1/polls", "polls", 2, async () => {
      late.push(await createPoll(admins.a.auth, "late", "Late"));
      await createPoll(admins.b.auth, "late", "Late");
    });
    assert.deepEqual(seen, [...made, ...late]);
  });

  test("the deployment admin's ?schoolId= holds that school's only; ?q= a prefix of id or title", async () => {
    const b = await walk(ADMIN, "/v1/polls?schoolId=list-b", "polls", 2);
    assert.equal(b.length, 4);
    const res = await request(h.app).get("/v1/polls?schoolId=list-b&limit=5").set(ADMIN);
    assert.ok(res.body.polls.every((p: { schoolId: string }) => p.schoolId === "list-b"));
    const trips = await walk(admins.a.auth, "/v1/polls?q=tRiP", "polls", 2);
    assert.deepEqual(trips, [made[1], made[3], made[5]]);
    // A LIKE wildcard is a character like any other.
    assert.deepEqual(await walk(admins.a.auth, "/v1/polls?q=%25", "polls", 5), []);
  });

  test("a school admin naming another school is 404; without limit, LIST_PAGE_DEFAULT", async () => {
    await request(h.app).get("/v1/polls?schoolId=list-b").set(admins.a.auth).expect(404);
    const res = await request(h.app).get("/v1/polls").set(admins.a.auth).expect(200);
    assert.equal(res.body.polls.length, 3);
    assert.equal(typeof res.body.next, "string");
  });
});

describe("GET /v1/kiosks pages", () => {
  const made: { id: string; auth: Auth }[] = [];
  before(async () => {
    for (let i = 0; i < 6; i++) made.push(await createKiosk(admins.a.auth, `k${i}`, `Hall ${i}`));
    await createKiosk(admins.b.auth, "k0", "Hall 0");
  });

  test("in creation order, stable while kiosks are added, never another school's", async () => {
    const late: string[] = [];
    const seen = await walk(admins.a.auth, "/v1/kiosks", "kiosks", 4, async () => {
      late.push((await createKiosk(admins.a.auth, "late", "Late")).id);
      await createKiosk(admins.b.auth, "late", "Late");
    });
    assert.deepEqual(seen, [...made.map((k) => k.id), ...late]);
  });

  test("by attention: votes waiting first (most first), then the rest; each kiosk once", async () => {
    const beat = (i: number, pending: number) =>
      request(h.app).post("/v1/kiosk/heartbeat").set(made[i]!.auth).send({ pending }).expect(204);
    await beat(2, 5);
    await beat(4, 9);
    await beat(1, 0);
    await request(h.app).delete(`/v1/kiosks/${made[5]!.id}`).set(admins.a.auth).expect(200);
    const seen = await walk(admins.a.auth, "/v1/kiosks?sort=attention", "kiosks", 2);
    assert.equal(new Set(seen).size, seen.length, "no kiosk twice");
    assert.deepEqual(seen.slice(0, 2), [made[4]!.id, made[2]!.id], "votes waiting, most first");
    assert.equal(seen.at(-1), made[5]!.id, "revoked last");
    assert.equal(seen.length, 7);
    const everyone = await walk(ADMIN, "/v1/kiosks?sort=attention", "kiosks", 5);
    assert.deepEqual(everyone.slice(0, 2), seen.slice(0, 2));
    assert.equal(everyone.length, 9, "both schools for the deployment admin");
  });

  test("a cursor of one order is refused by the other", async () => {
    const created = await request(h.app).get("/v1/kiosks?limit=1").set(admins.a.auth);
    const res = await request(h.app)
      .get(`/v1/kiosks?sort=attention&after=${created.body.next}`)
      .set(admins.a.auth);
    assert.deepEqual(issueFields(res), ["after"]);
  });
});

describe("GET /v1/schools pages", () => {
  before(async () => {
    for (const id of ["list-c", "list-d", "list-e"]) await createSchool(h.app, id);
  });

  test("in id order; ?q= a prefix of the id or the name; figures on request", async () => {
    const all = await walk(ADMIN, "/v1/schools", "schools", 2);
    assert.deepEqual(all, [...all].sort());
    assert.ok(all.includes("list-a") && all.includes("list-e") && all.includes("default"));
    assert.deepEqual(await walk(ADMIN, "/v1/schools?q=list-", "schools", 2), [
      "list-a",
      "list-b",
      "list-c",
      "list-d",
      "list-e",
    ]);
    assert.deepEqual(await walk(ADMIN, "/v1/schools?q=birch", "schools", 2), ["list-b"]);
    const res = await request(h.app)
      .get("/v1/schools?q=list-b&figures=true")
      .set(ADMIN)
      .expect(200);
    const figures = res.body.schools[0].figures;
    assert.equal(figures.kiosks, 2);
    assert.equal(figures.polls, 4);
    assert.equal(figures.openPolls, 4);
    assert.equal(figures.votesWaiting, 0);
    // School a's kiosks reported 5 and 9 votes waiting above (this process, not yet in Redis).
    const a = await request(h.app).get("/v1/schools?q=list-a&figures=true").set(ADMIN);
    assert.equal(a.body.schools[0].figures.votesWaiting, 14);
    const plain = await request(h.app).get("/v1/schools?q=list-b").set(ADMIN).expect(200);
    assert.equal(plain.body.schools[0].figures, undefined);
  });

  test("a walk while schools are added holds each school once", async () => {
    const seen = await walk(ADMIN, "/v1/schools?q=list-", "schools", 2, async () => {
      await createSchool(h.app, "list-aa"); // before the cursor: not in this walk
      await createSchool(h.app, "list-f"); // after it: in this walk
    });
    assert.deepEqual(seen, ["list-a", "list-b", "list-c", "list-d", "list-e", "list-f"]);
  });
});

describe("GET /v1/audit pages", () => {
  test("newest first by `before`: a walk while changes are logged holds each older entry once, one school's only", async () => {
    const everything = await request(h.app).get("/v1/audit?limit=500").set(admins.a.auth);
    const expected = (everything.body.entries as { id: string }[]).map((e) => e.id);
    assert.ok(expected.length > 10, "the polls and kiosks made above are logged");
    const seen: string[] = [];
    let before = "";
    for (let page = 0; ; page++) {
      const res = await request(h.app).get(`/v1/audit?limit=4${before}`).set(admins.a.auth);
      assert.equal(res.status, 200, res.text);
      const entries = res.body.entries as { id: string; schoolId: string }[];
      assert.ok(
        entries.every((e) => e.schoolId === "list-a"),
        "the school's own entries only",
      );
      seen.push(...entries.map((e) => e.id));
      if (page === 0) {
        // Logged now: newer than the walk's cursor, so in none of its pages.
        await createPoll(admins.a.auth, `during-audit`, "During");
        await createPoll(admins.b.auth, `during-audit`, "During");
      }
      if (res.body.next === null) break;
      before = `&before=${res.body.next}`;
    }
    assert.deepEqual(seen, expected);
    for (const limit of ["0", "501", "x"]) {
      const res = await request(h.app).get(`/v1/audit?limit=${limit}`).set(ADMIN);
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(issueFields(res), ["limit"]);
    }
  });
});

describe("query parameters", () => {
  test("every parameter is checked, naming it (400 invalid_request, as the people pages)", async () => {
    const bad: [string, string][] = [
      ["/v1/polls?limit=0", "limit"],
      ["/v1/polls?limit=6", "limit"],
      ["/v1/polls?limit=1.5", "limit"],
      ["/v1/polls?limit=2&limit=3", "limit"],
      ["/v1/polls?after=not-a-cursor!", "after"],
      [`/v1/polls?after=${Buffer.from("p1").toString("base64url")}`, "after"],
      ["/v1/polls?colour=red", "colour"],
      ["/v1/kiosks?limit=6", "limit"],
      ["/v1/kiosks?sort=name", "sort"],
      ["/v1/kiosks?after=AAAA", "after"],
      ["/v1/kiosks?q=%01", "q"],
      ["/v1/schools?limit=99", "limit"],
      ["/v1/schools?figures=yes", "figures"],
      [`/v1/schools?after=${Buffer.from("not an id").toString("base64url")}`, "after"],
    ];
    for (const [url, field] of bad) {
      const res = await request(h.app).get(url).set(ADMIN);
      assert.equal(res.status, 400, `${url}: ${res.text}`);
      assert.deepEqual(issueFields(res), [field], url);
    }
  });

  test("the schools list is the deployment admin's", async () => {
    await request(h.app).get("/v1/schools").set(admins.a.auth).expect(403);
  });
});
