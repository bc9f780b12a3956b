import assert from "node:assert/strict";
import { get, type IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { parse } from "csv-parse/sync";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { expectError } from "../../test-support/api.ts";
import { storeAttendanceDay } from "../../test-support/attendance-days.ts";
import { listenLocally } from "../../test-support/http-listen.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";

// A school's person-days as CSV (`GET /v1/schools/:schoolId/attendance.csv?from=&to=`):
// every stored day of the range, in day then person order, as SQL reads them from
// attendance_days, viewed with the school's rules (minutes, status, flags); names for the
// school's own admin only, formula-safe.

type Csv = Record<string, string>[];

describe("the attendance export", () => {
  let h: IngestHarness;
  let north: TestSchoolAdmin;
  let south: TestSchoolAdmin;
  const path = "/v1/schools/north/attendance.csv?from=2026-03-02&to=2026-03-06";

  before(async () => {
    // A download is cut after 3 s (the last test: a client that stops reading).
    h = await startIngestHarness({ EXPORT_MAX_MS: "3000" });
    await createSchool(h.app, "north", { timeZone: "UTC" });
    await createSchool(h.app, "south");
    north = await issueSchoolAdmin(h.app, "north");
    south = await issueSchoolAdmin(h.app, "south");
    const rules = await request(h.app).patch("/v1/schools/north/attendance").set(north.auth).send({
      dayEndsAt: "17:00",
      minPresentMinutes: 120,
      lateAfter: "08:30",
      feverThresholdC: 38,
    });
    assert.equal(rules.status, 200, rules.text);
    for (const [id, name] of [
      ["p-1", "Ada Lovelace"],
      ["p-2", "=cmd|' /C calc'!A0"],
    ])
      await request(h.app)
        .put(`/v1/schools/north/people/${id}`)
        .set(north.auth)
        .send({ name })
        .expect(201);
    // Monday: both whole days (p-2 late, with a fever); Tuesday: p-1 an hour only, p-2 in
    // and never out (closed at 17:00), an out without an in; Wednesday a holiday with a
    // visit; a day outside the range.
    const day = (
      date: string,
      events: [kind: "in" | "out", hhmm: string, temperatureC?: number][],
    ) =>
      events.map(([kind, hhmm, temperatureC]) => ({
        kind,
        at: `${date}T${hhmm}:00Z`,
        ...(temperatureC === undefined ? {} : { temperatureC }),
      }));
    const pool = h.db.pool;
    await storeAttendanceDay(
      pool,
      "north",
      "p-1",
      "2026-03-02",
      day("2026-03-02", [
        ["in", "08:00"],
        ["out", "15:00"],
      ]),
    );
    await storeAttendanceDay(
      pool,
      "north",
      "p-2",
      "2026-03-02",
      day("2026-03-02", [
        ["in", "08:45", 38.4],
        ["out", "15:00"],
      ]),
    );
    await storeAttendanceDay(
      pool,
      "north",
      "p-1",
      "2026-03-03",
      day("2026-03-03", [
        ["in", "08:00"],
        ["out", "09:00"],
      ]),
    );
    await storeAttendanceDay(
      pool,
      "north",
      "p-2",
      "2026-03-03",
      day("2026-03-03", [
        ["out", "07:00"],
        ["in", "08:10"],
      ]),
    );
    await storeAttendanceDay(
      pool,
      "north",
      "p-1",
      "2026-03-04",
      day("2026-03-04", [
        ["in", "10:00"],
        ["out", "13:00"],
      ]),
    );
    await storeAttendanceDay(
      pool,
      "north",
      "p-1",
      "2026-03-09",
      day("2026-03-09", [
        ["in", "08:00"],
        ["out", "15:00"],
      ]),
    );
    await request(h.app)
      .put("/v1/schools/north/holidays/2026-03-04")
      .set(north.auth)
      .send({ name: "Closed" })
      .expect(201);
  });
  after(() => h?.close());

  test("every stored day of the range, equal to SQL, viewed with the school's rules", async () => {
    const res = await request(h.app).get(path).set(north.auth);
    assert.equal(res.status, 200, res.text);
    assert.match(String(res.headers["content-type"]), /^text\/csv/);
    assert.equal(
      res.headers["content-disposition"],
      'attachment; filename="north-attendance-2026-03-02-2026-03-06.csv"',
    );
    const rows = parse(res.text, { columns: true }) as Csv;
    const { rows: sql } = await h.db.pool.query(
      `select d.day::text as date, d.person_id, p.name, d.first_in, d.last_out,
         d.max_temperature_c::text as t
       from attendance_days d left join people p on p.school_id = d.school_id and p.id = d.person_id
       where d.school_id = 'north' and d.day >= '2026-03-02' and d.day <= '2026-03-06'
       order by d.day, d.person_id`,
    );
    const iso = (d: Date | null) => (d === null ? "" : d.toISOString());
    assert.deepEqual(
      rows.map((r) => [r.date, r.person_id, r.first_in, r.last_out, r.max_temperature_c]),
      sql.map((r) => [
        r.date,
        r.person_id,
        iso(r.first_in),
        iso(r.last_out),
        r.t === null ? "" : String(Number(r.t)),
      ]),
    );
    assert.deepEqual(
      rows.map((r) => [r.date, r.person_id, r.name, r.school_day, r.minutes, r.status, r.flags]),
      [
        ["2026-03-02", "p-1", "Ada Lovelace", "true", "420", "present", ""],
        ["2026-03-02", "p-2", "'=cmd|' /C calc'!A0", "true", "375", "present", "late;fever"],
        ["2026-03-03", "p-1", "Ada Lovelace", "true", "60", "absent", ""],
        [
          "2026-03-03",
          "p-2",
          "'=cmd|' /C calc'!A0",
          "true",
          "530",
          "present",
          "auto_closed;anomalies",
        ],
        ["2026-03-04", "p-1", "Ada Lovelace", "false", "180", "present", "late"],
      ],
    );
  });

  test("the deployment admin reads no names; another school's admin gets 404; bad ranges 400", async () => {
    const res = await request(h.app).get(path).set(ADMIN);
    assert.equal(res.status, 200, res.text);
    const rows = parse(res.text, { columns: true }) as Csv;
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => r.name === ""));
    expectError(await request(h.app).get(path).set(south.auth), 404, "school_not_found");
    expectError(await request(h.app).get(path), 401, "unauthorized");
    expectError(
      await request(h.app)
        .get("/v1/schools/north/attendance.csv?from=2026-03-06&to=2026-03-02")
        .set(north.auth),
      400,
      "invalid_request",
    );
    expectError(
      await request(h.app)
        .get("/v1/schools/north/attendance.csv?from=2025-01-01&to=2026-03-02")
        .set(north.auth),
      400,
      "invalid_request",
    );
  });

  test("a client that stops reading is cut at EXPORT_MAX_MS, and its connection given back", async () => {
    // 120,000 person-days (a 120-day range of 1,000 people, 13 MB): more than the sockets hold.
    await h.db.pool.query(
      `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in, last_out,
         open_since, max_temperature_c, outs_without_in, double_ins, double_outs, events)
       select 'north', 'bulk-' || lpad(p::text, 4, '0'), d::date, 25200, d + interval '8 hours',
         d + interval '15 hours', null, null, 0, 0, 0, 2
       from generate_series(1, 1000) p, generate_series('2025-09-01'::date, '2025-12-29', '1 day') d`,
    );
    const local = await listenLocally(h.app);
    const served: Socket[] = [];
    local.server.on("connection", (socket) => served.push(socket));
    try {
      const inUse = () => h.pool.totalCount - h.pool.idleCount;
      const before = inUse();
      const res = await new Promise<IncomingMessage>((resolve, reject) =>
        get(
          `${local.url}/v1/schools/north/attendance.csv?from=2025-09-01&to=2025-12-29`,
          { headers: north.auth },
          resolve,
        ).on("error", reject),
      );
      assert.equal(res.statusCode, 200);
      await new Promise((resolve) =>
        res.once("data", () => {
          res.pause(); // and never read again
          resolve(undefined);
        }),
      );
      assert.equal(inUse(), before + 1, "the cursor holds one connection");
      // The server cuts the connection (a paused client would not even notice).
      const started = Date.now();
      await new Promise((resolve) => served.at(-1)!.once("close", resolve));
      assert.ok(Date.now() - started < 6_000, `cut after ${Date.now() - started} ms`);
      assert.equal(res.complete, false, "the file was cut, not ended");
      res.destroy();
      await eventually("the cursor's connection back in the pool", async () =>
        inUse() === before ? true : undefined,
      );
      const { rows } = await h.db.pool.query(
        `select count(*)::int as n from pg_stat_activity
         where datname = current_database() and state like 'idle in transaction%'`,
      );
      assert.equal(rows[0].n, 0, "no transaction left open");
      await eventually("the cut export logged", async () => {
        const log = await request(h.app)
          .get("/v1/audit?action=GET%20/v1/schools/:schoolId/attendance.csv")
          .set(ADMIN);
        return (log.body.entries as { changes: { complete: boolean } }[]).find(
          (e) => e.changes.complete === false,
        );
      });
    } finally {
      await local.close();
    }
  });
});
