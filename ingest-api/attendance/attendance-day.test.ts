import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { localInstant } from "../../common/attendance/school-day.ts";
import type { AttendanceDayDocument } from "../../common/attendance-contract.ts";
import { keptDays } from "../../common/attendance-contract.ts";
import { eventually } from "../../harness/waiting.ts";
import type { AttendanceRunSummary } from "../../result-publisher/attendance-publisher.ts";
import { expectError, issueFor } from "../../test-support/api.ts";
import { setAttendanceRules, storeAttendanceDay } from "../../test-support/attendance-days.ts";
import { type LocalServer, listenLocally } from "../../test-support/http-listen.ts";
import {
  type InProcessPublisher,
  startHarnessPublisher,
} from "../../test-support/in-process-publisher.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { updateSchools } from "../registry/registry-changes.ts";

// The school day routes of the API, over documents the result publisher (in this process,
// run by the test) put in Redis: who may
// read them (401, another school's admin as a missing school), names for the school's own
// admin only, a group's lists, ETag and 304, every query parameter checked, the public
// counts only when the school publishes them, and the event stream. The school's zone is
// chosen so that it is about noon there now: its day (ending at 17:00) is open throughout.

const utcHour = new Date().getUTCHours();
const offset = 12 - utcHour;
const ZONE = offset === 0 ? "UTC" : `Etc/GMT${offset > 0 ? "-" : "+"}${Math.abs(offset)}`;
const [TODAY, YESTERDAY] = keptDays(Date.now(), ZONE, 2) as [string, string];
const at = (day: string, hhmm: string) => new Date(localInstant(day, hhmm, ZONE)).toISOString();
const PATH = "/v1/schools/birch/attendance";
const PUBLIC = "/v1/public/schools/birch/attendance";

let h: IngestHarness;
let head: TestSchoolAdmin;
let otherHead: TestSchoolAdmin;
let publisher: InProcessPublisher;
let server: LocalServer | undefined;

/** One publisher tick now, its attendance run awaited, and this API's copy up to date with it. */
async function publish(): Promise<AttendanceRunSummary> {
  await publisher.run();
  const summary = await publisher.attendanceRun();
  assert.ok(summary, "the attendance run failed");
  await h.attendance.check();
  return summary;
}

before(async () => {
  h = await startIngestHarness({ RESULTS_INTERVAL_MS: "3000" });
  await createSchool(h.app, "birch", { timeZone: ZONE });
  await createSchool(h.app, "cedar", { timeZone: ZONE });
  // Every day a school day: the test's today may be a Saturday (told to the cache as the
  // settings API's store does).
  await updateSchools(h.db.pool, "attendance_weekdays = '{1,2,3,4,5,6,7}'", "true");
  head = await issueSchoolAdmin(h.app, "birch");
  otherHead = await issueSchoolAdmin(h.app, "cedar");
  for (const [id, name, groups] of [
    ["B1", "Ada Lovelace", ["7A"]],
    ["B2", "Bo Diddley", ["7A"]],
    ["B3", "Cy Twombly", ["7B"]],
  ] as const)
    await request(h.app)
      .put(`/v1/schools/birch/people/${id}`)
      .set(head.auth)
      .send({ name, groups })
      .expect(201);
  publisher = await startHarnessPublisher(h, { RESULTS_INTERVAL_MS: "3000" });
});

after(async () => {
  await server?.close();
  await publisher?.close();
  await h?.close();
});

