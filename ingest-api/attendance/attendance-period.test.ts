import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { DateTime } from "luxon";
import request from "supertest";
import { expectError, issueFields, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// The attendance reads against Postgres: weeks and months (present days of the school days
// so far, weekdays less holidays, each day judged with the school's rules), a person's days,
// who may read them and who sees names. The writer's attendance_days rows are inserted here
// as the writer would leave them.

let h: IngestHarness;
let head: TestSchoolAdmin;
let otherHead: TestSchoolAdmin;

type Auth = { Authorization: string };

interface DayRow {
  closedSeconds?: number;
  firstIn?: string | null;
  lastOut?: string | null;
  openSince?: string | null;
  maxTemperatureC?: number | null;
  outsWithoutIn?: number;
  doubleIns?: number;
  events?: number;
}

/** A person-day as the writer stores it. */
async function storeDay(school: string, person: string, day: string, row: DayRow) {
  await h.db.pool.query(
    `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in, last_out,
       open_since, max_temperature_c, outs_without_in, double_ins, events)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      school,
      person,
      day,
      row.closedSeconds ?? 0,
      row.firstIn ?? null,
      row.lastOut ?? null,
      row.openSince ?? null,
      row.maxTemperatureC ?? null,
      row.outsWithoutIn ?? 0,
      row.doubleIns ?? 0,
      row.events ?? 2,
    ],
  );
}

const HOURS_5 = 5 * 3600;
/** Berlin in March before the 29th: UTC+1. */
const berlin = (day: string, hhmm: string) => `${day}T${hhmm}:00+01:00`;

before(async () => {
  h = await startIngestHarness({ ATTENDANCE_RANGE_MAX_DAYS: "31" });
  await createSchool(h.app, "north", { timeZone: "Europe/Berlin" });
  await createSchool(h.app, "south");
  head = await issueSchoolAdmin(h.app, "north");
  otherHead = await issueSchoolAdmin(h.app, "south");
  const people: [string, string, string[], boolean][] = [
    ["A-1", "Ada", ["7a"], true],
    ["B-2", "Bob", ["7a"], true],
    ["C-3", "Cy", ["7b"], true],
    ["D-4", "Di", ["7b"], true],
    ["Z-9", "Zed", ["7a"], false],
  ];
  for (const [id, name, groups, active] of people)
    await request(h.app)
      .put(`/v1/schools/north/people/${id}`)
      .set(head.auth)
      .send({ name, groups, active })
      .expect(201);
  // The week of Monday 2026-03-09; Wednesday the 11th a holiday: 4 school days.
  await request(h.app)
    .put("/v1/schools/north/holidays/2026-03-11")
    .set(head.auth)
    .send({ name: "Founders' Day" })
    .expect(201);
  // Ada: every school day, 5 h; late on the 9th (once lateAfter is set), a fever on the 10th.
  await storeDay("north", "A-1", "2026-03-09", {
    closedSeconds: HOURS_5,
    firstIn: berlin("2026-03-09", "08:30"),
    lastOut: berlin("2026-03-09", "13:30"),
  });
  await storeDay("north", "A-1", "2026-03-10", {
    closedSeconds: HOURS_5,
    firstIn: berlin("2026-03-10", "07:50"),
    lastOut: berlin("2026-03-10", "12:50"),
    maxTemperatureC: 38,
  });
  for (const day of ["2026-03-12", "2026-03-13", "2026-03-16", "2026-03-31"])
    await storeDay("north", "A-1", day, { closedSeconds: HOURS_5 });
  // Bob: three days of 5 h, and 3 h 59 min on the 13th (not present): 3 of 4 = 75 %.
  for (const day of ["2026-03-09", "2026-03-10", "2026-03-12"])
    await storeDay("north", "B-2", day, { closedSeconds: HOURS_5 });
  await storeDay("north", "B-2", "2026-03-13", { closedSeconds: 3 * 3600 + 59 * 60 });
  // Cy: in at 12:00 on the 9th and never out (closed at 17:00: 300 min); exactly 240 min on
  // the 10th; the holiday and the Saturday (not school days); on the 13th only a check-out.
  await storeDay("north", "C-3", "2026-03-09", {
    firstIn: berlin("2026-03-09", "12:00"),
    openSince: berlin("2026-03-09", "12:00"),
    events: 1,
  });
  await storeDay("north", "C-3", "2026-03-10", { closedSeconds: 240 * 60 });
  await storeDay("north", "C-3", "2026-03-11", { closedSeconds: HOURS_5 });
  await storeDay("north", "C-3", "2026-03-14", { closedSeconds: HOURS_5 });
  await storeDay("north", "C-3", "2026-03-13", {
    lastOut: berlin("2026-03-13", "15:00"),
    outsWithoutIn: 1,
    events: 1,
  });
  // Di: nothing. Zed (inactive) and an erased person's pseudonym: days, but no active person.
  await storeDay("north", "Z-9", "2026-03-09", { closedSeconds: HOURS_5 });
  await storeDay("north", "erased-abc", "2026-03-09", { closedSeconds: HOURS_5 });
  // Another school's Ada.
  await storeDay("south", "A-1", "2026-03-09", { closedSeconds: HOURS_5 });
});
after(() => h?.close());

const attendance = (auth: Auth, school: string, query: string) =>
  request(h.app).get(`/v1/schools/${school}/attendance?${query}`).set(auth);
const settings = (body: object) =>
  request(h.app).patch("/v1/schools/north/attendance").set(head.auth).send(body).expect(200);

interface Item {
  id: string;
  name: string | null;
  groups: string[];
  presentDays: number;
  schoolDays: number;
  share: number;
  status: "present" | "absent";
}
const byId = (items: Item[]) =>
  Object.fromEntries(items.map((i) => [i.id, `${i.presentDays}/${i.schoolDays} ${i.status}`]));

describe("GET /v1/schools/:schoolId/attendance?period=", () => {
  test("a week: each active person's present days of the school days (weekdays less holidays)", async () => {
    const res = await attendance(head.auth, "north", "period=week&date=2026-03-15");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    const { items, ...rest } = res.body;
    assert.deepEqual(rest, {
      schoolId: "north",
      period: "week",
      date: "2026-03-15",
      from: "2026-03-09",
      to: "2026-03-15",
      through: "2026-03-15",
      schoolDays: 4,
      minPresentDaysPct: 80,
      group: null,
      next: null,
    });
    assert.deepEqual(items[0], {
      id: "A-1",
      name: "Ada",
      groups: ["7a"],
      presentDays: 4,
      schoolDays: 4,
      share: 1,
      status: "present",
    });
    assert.deepEqual(byId(items), {
      "A-1": "4/4 present",
      "B-2": "3/4 absent",
      "C-3": "2/4 absent",
      "D-4": "0/4 absent",
    });
    assert.equal(items[1].share, 0.75);
  });

  test("school days up to the date asked: a week asked for on its Tuesday counts two", async () => {
    const res = await attendance(head.auth, "north", "period=week&date=2026-03-10");
    assert.equal(res.body.through, "2026-03-10");
    assert.equal(res.body.schoolDays, 2);
    assert.equal(res.body.to, "2026-03-15", "the period is still the whole week");
    assert.deepEqual(byId(res.body.items), {
      "A-1": "2/2 present",
      "B-2": "2/2 present",
      "C-3": "2/2 present",
      "D-4": "0/2 absent",
    });
  });

  test("a month: March 2026 has 22 weekdays, less the holiday", async () => {
    const res = await attendance(head.auth, "north", "period=month&date=2026-03-31");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.from, "2026-03-01");
    assert.equal(res.body.to, "2026-03-31");
    assert.equal(res.body.schoolDays, 21);
    assert.deepEqual(byId(res.body.items), {
      "A-1": "6/21 absent",
      "B-2": "3/21 absent",
      "C-3": "2/21 absent",
      "D-4": "0/21 absent",
    });
  });

  test("the school's rules at request time: minutes, weekdays, share, day end, holidays", async () => {
    const week = async () =>
      byId((await attendance(head.auth, "north", "period=week&date=2026-03-15")).body.items);
    try {
      await settings({ minPresentMinutes: 241 }); // Cy's 240 minutes on the 10th no longer do
      assert.equal((await week())["C-3"], "1/4 absent");
      await settings({ minPresentMinutes: 240, weekdays: [1, 2, 3, 4, 5, 6] }); // Saturday counts
      assert.deepEqual(await week(), {
        "A-1": "4/5 present",
        "B-2": "3/5 absent",
        "C-3": "3/5 absent",
        "D-4": "0/5 absent",
      });
      await settings({ weekdays: [1, 2, 3, 4, 5], minPresentDaysPct: 50 });
      assert.equal((await week())["C-3"], "2/4 present");
      await settings({ dayEndsAt: "15:00" }); // Cy's open check-in closes at 15:00: 180 min
      assert.equal((await week())["C-3"], "1/4 absent");
      await settings({ dayEndsAt: "17:00", minPresentDaysPct: 80 });
      await request(h.app)
        .delete("/v1/schools/north/holidays/2026-03-11")
        .set(head.auth)
        .expect(200);
      assert.deepEqual(await week(), {
        "A-1": "4/5 present",
        "B-2": "3/5 absent",
        "C-3": "3/5 absent",
        "D-4": "0/5 absent",
      });
    } finally {
      await settings({ minPresentMinutes: 240, weekdays: [1, 2, 3, 4, 5], dayEndsAt: "17:00" });
      await settings({ minPresentDaysPct: 80 });
      await request(h.app)
        .put("/v1/schools/north/holidays/2026-03-11")
        .set(head.auth)
        .send({ name: "Founders' Day" });
    }
    assert.equal((await week())["C-3"], "2/4 absent");
  });

  test("pages in id order, and a group's people", async () => {
    const first = await attendance(head.auth, "north", "period=week&date=2026-03-15&limit=2");
    assert.deepEqual(
      first.body.items.map((i: Item) => i.id),
      ["A-1", "B-2"],
    );
    assert.equal(typeof first.body.next, "string");
    const second = await attendance(
      head.auth,
      "north",
      `period=week&date=2026-03-15&limit=2&after=${first.body.next}`,
    );
    assert.deepEqual(byId(second.body.items), { "C-3": "2/4 absent", "D-4": "0/4 absent" });
    assert.equal(second.body.next, null);
    const group = await attendance(head.auth, "north", "period=week&date=2026-03-15&group=7b");
    assert.equal(group.body.group, "7b");
    assert.deepEqual(
      group.body.items.map((i: Item) => i.id),
      ["C-3", "D-4"],
    );
  });

  test("names for the school's own admin only; the deployment admin gets ids", async () => {
    const own = await attendance(head.auth, "north", "period=month&date=2026-03-31");
    assert.deepEqual(
      own.body.items.map((i: Item) => i.name),
      ["Ada", "Bob", "Cy", "Di"],
    );
    const deployment = await attendance(ADMIN, "north", "period=month&date=2026-03-31");
    assert.equal(deployment.status, 200, deployment.text);
    assert.deepEqual(
      deployment.body.items.map((i: Item) => [i.id, i.name]),
      [
        ["A-1", null],
        ["B-2", null],
        ["C-3", null],
        ["D-4", null],
      ],
    );
    assert.doesNotMatch(deployment.text, /Ada|Bob/);
  });

  test("another school's admin gets the 404 of a missing school; no token is 401", async () => {
    const other = await attendance(otherHead.auth, "north", "period=week&date=2026-03-15");
    expectError(other, 404, "school_not_found");
    expectError(
      await attendance(ADMIN, "nowhere", "period=week&date=2026-03-15"),
      404,
      "school_not_found",
    );
    expectError(
      await request(h.app).get("/v1/schools/north/attendance?period=week&date=2026-03-15"),
      401,
      "unauthorized",
    );
  });

  test("every query parameter is checked and named", async () => {
    const cases: [string, string][] = [
      ["period=year&date=2026-03-15", "period"],
      ["period=week&period=month&date=2026-03-15", "period"],
      ["period=week", "date"],
      ["period=week&date=2026-02-30", "date"],
      ["period=week&date=15.03.2026", "date"],
      ["period=week&date=2026-03-15&limit=0", "limit"],
      ["period=week&date=2026-03-15&limit=1001", "limit"],
      ["period=week&date=2026-03-15&after=!!", "after"],
      ["period=week&date=2026-03-15&group=a%20b", "group"],
      ["period=week&date=2026-03-15&names=1", "names"],
    ];
    for (const [query, field] of cases)
      assert.deepEqual(issueFields(await attendance(head.auth, "north", query)), [field], query);
  });

  test("without period, the route is not this one's (the day document's)", async () => {
    // Whatever the day document answers (or a 404 where it is not mounted), it is no page.
    const res = await attendance(head.auth, "north", "date=2026-03-15");
    assert.equal(res.body.period, undefined);
    assert.equal(res.body.schoolDays, undefined);
    assert.equal(res.body.next, undefined);
  });

  test("today counts while it lasts: checked in now is present; days to come are not counted", async () => {
    // A school whose local time is between 02:00 and 21:00 now, open every day until 23:59.
    const zone = ["UTC", "Asia/Tokyo", "America/New_York", "Pacific/Auckland"].find((z) => {
      const hour = DateTime.now().setZone(z).hour;
      return hour >= 2 && hour <= 21;
    })!;
    await createSchool(h.app, "today", { timeZone: zone });
    await request(h.app)
      .patch("/v1/schools/today/attendance")
      .set(ADMIN)
      .send({ dayEndsAt: "23:59", weekdays: [1, 2, 3, 4, 5, 6, 7] })
      .expect(200);
    await request(h.app)
      .put("/v1/schools/today/people/T-1")
      .set(ADMIN)
      .send({ name: null })
      .expect(201);
    const now = DateTime.now().setZone(zone);
    const today = now.toISODate()!;
    await storeDay("today", "T-1", today, {
      firstIn: now.minus({ minutes: 10 }).toISO()!,
      openSince: now.minus({ minutes: 10 }).toISO()!,
      events: 1,
    });
    const endOfMonth = now.endOf("month").toISODate()!;
    const res = await attendance(ADMIN, "today", `period=month&date=${endOfMonth}`);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.through, today);
    assert.equal(res.body.schoolDays, now.day);
    assert.equal(res.body.items[0].presentDays, 1);

    const person = await request(h.app)
      .get(`/v1/schools/today/people/T-1/attendance?from=${today}&to=${today}`)
      .set(ADMIN);
    assert.equal(person.status, 200, person.text);
    const [day] = person.body.days;
    assert.equal(day.inNow, true);
    assert.equal(day.autoClosed, false);
    assert.equal(day.present, true, "checked in right now is present");
    assert.ok(day.minutes >= 10 && day.minutes < 15, `minutes ${day.minutes}`);

    // A month that has not begun: nothing counted yet.
    const nextYear = now.plus({ years: 1 }).toISODate()!;
    const future = await attendance(ADMIN, "today", `period=month&date=${nextYear}`);
    assert.equal(future.body.through, null);
    assert.equal(future.body.schoolDays, 0);
    assert.deepEqual(byId(future.body.items), { "T-1": "0/0 absent" });
  });
});

describe("GET /v1/schools/:schoolId/people/:personId/attendance", () => {
  const days = (auth: Auth, school: string, person: string, query: string) =>
    request(h.app).get(`/v1/schools/${school}/people/${person}/attendance?${query}`).set(auth);

  test("a person's days: minutes, first in, last out, auto-closed, anomalies, and the range judged", async () => {
    const res = await days(head.auth, "north", "C-3", "from=2026-03-09&to=2026-03-15");
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    const { days: list, ...rest } = res.body;
    assert.deepEqual(rest, {
      schoolId: "north",
      personId: "C-3",
      name: "Cy",
      from: "2026-03-09",
      to: "2026-03-15",
      summary: {
        through: "2026-03-15",
        schoolDays: 4,
        presentDays: 2,
        share: 0.5,
        status: "absent",
      },
    });
    assert.deepEqual(
      list.map((d: { date: string }) => d.date),
      ["2026-03-09", "2026-03-10", "2026-03-11", "2026-03-13", "2026-03-14"],
    );
    assert.deepEqual(list[0], {
      date: "2026-03-09",
      schoolDay: true,
      minutes: 300,
      present: true,
      inNow: false,
      autoClosed: true,
      late: false,
      fever: false,
      maxTemperatureC: null,
      anomalies: 0,
      firstIn: "2026-03-09T11:00:00.000Z",
      lastOut: null,
      events: 1,
    });
    assert.equal(list[2].schoolDay, false, "the holiday");
    assert.equal(list[2].present, true, "present, but not counted");
    assert.equal(list[3].anomalies, 1);
    assert.equal(list[3].present, false);
    assert.equal(list[3].lastOut, "2026-03-13T14:00:00.000Z");
    assert.equal(list[4].schoolDay, false, "Saturday");
  });

  test("late and fever with the school's rules; the deployment admin gets no name", async () => {
    await settings({ lateAfter: "08:00" });
    try {
      const res = await days(ADMIN, "north", "A-1", "from=2026-03-09&to=2026-03-10");
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.name, null);
      const [ninth, tenth] = res.body.days;
      assert.equal(ninth.late, true, "first in 08:30 after 08:00");
      assert.equal(tenth.late, false, "first in 07:50");
      assert.equal(ninth.fever, false);
      assert.equal(tenth.fever, true, "38.0 reaches the threshold");
      assert.equal(tenth.maxTemperatureC, 38);
      assert.doesNotMatch(res.text, /Ada/);
    } finally {
      await settings({ lateAfter: null });
    }
  });

  test("only the person's own school's days; an inactive person keeps theirs", async () => {
    const south = await days(otherHead.auth, "south", "A-1", "from=2026-03-01&to=2026-03-31");
    assert.equal(south.status, 404, "south has no person A-1");
    expectError(south, 404, "person_not_found");
    const zed = await days(head.auth, "north", "Z-9", "from=2026-03-01&to=2026-03-31");
    assert.equal(zed.status, 200, zed.text);
    assert.equal(zed.body.days.length, 1);
    const di = await days(head.auth, "north", "D-4", "from=2026-03-01&to=2026-03-31");
    assert.deepEqual(di.body.days, []);
    assert.equal(di.body.summary.schoolDays, 21);
  });

  test("404s, 401, and every parameter named", async () => {
    expectError(
      await days(head.auth, "north", "nobody", "from=2026-03-01&to=2026-03-31"),
      404,
      "person_not_found",
    );
    expectError(
      await days(head.auth, "north", "erased-abc", "from=2026-03-01&to=2026-03-31"),
      404,
      "person_not_found",
    );
    expectError(
      await days(otherHead.auth, "north", "A-1", "from=2026-03-01&to=2026-03-31"),
      404,
      "school_not_found",
    );
    expectError(
      await request(h.app).get(
        "/v1/schools/north/people/A-1/attendance?from=2026-03-01&to=2026-03-31",
      ),
      401,
      "unauthorized",
    );
    assert.deepEqual(issueFields(await days(head.auth, "north", "A-1", "to=2026-03-31")), ["from"]);
    assert.deepEqual(
      issueFields(await days(head.auth, "north", "A-1", "from=2026-03-32&to=2026-03-31")),
      ["from"],
    );
    const backwards = await days(head.auth, "north", "A-1", "from=2026-03-31&to=2026-03-01");
    assert.match(issueFor(backwards, "to").message, /not be before/);
    // ATTENDANCE_RANGE_MAX_DAYS is 31 here.
    await days(head.auth, "north", "A-1", "from=2026-03-01&to=2026-03-31").expect(200);
    const long = await days(head.auth, "north", "A-1", "from=2026-03-01&to=2026-04-01");
    assert.match(issueFor(long, "to").message, /at most 31 days.*ATTENDANCE_RANGE_MAX_DAYS/);
  });
});
