import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import pg from "pg";
import request from "supertest";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import { eventually } from "../../harness/waiting.ts";
import { expectError, issueFields } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// POST /v1/schools/:schoolId/people/import against Postgres: what a roster file does, line
// by line, and the files refused whole. Limits are small here so that each is reached.

const MAX_BYTES = 300_000;
const MAX_ROWS = 20_000;
const MAX_ERRORS = 5;

let h: IngestHarness;
let admin: TestSchoolAdmin;

before(async () => {
  h = await startIngestHarness({
    PEOPLE_IMPORT_MAX_BYTES: String(MAX_BYTES),
    PEOPLE_IMPORT_MAX_ROWS: String(MAX_ROWS),
    PEOPLE_IMPORT_MAX_ERRORS: String(MAX_ERRORS),
  });
  await createSchool(h.app, "roster");
  admin = await issueSchoolAdmin(h.app, "roster");
});
after(() => h?.close());

let schools = 0;
/** A school of its own for one test, with its admin. */
async function freshSchool(): Promise<{ id: string; auth: { Authorization: string } }> {
  const id = `school-${++schools}`;
  await createSchool(h.app, id);
  return { id, auth: (await issueSchoolAdmin(h.app, id)).auth };
}

function importCsv(
  school: string,
  body: string | Buffer,
  { auth = admin.auth, query = "", type = "text/csv" } = {},
) {
  return request(h.app)
    .post(`/v1/schools/${school}/people/import${query}`)
    .set(auth)
    .set("Content-Type", type)
    .send(body);
}

async function roster(school: string) {
  const { rows } = await h.db.pool.query<{
    id: string;
    name: string | null;
    groups: string[];
    active: boolean;
  }>("select id, name, groups, active from people where school_id = $1 order by id", [school]);
  return rows;
}

const countOf = (body: Record<string, unknown>) => {
  const { errors: _e, ...counts } = body;
  return counts;
};