describe("the school day document", () => {
  test("before any publication: 503 attendance_not_ready, with Retry-After", async () => {
    // What the publisher's first tick wrote, gone (as a new school's, or Redis emptied).
    for await (const keys of h.redis.scanIterator({
      MATCH: `${h.names.redisKeyPrefix}attendance*`,
      COUNT: 1000,
    }))
      if (keys.length > 0) await h.redis.unlink(keys);
    await h.attendance.check();
    const res = await request(h.app).get(PATH).set(head.auth);
    expectError(res, 503, "attendance_not_ready");
    assert.equal(res.headers["retry-after"], "3");
  });

  test("401 without a credential; another school's admin gets the 404 of a missing school", async () => {
    await publish();
    expectError(await request(h.app).get(PATH), 401, "unauthorized");
    const foreign = await request(h.app).get(PATH).set(otherHead.auth);
    const missing = await request(h.app).get("/v1/schools/nowhere/attendance").set(head.auth);
    const a = expectError(foreign, 404, "school_not_found");
    const b = expectError(missing, 404, "school_not_found");
    assert.equal(a.message.replace("birch", "X"), b.message.replace("nowhere", "X"));
    expectError(
      await request(h.app).get(`${PATH}/events`).set(otherHead.auth),
      404,
      "school_not_found",
    );
  });

  test("every query parameter is checked, each error naming it", async () => {
    const bad = async (query: string, field: string) => {
      const res = await request(h.app).get(`${PATH}?${query}`).set(head.auth);
      expectError(res, 400, "invalid_request");
      return issueFor(res, field).message;
    };
    assert.match(await bad("date=2025-13-01", "date"), /YYYY-MM-DD/);
    assert.match(await bad("date=yesterday", "date"), /YYYY-MM-DD/);
    assert.match(await bad(`date=${TODAY}&date=${TODAY}`, "date"), /once/);
    assert.match(await bad("group=7%20A", "group"), /./);
    assert.match(await bad("colour=red", "colour"), /not a known field/);
    // A date the school keeps no document for: before its kept days, or after today.
    assert.match(await bad("date=2020-01-06", "date"), /last 7 days/);
    const tomorrow = keptDays(Date.now() + 86_400_000, ZONE, 1)[0]!;
    assert.match(await bad(`date=${tomorrow}`, "date"), /last 7 days/);
    await bad("date=2020-01-06", "date");
    expectError(
      await request(h.app).get(`/v1/schools/bad%20id/attendance`).set(head.auth),
      400,
      "invalid_request",
    );
  });

  test("counts and lists of today; the school's own admin sees names", async () => {
    await storeAttendanceDay(h.db.pool, "birch", "B1", TODAY, [
      { kind: "in", at: at(TODAY, "08:00") },
    ]);
    await storeAttendanceDay(h.db.pool, "birch", "B2", TODAY, [
      { kind: "in", at: at(TODAY, "09:00"), temperatureC: 38.5 },
      { kind: "out", at: at(TODAY, "09:30") },
    ]);
    await publish();
    const res = await request(h.app).get(PATH).set(head.auth);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers["cache-control"], "private, no-store");
    const doc = res.body as AttendanceDayDocument & { names: Record<string, string | null> };
    assert.equal(doc.day, TODAY);
    assert.deepEqual(doc.counts, {
      roster: 3,
      inNow: 1,
      present: 1,
      absent: 2,
      late: 0,
      fever: 1,
      autoClosed: 0,
      anomalies: 0,
    });
    assert.deepEqual(doc.lists.inNow, ["B1"]);
    assert.deepEqual(doc.lists.absent, ["B2", "B3"]);
    assert.deepEqual(doc.lists.fever, ["B2"]);
    assert.equal(doc.details.B2?.maxTemperatureC, 38.5);
    // Each group's counts; its lists through ?group=.
    assert.deepEqual(doc.groups["7A"], { ...doc.counts, roster: 2, absent: 1 });
    assert.deepEqual(doc.names, { B1: "Ada Lovelace", B2: "Bo Diddley", B3: "Cy Twombly" });
    assert.match(String(res.headers.etag), new RegExp(`^"${doc.version}-n[0-9a-f]{8}"$`));
    // The same day asked by its date.
    const dated = await request(h.app).get(`${PATH}?date=${TODAY}`).set(head.auth);
    assert.equal(dated.headers.etag, res.headers.etag);
    // Another kept day: published too, with nobody there.
    const yesterday = await request(h.app).get(`${PATH}?date=${YESTERDAY}`).set(head.auth);
    assert.equal(yesterday.status, 200, yesterday.text);
    assert.deepEqual(yesterday.body.lists.absent, ["B1", "B2", "B3"]);
  });

  test("the deployment admin reads ids, never names", async () => {
    const res = await request(h.app).get(PATH).set(ADMIN);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.names, undefined);
    assert.doesNotMatch(res.text, /Ada|Diddley|Twombly/);
    assert.equal(res.headers.etag, `"${res.body.version}"`);
  });

  test("?group= gives that group's counts and lists, and names of those only", async () => {
    const res = await request(h.app).get(`${PATH}?group=7A`).set(head.auth);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.group, "7A");
    assert.equal(res.body.groups, undefined);
    assert.equal(res.body.counts.roster, 2);
    assert.deepEqual(res.body.lists.inNow, ["B1"]);
    assert.deepEqual(res.body.lists.absent, ["B2"]);
    assert.deepEqual(Object.keys(res.body.details), ["B2"]);
    assert.deepEqual(res.body.names, { B1: "Ada Lovelace", B2: "Bo Diddley" });
    const nobody = await request(h.app).get(`${PATH}?group=9Z`).set(head.auth);
    assert.equal(nobody.status, 200);
    assert.equal(nobody.body.counts.roster, 0);
    assert.deepEqual(nobody.body.lists.inNow, []);
  });

  test("ETag and If-None-Match: 304 until the version or the names change", async () => {
    const first = await request(h.app).get(PATH).set(head.auth);
    const etag = String(first.headers.etag);
    const again = await request(h.app).get(PATH).set(head.auth).set("If-None-Match", etag);
    assert.equal(again.status, 304);
    assert.equal(again.headers.etag, etag);
    assert.equal(again.text, "");
    // The deployment admin's answer (no names) has an ETag of its own.
    const ids = await request(h.app).get(PATH).set(ADMIN).set("If-None-Match", etag);
    assert.equal(ids.status, 200);
    // A renamed person: the names (and the ETag) follow the roster at once, same version.
    await request(h.app)
      .patch("/v1/schools/birch/people/B1")
      .set(head.auth)
      .send({ name: "Ada King" })
      .expect(200);
    await eventually("the new name is shown", async () => {
      const res = await request(h.app).get(PATH).set(head.auth).set("If-None-Match", etag);
      return res.status === 200 && res.body.names.B1 === "Ada King" ? true : undefined;
    });
  });

  test("a late event republishes the day: a new version, announced on the event stream", async () => {
    server ??= await listenLocally(h.app);
    const abort = new AbortController();
    const res = await fetch(`${server.url}${PATH}/events`, {
      headers: { ...head.auth, Accept: "text/event-stream" },
      signal: abort.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const events: { id: string; data: { schoolId: string; day: string; version: string } }[] = [];
    const reading = (async () => {
      let buffer = "";
      try {
        for await (const chunk of res.body!) {
          buffer += Buffer.from(chunk).toString();
          for (let end = buffer.indexOf("\n\n"); end >= 0; end = buffer.indexOf("\n\n")) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const id = /^id: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (/^event: attendance$/m.test(block) && id && data)
              events.push({ id, data: JSON.parse(data) });
          }
        }
      } catch {
        // aborted
      }
    })();
    try {
      const before = (await request(h.app).get(PATH).set(ADMIN)).body.version as string;
      await eventually("the current version first", async () =>
        events.some((e) => e.id === before) ? true : undefined,
      );
      // B3's check-in reaches the writer late (an offline kiosk): the day is republished.
      await storeAttendanceDay(h.db.pool, "birch", "B3", TODAY, [
        { kind: "in", at: at(TODAY, "07:30") },
      ]);
      await publisher.run();
      const summary = await publisher.attendanceRun();
      assert.deepEqual(summary?.published, [`birch/${TODAY}`]);
      const event = await eventually("the new version announced", async () =>
        events.find((e) => e.id !== before),
      );
      assert.deepEqual(event.data.schoolId, "birch");
      assert.deepEqual(event.data.day, TODAY);
      // The announcement replaced this process's copy: the next read is the new version.
      await eventually("the new version served", async () => {
        const doc = (await request(h.app).get(PATH).set(ADMIN)).body as AttendanceDayDocument;
        return doc.version === event.data.version ? doc : undefined;
      });
      const doc = (await request(h.app).get(PATH).set(ADMIN)).body as AttendanceDayDocument;
      assert.deepEqual(doc.lists.inNow, ["B1", "B3"]);
    } finally {
      abort.abort();
      await reading;
    }
  });

  test("the public counts: 404 unless the school publishes them, then no person at all", async () => {
    const off = await request(h.app).get(PUBLIC);
    const missing = await request(h.app).get("/v1/public/schools/nowhere/attendance");
    expectError(off, 404, "school_not_found");
    expectError(missing, 404, "school_not_found");
    await setAttendanceRules(h.db.pool, "birch", { publicCounts: true });
    const res = await eventually("the school's setting reaches the API", async () => {
      const r = await request(h.app).get(PUBLIC);
      return r.status === 200 ? r : undefined;
    });
    assert.equal(res.headers["cache-control"], "public, max-age=3");
    assert.equal(res.body.counts.inNow, 2);
    assert.equal(res.body.groups["7B"].inNow, 1);
    assert.equal(res.body.lists, undefined);
    assert.doesNotMatch(res.text, /B1|B2|B3|Ada|Bo|Cy/);
    const group = await request(h.app).get(`${PUBLIC}?group=7A`);
    assert.equal(group.body.group, "7A");
    assert.equal(group.body.counts.roster, 2);
    assert.equal(group.body.groups, undefined);
    const cached = await request(h.app).get(PUBLIC).set("If-None-Match", String(res.headers.etag));
    assert.equal(cached.status, 304);
    expectError(await request(h.app).get(`${PUBLIC}?date=1999-01-01`), 400, "invalid_request");
    // Cedar publishes nothing: its counts stay private.
    expectError(
      await request(h.app).get("/v1/public/schools/cedar/attendance"),
      404,
      "school_not_found",
    );
  });
});

