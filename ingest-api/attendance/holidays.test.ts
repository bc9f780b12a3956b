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

// A school's holidays: created, renamed, listed by range, deleted; real dates only; kept by
// the school's own admin or the deployment admin, another school's admin answered as for a
// school that does not exist.

let h: IngestHarness;
let headA: TestSchoolAdmin;
let headB: TestSchoolAdmin;

before(async () => {
  h = await startIngestHarness({ HOLIDAYS_RANGE_MAX_DAYS: "366" });
  await createSchool(h.app, "ash");
  await createSchool(h.app, "yew");
  headA = await issueSchoolAdmin(h.app, "ash");
  headB = await issueSchoolAdmin(h.app, "yew");
});
after(() => h?.close());

type Auth = { Authorization: string };
const holidays = (school: string) => `/v1/schools/${school}/holidays`;
const put = (auth: Auth, school: string, date: string, body: unknown) =>
  request(h.app)
    .put(`${holidays(school)}/${date}`)
    .set(auth)
    .send(body as object);
const list = (auth: Auth, school: string, query: string) =>
  request(h.app)
    .get(`${holidays(school)}?${query}`)
    .set(auth);

describe("a school's holidays", () => {
  test("PUT creates (201) and renames (200); GET lists a range in date order; DELETE removes", async () => {
    const created = await put(headA.auth, "ash", "2026-12-25", { name: " Christmas Day " });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body, { schoolId: "ash", date: "2026-12-25", name: "Christmas Day" });
    const renamed = await put(ADMIN, "ash", "2026-12-25", { name: "Christmas" });
    assert.equal(renamed.status, 200, renamed.text);
    assert.equal(renamed.body.name, "Christmas");
    await put(headA.auth, "ash", "2027-01-01", { name: "New Year" }).expect(201);
    await put(headA.auth, "ash", "2026-12-24", { name: "Christmas Eve" }).expect(201);
    await put(headA.auth, "ash", "2028-02-29", { name: "Leap day" }).expect(201);
    // Another school's holiday on the same day is its own.
    await put(headB.auth, "yew", "2026-12-25", { name: "Yule" }).expect(201);

    const res = await list(headA.auth, "ash", "from=2026-12-01&to=2027-01-01");
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body, {
      schoolId: "ash",
      from: "2026-12-01",
      to: "2027-01-01",
      holidays: [
        { date: "2026-12-24", name: "Christmas Eve" },
        { date: "2026-12-25", name: "Christmas" },
        { date: "2027-01-01", name: "New Year" },
      ],
    });
    const one = await list(ADMIN, "ash", "from=2026-12-25&to=2026-12-25");
    assert.deepEqual(one.body.holidays, [{ date: "2026-12-25", name: "Christmas" }]);
    const { rows } = await h.db.pool.query(
      "select day::text as day, name from school_holidays where school_id = 'ash' order by day",
    );
    assert.equal(rows.length, 4);

    const deleted = await request(h.app)
      .delete(`${holidays("ash")}/2026-12-24`)
      .set(headA.auth);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual(deleted.body, { schoolId: "ash", date: "2026-12-24", name: "Christmas Eve" });
    expectError(
      await request(h.app)
        .delete(`${holidays("ash")}/2026-12-24`)
        .set(headA.auth),
      404,
      "holiday_not_found",
    );
    const after = await list(headA.auth, "ash", "from=2026-12-01&to=2026-12-31");
    assert.deepEqual(
      after.body.holidays.map((d: { date: string }) => d.date),
      ["2026-12-25"],
    );
    const empty = await list(headA.auth, "ash", "from=2030-01-01&to=2030-12-31");
    assert.deepEqual(empty.body.holidays, []);
  });

  test("dates are real YYYY-MM-DD dates, named as date", async () => {
    for (const date of [
      "2027-02-29",
      "2026-13-01",
      "2026-1-05",
      "20260105",
      "today",
      "2026-02-30",
    ]) {
      const res = await put(headA.auth, "ash", date, { name: "X" });
      assert.deepEqual(issueFields(res), ["date"], `${date}: ${res.text}`);
    }
    assert.deepEqual(
      issueFields(
        await request(h.app)
          .delete(`${holidays("ash")}/2026-02-30`)
          .set(headA.auth),
      ),
      ["date"],
    );
  });

  test("the name is required, 1-200 characters; nothing else is taken", async () => {
    assert.deepEqual(issueFields(await put(headA.auth, "ash", "2026-05-01", {})), ["name"]);
    assert.deepEqual(issueFields(await put(headA.auth, "ash", "2026-05-01", { name: "  " })), [
      "name",
    ]);
    assert.deepEqual(
      issueFields(await put(headA.auth, "ash", "2026-05-01", { name: "x".repeat(201) })),
      ["name"],
    );
    assert.deepEqual(issueFields(await put(headA.auth, "ash", "2026-05-01", { name: 1 })), [
      "name",
    ]);
    assert.deepEqual(
      issueFields(await put(headA.auth, "ash", "2026-05-01", { name: "May Day", day: "x" })),
      ["day"],
    );
  });

  test("the range: from and to required, real dates, to not before from, at most HOLIDAYS_RANGE_MAX_DAYS", async () => {
    assert.deepEqual(issueFields(await list(headA.auth, "ash", "to=2026-12-31")), ["from"]);
    assert.deepEqual(issueFields(await list(headA.auth, "ash", "from=2026-12-31")), ["to"]);
    assert.deepEqual(issueFields(await list(headA.auth, "ash", "from=2026-02-30&to=2026-12-31")), [
      "from",
    ]);
    const backwards = await list(headA.auth, "ash", "from=2026-12-31&to=2026-12-30");
    assert.match(issueFor(backwards, "to").message, /not be before from/);
    // 366 days, both counted, is the configured most; 367 is refused.
    await list(headA.auth, "ash", "from=2027-01-01&to=2028-01-01").expect(200);
    const long = await list(headA.auth, "ash", "from=2027-01-01&to=2028-01-02");
    assert.match(issueFor(long, "to").message, /at most 366 days/);
    assert.deepEqual(
      issueFields(await list(headA.auth, "ash", "from=2026-01-01&from=2026-02-01&to=2026-03-01")),
      ["from"],
    );
    assert.deepEqual(
      issueFields(await list(headA.auth, "ash", "from=2026-01-01&to=2026-03-01&limit=5")),
      ["limit"],
    );
  });

  test("another school's admin: the 404 of a missing school on every route; no token: 401", async () => {
    const asOther = [
      await put(headB.auth, "ash", "2026-06-01", { name: "X" }),
      await request(h.app)
        .delete(`${holidays("ash")}/2026-12-25`)
        .set(headB.auth),
      await list(headB.auth, "ash", "from=2026-01-01&to=2026-12-31"),
    ];
    const asMissing = [
      await put(ADMIN, "nowhere", "2026-06-01", { name: "X" }),
      await request(h.app)
        .delete(`${holidays("nowhere")}/2026-12-25`)
        .set(ADMIN),
      await list(ADMIN, "nowhere", "from=2026-01-01&to=2026-12-31"),
    ];
    for (const res of [...asOther, ...asMissing]) expectError(res, 404, "school_not_found");
    const { rows } = await h.db.pool.query(
      "select count(*)::int as n from school_holidays where school_id = 'ash' and day = '2026-06-01'",
    );
    assert.equal(rows[0].n, 0);
    expectError(
      await request(h.app)
        .put(`${holidays("ash")}/2026-06-01`)
        .send({ name: "X" }),
      401,
      "unauthorized",
    );
    expectError(
      await request(h.app).get(`${holidays("ash")}?from=2026-01-01&to=2026-01-02`),
      401,
      "unauthorized",
    );
  });
});