describe("importing a roster", () => {
  test("an upsert by id: created, updated, unchanged; idempotent", async () => {
    const school = await freshSchool();
    const file = "id,name,groups\n1001,Ada Lovelace,5a;choir\n1002,Alan Turing,5b\n1003,,\n";
    const first = await importCsv(school.id, file, { auth: school.auth });
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(first.body, {
      mode: "upsert",
      rows: 3,
      created: 3,
      updated: 0,
      unchanged: 0,
      errorCount: 0,
      errors: [],
    });
    assert.deepEqual(await roster(school.id), [
      { id: "1001", name: "Ada Lovelace", groups: ["5a", "choir"], active: true },
      { id: "1002", name: "Alan Turing", groups: ["5b"], active: true },
      { id: "1003", name: null, groups: [], active: true },
    ]);
    const again = await importCsv(school.id, file, { auth: school.auth });
    assert.deepEqual(countOf(again.body), {
      mode: "upsert",
      rows: 3,
      created: 0,
      updated: 0,
      unchanged: 3,
      errorCount: 0,
    });
    const changed = await importCsv(
      school.id,
      "id,name,groups\n1001,Ada King,5a;choir\n1002,,6b\n1004,Grace Hopper,\n",
      { auth: school.auth },
    );
    assert.deepEqual(countOf(changed.body), {
      mode: "upsert",
      rows: 3,
      created: 1,
      updated: 2,
      unchanged: 0,
      errorCount: 0,
    });
    assert.deepEqual(await roster(school.id), [
      { id: "1001", name: "Ada King", groups: ["5a", "choir"], active: true },
      // An empty name cell keeps the name (an export without names imports back harmless).
      { id: "1002", name: "Alan Turing", groups: ["6b"], active: true },
      { id: "1003", name: null, groups: [], active: true },
      { id: "1004", name: "Grace Hopper", groups: [], active: true },
    ]);
  });

  test("the documentation's example file (docs/examples/roster.csv) imports as docs/people.md says", async () => {
    const school = await freshSchool();
    const file = await readFile(join(REPO_ROOT, "docs", "examples", "roster.csv"));
    const res = await importCsv(school.id, file, { auth: school.auth });
    assert.deepEqual(countOf(res.body), {
      mode: "upsert",
      rows: 5,
      created: 5,
      updated: 0,
      unchanged: 0,
      errorCount: 0,
    });
    assert.deepEqual(await roster(school.id), [
      { id: "S-1001", name: "Ada Lovelace", groups: ["5a", "choir"], active: true },
      { id: "S-1002", name: "Turing, Alan", groups: ["5b"], active: true },
      { id: "S-1003", name: 'Jo "JJ" Jones', groups: ["5a", "football", "chess"], active: true },
      { id: "S-1004", name: "Grace Hopper", groups: [], active: true },
      { id: "T-0042", name: null, groups: ["staff"], active: true },
    ]);
  });

  test("RFC 4180: quoted commas, quotes and line breaks; CRLF; a BOM; blank lines; spaces around groups", async () => {
    const school = await freshSchool();
    const file =
      "\ufeffID , Name,GROUPS\r\n" +
      '"A1","Smith, John","5a; choir "\r\n' +
      '"A2","Jo ""JJ"" Jones",\r\n' +
      "\r\n" +
      'A3,"Two\r\nlines",x\r\n' +
      'A4,Jo "Quote" Smith,;;y;\r\n' +
      "A5,   Trimmed   ,\r\n" +
      '"A6","Quoted" then not,\r\n';
    const res = await importCsv(school.id, file, { auth: school.auth });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.created, 5, res.text);
    // A name holds no line break: the row is an error on the line it starts on (5).
    assert.deepEqual(res.body.errors, [
      { line: 5, field: "name", message: "must not contain control characters" },
    ]);
    assert.deepEqual(await roster(school.id), [
      { id: "A1", name: "Smith, John", groups: ["5a", "choir"], active: true },
      { id: "A2", name: 'Jo "JJ" Jones', groups: [], active: true },
      { id: "A4", name: 'Jo "Quote" Smith', groups: ["y"], active: true },
      { id: "A5", name: "Trimmed", groups: [], active: true },
      // A quote a quoted cell does not end with is taken as written, as in an unquoted one.
      { id: "A6", name: '"Quoted" then not', groups: [], active: true },
    ]);
  });

  test("each bad row is an error on its line (the header is line 1); the other rows are imported", async () => {
    const school = await freshSchool();
    const secret = `Secretname ${"z".repeat(200)}`;
    const file = [
      "id,name,groups",
      "ok-1,Fine,5a", // 2
      "bad\\id,Backslash,", // 3
      ",No id,", // 4
      `ok-2,${secret},`, // 5
      "ok-3,Fine,5 a", // 6
      `ok-4,Fine,${Array.from({ length: 51 }, (_, i) => `g${i}`).join(";")}`, // 7
      "ok-5,Fine,5a;5a", // 8
      '"multi', // 9: a quoted id spanning two lines (a line break is a control character)
      'line",Fine,', // 10
      "ok-1,Again,", // 11: the id of line 2
      "ok-6,Fine,x,extra", // 12
      "ok-7", // 13
      `${"x".repeat(129)},Fine,`, // 14
      "ok-8, Last ,z", // 15
    ].join("\n");
    const res = await importCsv(school.id, file, { auth: school.auth });
    assert.equal(res.status, 200, res.text);
    assert.ok(!res.text.includes("Secretname"), "a name appeared in the answer");
    assert.deepEqual(countOf(res.body), {
      mode: "upsert",
      rows: 13,
      created: 2,
      updated: 0,
      unchanged: 0,
      errorCount: 11,
    });
    // Only the first MAX_ERRORS are listed; errorCount has them all.
    assert.equal(res.body.errors.length, MAX_ERRORS);
    const all = await importCsv(school.id, file, { auth: school.auth });
    assert.deepEqual(
      all.body.errors.map((e: { line: number; field: string }) => `${e.line} ${e.field}`),
      ["3 id", "4 id", "5 name", "6 groups", "7 groups"],
    );
    assert.match(all.body.errors[3].message, /^group 1 must be 1-64 letters/);
    assert.match(all.body.errors[4].message, /at most 50 groups/);
    assert.deepEqual(
      (await roster(school.id)).map((p) => p.id),
      ["ok-1", "ok-8"],
    );
  });

  test("the lines past the first errors: repeated id, cell counts, a long id", async () => {
    await createSchool(h.app, "few-errors");
    const file = [
      "id,name,groups",
      "r-1,One,", // 2
      "r-2,Two,x;x", // 3: a group repeated
      "r-1,Again,", // 4: the id of line 2
      "r-3,Three,x,extra", // 5: four cells
      "r-4", // 6: one cell
      `${"x".repeat(129)},Long,`, // 7
    ].join("\n");
    const res = await importCsv("few-errors", file, { auth: ADMIN });
    assert.deepEqual(res.body.errors, [
      { line: 3, field: "groups", message: "must not repeat a group" },
      { line: 4, field: "id", message: "repeats the id of line 2" },
      {
        line: 5,
        field: "row",
        message: "has 4 cells, the header 3 (id,name,groups): quote a cell that holds a comma",
      },
      {
        line: 6,
        field: "row",
        message: "has 1 cells, the header 3 (id,name,groups): quote a cell that holds a comma",
      },
      { line: 7, field: "id", message: "must be at most 128 characters" },
    ]);
    assert.deepEqual(
      (await roster("few-errors")).map((p) => [p.id, p.name]),
      [["r-1", "One"]],
      "the first of a repeated id is imported, the repeat is not",
    );
  });

  test("ids are normalised as voter ids: a trimmed or NFC-equal id is the same person", async () => {
    const school = await freshSchool();
    const res = await importCsv(
      school.id,
      "id,name,groups\n  Jose\u0301  ,One,\nJos\u00e9,Two,\n",
      { auth: school.auth },
    );
    assert.deepEqual(res.body.errors, [
      { line: 3, field: "id", message: "repeats the id of line 2" },
    ]);
    assert.deepEqual(
      (await roster(school.id)).map((p) => p.id),
      ["Jos\u00e9"],
    );
  });

  test("mode=replace deactivates the people the file leaves out; an upsert makes them active again", async () => {
    const school = await freshSchool();
    await importCsv(school.id, "id,name,groups\na,A,\nb,B,\nc,C,\nd,D,\n", { auth: school.auth });
    const replaced = await importCsv(
      school.id,
      // d's row is bad: it is in the file, so it is not deactivated.
      "id,name,groups\na,A,\nb,B2,\nd,D,bad group\ne,E,\n",
      { auth: school.auth, query: "?mode=replace" },
    );
    assert.equal(replaced.status, 200, replaced.text);
    assert.deepEqual(countOf(replaced.body), {
      mode: "replace",
      rows: 4,
      created: 1,
      updated: 1,
      unchanged: 1,
      deactivated: 1,
      errorCount: 1,
    });
    assert.deepEqual(
      (await roster(school.id)).map((p) => `${p.id}:${p.active}`),
      ["a:true", "b:true", "c:false", "d:true", "e:true"],
    );
    const back = await importCsv(school.id, "id,name,groups\nc,C,\n", { auth: school.auth });
    assert.deepEqual([back.body.updated, back.body.deactivated], [1, undefined]);
    assert.equal((await roster(school.id)).find((p) => p.id === "c")?.active, true);
    const noop = await importCsv(school.id, "id,name,groups\n", {
      auth: school.auth,
      query: "?mode=upsert",
    });
    assert.deepEqual(countOf(noop.body), {
      mode: "upsert",
      rows: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      errorCount: 0,
    });
    for (const query of ["?mode=merge", "?mode=replace&mode=upsert", "?dryRun=1", "?dry=true"]) {
      const res = await importCsv(school.id, "id,name,groups\n", { auth: school.auth, query });
      // ?dryRun=1: a value it does not take; ?dry: a parameter it does not know.
      const field = ({ "?dryRun=1": "dryRun", "?dry=true": "dry" } as Record<string, string>)[
        query
      ];
      assert.deepEqual(issueFields(res), [field ?? "mode"], query);
    }
  });

  test("?dryRun=true: the import's own answer, its row errors included, and nothing written", async () => {
    const school = await freshSchool();
    await importCsv(school.id, "id,name,groups\na,A,x\nb,B,\nc,C,\n", { auth: school.auth });
    const before = await h.db.pool.query(
      "select id, name, groups, active, updated_at from people where school_id = $1 order by id",
      [school.id],
    );
    const listener = new pg.Client({ connectionString: h.db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query("listen tallyflow_people");
    const file = "id,name,groups\na,A,x\nb,B2,\nback\\slash,,\nd,D,not a group\ne,E,\n";
    try {
      const preview = await importCsv(school.id, file, {
        auth: school.auth,
        query: "?mode=replace&dryRun=true",
      });
      assert.equal(preview.status, 200, preview.text);
      // Written nothing: the same rows, the same updated_at, and no roster notification.
      const after = await h.db.pool.query(
        "select id, name, groups, active, updated_at from people where school_id = $1 order by id",
        [school.id],
      );
      assert.deepEqual(after.rows, before.rows);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(heard, []);

      const applied = await importCsv(school.id, file, {
        auth: school.auth,
        query: "?mode=replace&dryRun=false",
      });
      assert.equal(applied.status, 200, applied.text);
      const { dryRun, ...previewed } = preview.body;
      assert.equal(dryRun, true);
      assert.equal(applied.body.dryRun, undefined);
      assert.deepEqual(previewed, applied.body, "a preview answers what the import then does");
      assert.deepEqual(countOf(applied.body), {
        mode: "replace",
        rows: 5,
        created: 1,
        updated: 1,
        unchanged: 1,
        deactivated: 1,
        errorCount: 2,
      });
      assert.deepEqual(
        applied.body.errors.map((e: { line: number; field: string }) => `${e.line}:${e.field}`),
        ["4:id", "5:groups"],
      );
      await eventually("the applied import's notification", async () =>
        heard.length > 0 ? true : undefined,
      );
    } finally {
      await listener.end();
    }
    // A file refused whole is refused the same in a preview.
    const unreadable = await importCsv(school.id, "name,id\n", {
      auth: school.auth,
      query: "?dryRun=true",
    });
    assert.equal(unreadable.status, 400);
    assert.equal(unreadable.body.error.code, "invalid_csv");
  });

  test("one import is one notification of the school's roster, whatever its size", async () => {
    const school = await freshSchool();
    const listener = new pg.Client({ connectionString: h.db.url });
    await listener.connect();
    const heard: string[] = [];
    listener.on("notification", (n) => heard.push(n.payload ?? ""));
    await listener.query("listen tallyflow_people");
    try {
      const rows = Array.from({ length: 3_000 }, (_, i) => `n${i},Name ${i},g${i % 30}`);
      const res = await importCsv(school.id, `id,name,groups\n${rows.join("\n")}\n`, {
        auth: school.auth,
        query: "?mode=replace",
      });
      assert.equal(res.body.created, 3_000, res.text);
      await eventually("the notification", async () => (heard.length > 0 ? true : undefined));
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(heard, [school.id]);
    } finally {
      await listener.end();
    }
  });

  test("10,000 rows in one request", async () => {
    const school = await freshSchool();
    const rows = Array.from({ length: 10_000 }, (_, i) => `${100_000 + i},Pupil ${i},c${i % 40}`);
    const started = performance.now();
    const res = await importCsv(school.id, `id,name,groups\n${rows.join("\n")}\n`, {
      auth: school.auth,
    });
    const ms = performance.now() - started;
    assert.equal(res.body.created, 10_000, res.text);
    // The bench (npm run bench:people) measures it; here only a bound far above it.
    assert.ok(ms < 20_000, `${ms} ms`);
    assert.equal((await roster(school.id)).length, 10_000);
  });
});

describe("files refused whole (nothing is written)", () => {
  async function refused(body: string | Buffer, message: RegExp, line?: number) {
    const school = await freshSchool();
    const res = await importCsv(school.id, body, { auth: school.auth });
    const error = expectError(res, 400, "invalid_csv");
    assert.match(error.message, message);
    if (line !== undefined) assert.deepEqual(error.details, { line });
    assert.deepEqual(await roster(school.id), []);
    return error;
  }

  test("not UTF-8: says so, with the line of the first byte that is not", async () => {
    const latin1 = Buffer.concat([
      Buffer.from("id,name,groups\n1,Ok,\n2,Ren"),
      Buffer.from([0xe9]), // "é" in Latin-1
      Buffer.from("e,\n"),
    ]);
    await refused(latin1, /not UTF-8 .*line 3.*CSV UTF-8/, 3);
    const utf16 = Buffer.from("\ufeffid,name,groups\n1,A,\n", "utf16le");
    await refused(utf16, /not UTF-8/);
  });

  test("no header row, another header, or an empty body", async () => {
    await refused("1001,Ada,5a\n1002,Alan,5b\n", /no header row.*id,name,groups/, 1);
    await refused("\n\n1001,Ada,5a\n", /no header row: its first line \(line 3\)/, 3);
    await refused("id,groups,name\n1,5a,Ada\n", /header row \(line 1\) must be id,name,groups/, 1);
    await refused("id,name\n1,Ada\n", /header row/, 1);
    await refused("", /empty/);
    await refused("\r\n\n", /no header row/);
  });

  test("quoting that leaves no telling where a row ends: the line, no cell's content", async () => {
    const error = await refused(
      'id,name,groups\n1,Ok,\n2,"Secretname never closed,\n3,Fine,\n',
      /opened in the row starting on line 3 is never closed/,
      3,
    );
    assert.doesNotMatch(error.message, /Secretname/);
    const long = `id,name,groups\n1,"${"a".repeat(20_000)}\n`;
    await refused(long, /row starting on line 2 is longer than 16384 characters/, 2);
  });
});

describe("what the body must be", () => {
  test("415 for another Content-Type or charset; a charset of UTF-8 and gzip are fine", async () => {
    const school = await freshSchool();
    const file = "id,name,groups\n1,A,\n";
    expectError(
      await importCsv(school.id, file, { auth: school.auth, type: "application/json" }),
      415,
      "unsupported_media_type",
    );
    expectError(
      await importCsv(school.id, file, { auth: school.auth, type: "text/plain" }),
      415,
      "unsupported_media_type",
    );
    expectError(
      await importCsv(school.id, file, { auth: school.auth, type: "text/csv; charset=latin1" }),
      415,
      "unsupported_charset",
    );
    const utf8 = await importCsv(school.id, file, {
      auth: school.auth,
      type: "text/csv; charset=UTF-8",
    });
    assert.equal(utf8.body.created, 1, utf8.text);
    const gzipped = await request(h.app)
      .post(`/v1/schools/${school.id}/people/import`)
      .set(school.auth)
      .set("Content-Type", "text/csv")
      .set("Content-Encoding", "gzip")
      .send(gzipSync("id,name,groups\n2,B,\n"));
    assert.equal(gzipped.body.created, 1, gzipped.text);
  });

  test("413 beyond PEOPLE_IMPORT_MAX_BYTES, saying the limit; beyond PEOPLE_IMPORT_MAX_ROWS too", async () => {
    const school = await freshSchool();
    const big = `id,name,groups\n${"x,y,z\n".repeat(MAX_BYTES / 6)}`;
    const error = expectError(
      await importCsv(school.id, big, { auth: school.auth }),
      413,
      "body_too_large",
    );
    assert.match(error.message, new RegExp(`${MAX_BYTES} bytes.*PEOPLE_IMPORT_MAX_BYTES`));
    assert.deepEqual(error.details, { limitBytes: MAX_BYTES });
    // Chunked (no Content-Length): refused when the count passes the limit.
    const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(h.app)
        .post(`/v1/schools/${school.id}/people/import`)
        .set(school.auth)
        .set("Content-Type", "text/csv")
        .set("Transfer-Encoding", "chunked");
      req.write(big.slice(0, 200_000));
      req.write(big.slice(200_000));
      req.end((err, res) => (err ? reject(err) : resolve({ status: res.status, body: res.text })));
    });
    assert.equal(chunked.status, 413, chunked.body);
    const many = `id,name,groups\n${Array.from({ length: MAX_ROWS + 1 }, (_, i) => `${i},,`).join("\n")}`;
    assert.ok(Buffer.byteLength(many) < MAX_BYTES);
    const rows = expectError(
      await importCsv(school.id, many, { auth: school.auth }),
      413,
      "body_too_large",
    );
    assert.match(rows.message, new RegExp(`more than ${MAX_ROWS} rows.*PEOPLE_IMPORT_MAX_ROWS`));
    assert.deepEqual(await roster(school.id), []);
  });

  test("a school that does not exist: 404 before the file is read", async () => {
    expectError(
      await importCsv("no-such-school", "not a roster", { auth: ADMIN }),
      404,
      "school_not_found",
    );
  });
});