describe("a day document and the SQL of the raw events (migration 022)", () => {
  test("the counts of the school and of each group are those of report 15", async () => {
    await createSchool(h.app, "larch", { timeZone: ZONE });
    await updateSchools(
      h.db.pool,
      "attendance_weekdays = '{1,2,3,4,5,6,7}', attendance_late_after = '08:30'",
      "s.id = 'larch'",
    );
    for (const [id, groups, active] of [
      ["L1", ["7A"], true],
      ["L2", ["7A", "7B"], true],
      ["L3", ["7B"], true],
      ["L4", ["7B"], false],
      ["L5", ["7A"], true],
    ] as const)
      await request(h.app)
        .put(`/v1/schools/larch/people/${id}`)
        .set(ADMIN)
        .send({ name: null, groups, active })
        .expect(201);
    const register = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "gate", schoolId: "larch", kind: "attendance", title: "Gate" })
      .expect(201);
    const events: Record<string, { kind: "in" | "out"; at: string; temperatureC?: number }[]> = {
      L1: [{ kind: "in", at: at(TODAY, "08:00") }],
      L2: [
        { kind: "in", at: at(TODAY, "08:45"), temperatureC: 38.2 },
        { kind: "out", at: at(TODAY, "09:00") },
      ],
      L4: [
        { kind: "in", at: at(TODAY, "06:00") },
        { kind: "out", at: at(TODAY, "11:00") },
      ],
      L5: [{ kind: "out", at: at(TODAY, "07:00") }],
      "erased-z": [
        { kind: "out", at: at(TODAY, "07:00") },
        { kind: "in", at: at(TODAY, "07:10") },
        { kind: "in", at: at(TODAY, "07:20") },
      ],
    };
    // The raw events, as the writer stores them, and the person-days it keeps from them.
    for (const [person, list] of Object.entries(events)) {
      for (const e of list)
        await h.db.pool.query(
          `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
             received_at, stream_seq, temperature_c)
           values (gen_random_uuid(), $1, $2, 'gate-kiosk', $3, $4, now(), 1, $5)`,
          [register.body.id, e.kind, person, e.at, e.temperatureC ?? null],
        );
      await storeAttendanceDay(h.db.pool, "larch", person, TODAY, list);
    }
    await publish();
    const res = await request(h.app).get("/v1/schools/larch/attendance").set(ADMIN);
    assert.equal(res.status, 200, res.text);
    const doc = res.body as AttendanceDayDocument & { groups: Record<string, unknown> };
    const { rows } = await h.db.pool.query<{
      group_id: string | null;
      roster: number;
      present: number;
      absent: number;
      in_now: number;
      late: number;
      fever: number;
      auto_closed: number;
      anomalies: number;
    }>(
      `select group_id, roster, present, absent, in_now, late, fever, auto_closed, anomalies
       from attendance_school_day_counts('larch', $1::date, $1::date + 1, $2)`,
      [TODAY, doc.publishedAt],
    );
    const sql = Object.fromEntries(
      rows.map((r) => [
        r.group_id ?? "(school)",
        {
          roster: r.roster,
          inNow: r.in_now,
          present: r.present,
          absent: r.absent,
          late: r.late,
          fever: r.fever,
          autoClosed: r.auto_closed,
          anomalies: r.anomalies,
        },
      ]),
    );
    assert.deepEqual(
      { "(school)": doc.counts, ...doc.groups },
      sql,
      "the document's counts are the SQL's",
    );
    // And what the lists say, person by person.
    assert.deepEqual(doc.lists.inNow, ["L1", "erased-z"]);
    assert.deepEqual(doc.lists.out, ["L4"]);
    assert.deepEqual(doc.lists.absent, ["L2", "L3", "L5"]);
    assert.deepEqual(doc.counts.anomalies, 3);
  });
});

// Last: it changes the day the tests above read.
describe("the school day document's answers", () => {
  test("a new version's answers are made as it is fetched, as the next reads answer them", async () => {
    const reads = [
      () => request(h.app).get(PATH).set(head.auth),
      () => request(h.app).get(PATH).set(ADMIN),
      () => request(h.app).get(`${PATH}?group=7A`).set(head.auth),
    ];
    for (const read of reads) assert.equal((await read()).status, 200);
    const before = h.attendance.current("birch", TODAY);
    assert.ok(before);
    // The three above, and whatever the tests before read of this version.
    const keys = [...before.answers.keys()].sort();
    assert.ok(keys.length >= 3);
    await storeAttendanceDay(h.db.pool, "birch", "B2", TODAY, [
      { kind: "in", at: at(TODAY, "10:00") },
    ]);
    await publish();
    const next = h.attendance.current("birch", TODAY);
    assert.ok(next && next.version !== before.version);
    // Made with the fetch, before any read of the new version.
    assert.deepEqual([...next.answers.keys()].sort(), keys);
    const made = new Map(next.answers);
    const stamp = /-n([0-9a-f]{8})"$/.exec(String((await reads[0]!()).headers.etag))?.[1];
    const keyOf = [`admin||${stamp}`, "admin||", `admin|7A|${stamp}`];
    for (const [i, read] of reads.entries()) {
      const res = await read();
      assert.equal(res.status, 200);
      assert.equal(made.get(keyOf[i]!)?.body.toString(), res.text, keyOf[i]);
    }
  });
});
