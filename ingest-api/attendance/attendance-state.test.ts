import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { DateTime } from "luxon";
import request from "supertest";
import { dayBounds, localDay } from "../../common/attendance/school-day.ts";
import { PrivateRedis } from "../../harness/private-redis.ts";
import { eventually } from "../../harness/waiting.ts";
import { expectError, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { createSchool } from "../../test-support/schools.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";
import { attendanceStateKeys, stateSlot } from "./attendance-state.ts";

// The "already checked in" state a kiosk shows after a badge scan: written by the API after
// an attendance event's publish ack, the latest event by castAt winning whatever the
// arrival order, expiring with the school's day, and rebuilt from attendance_days when
// Redis comes back empty. The API talks to a private redis-server through a proxy (taken
// down to make a state write fail); the test's own client talks to it directly.

const MARGIN_MS = 3_600_000;

/** A zone where it is between 01:00 and 22:00 now: the test's events all fall on today. */
function zoneAwayFromMidnight(): string {
  for (const zone of ["Asia/Kathmandu", "Europe/Berlin", "America/New_York", "Pacific/Auckland"]) {
    const hour = DateTime.now().setZone(zone).hour;
    if (hour >= 1 && hour < 22) return zone;
  }
  throw new Error("no zone away from midnight");
}

describe("the already-checked-in state", () => {
  const zone = zoneAwayFromMidnight();
  let redis: PrivateRedis | undefined;
  let proxy: TcpProxy | undefined;
  let h: IngestHarness | undefined;
  let register: string;
  let kioskAuth: { Authorization: string };

  const api = () => h!;
  const at = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString();
  /** castAt as the state keeps it: to the second. */
  const toSecond = (iso: string) =>
    new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString();
  const event = (voterId: string, optionId: "in" | "out", castAt: string) => ({
    eventId: randomUUID(),
    pollId: register,
    optionId,
    voterId,
    castAt,
  });
  const send = async (body: object) => {
    const res = await request(api().app).post("/v1/votes").set(kioskAuth).send(body);
    assert.equal(res.status, 202, res.text);
  };
  const batch = async (votes: object[]) => {
    const res = await request(api().app).post("/v1/votes/batch").set(kioskAuth).send({ votes });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.rejected, 0, res.text);
  };
  const read = (personId: string, auth = kioskAuth) =>
    request(api().app)
      .get(`/v1/kiosk/people/${encodeURIComponent(personId)}/attendance`)
      .set(auth);
  const stateOf = async (personId: string) => {
    const res = await read(personId);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    assert.equal(res.body.personId, personId);
    assert.equal(res.body.day, localDay(Date.now(), zone));
    return { state: res.body.state as string, since: res.body.since as string | null };
  };
  const addPerson = (schoolId: string, id: string) =>
    request(api().app)
      .put(`/v1/schools/${schoolId}/people/${encodeURIComponent(id)}`)
      .set(ADMIN)
      .send({ name: `Person ${id}` })
      .expect(201);
  /** A person-day as the writer keeps it (attendance_days), for the rebuild to read. */
  const storeDay = (
    schoolId: string,
    personId: string,
    day: string,
    row: { firstIn?: string; lastOut?: string; openSince?: string; outsWithoutIn?: number },
  ) =>
    api().db.pool.query(
      `insert into attendance_days (school_id, person_id, day, first_in, last_out, open_since, outs_without_in, events)
       values ($1, $2, $3, $4, $5, $6, $7, 1)`,
      [
        schoolId,
        personId,
        day,
        row.firstIn ?? null,
        row.lastOut ?? null,
        row.openSince ?? null,
        row.outsWithoutIn ?? 0,
      ],
    );

  before(async () => {
    redis = await PrivateRedis.create();
    proxy = new TcpProxy("127.0.0.1", redis.port);
    await proxy.up();
    h = await startIngestHarness(
      {
        REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
        ATTENDANCE_STATE_CHECK_MS: "200",
        ATTENDANCE_STATE_EXPIRY_MARGIN_MS: String(MARGIN_MS),
        // No writer runs here: attendance_days rows are put in by the tests themselves.
        ATTENDANCE_STATE_REBUILD_WRITER_WAIT_MS: "0",
      },
      { testRedisUrl: redis.url },
    );
    await createSchool(api().app, "oak", { timeZone: zone });
    await createSchool(api().app, "elm", { timeZone: zone });
    const created = await request(api().app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ schoolId: "oak", id: "door", kind: "attendance", title: "Door" })
      .expect(201);
    register = created.body.id;
    for (const id of ["P-1", "P-2", "P-3", "P-4", "P-5", "P-6", "P-7", "P-8", "P-9"])
      await addPerson("oak", id);
    await addPerson("elm", "E-1");
    const kiosk = await request(api().app)
      .post("/v1/kiosks")
      .set(ADMIN)
      .send({ schoolId: "oak", id: "door", name: "Door" })
      .expect(201);
    kioskAuth = { Authorization: `Bearer ${kiosk.body.token}` };
    await eventually("the API knows the people", () => api().people.has("elm", "E-1"));
    await eventually("the API knows the people", () => api().people.has("oak", "P-9"));
  });
  after(async () => {
    try {
      await h?.close();
    } finally {
      await proxy?.down();
      await redis?.destroy();
    }
  });

  test("none before any event, in since the check-in, out since the check-out", async () => {
    assert.deepEqual(await stateOf("P-1"), { state: "none", since: null });
    const checkIn = at(-120_000);
    await send(event("P-1", "in", checkIn));
    assert.deepEqual(await stateOf("P-1"), { state: "in", since: toSecond(checkIn) });
    const checkOut = at(-60_000);
    await batch([event("P-1", "out", checkOut)]);
    assert.deepEqual(await stateOf("P-1"), { state: "out", since: toSecond(checkOut) });
    // A retry of the check-in (the same event, later in arrival) changes nothing.
    await send(event("P-1", "in", checkIn));
    assert.deepEqual(await stateOf("P-1"), { state: "out", since: toSecond(checkOut) });
  });

  test("out of order: the latest event by castAt wins, whatever the arrival order", async () => {
    const t1 = at(-300_000);
    const t2 = at(-200_000);
    const t3 = at(-100_000);
    const events = (person: string) => [
      event(person, "in", t1),
      event(person, "out", t2),
      event(person, "in", t3),
    ];
    // In time order, in reverse, and shuffled within one batch: the same state.
    for (const e of events("P-2")) await send(e);
    for (const e of events("P-3").reverse()) await send(e);
    const [a, b, c] = events("P-4");
    await batch([c!, a!, b!]);
    for (const person of ["P-2", "P-3", "P-4"])
      assert.deepEqual(await stateOf(person), { state: "in", since: toSecond(t3) }, person);
    // A check-out that happened before the check-in already known arrives late: ignored.
    await send(event("P-2", "out", at(-150_000)));
    assert.deepEqual(await stateOf("P-2"), { state: "in", since: toSecond(t3) });
    // In the same second, out wins in either order (one order whatever the arrival).
    const second = toSecond(at(-50_000));
    await send(event("P-5", "out", second));
    await send(event("P-5", "in", second));
    await send(event("P-6", "in", second));
    await send(event("P-6", "out", second));
    assert.deepEqual(await stateOf("P-5"), { state: "out", since: second });
    assert.deepEqual(await stateOf("P-6"), { state: "out", since: second });
  });

  test("a day's state expires at the end of the school-local day plus the margin; a past day is not written", async () => {
    const castAt = at(-10_000);
    await send(event("P-7", "in", castAt));
    const day = localDay(Date.parse(castAt), zone);
    const { key } = stateSlot(api().attendanceState.layout, "oak", day, "P-7");
    const expireAt = Number(await api().redis.sendCommand(["EXPIRETIME", key]));
    assert.equal(expireAt, Math.ceil((dayBounds(day, zone).endMs + MARGIN_MS) / 1000));

    // An offline kiosk's check-in of three days ago: stored as any event, but its day's
    // state has expired, and writing it would only make a key that expired at once.
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    await send(event("P-8", "in", old));
    const oldDay = localDay(Date.parse(old), zone);
    const slot = stateSlot(api().attendanceState.layout, "oak", oldDay, "P-8");
    assert.equal(await api().redis.exists(slot.key), 0);
    assert.deepEqual(await stateOf("P-8"), { state: "none", since: null });
  });

  test("the route: a kiosk of the person's school that takes attendance, an active person", async () => {
    expectError(
      await request(api().app).get("/v1/kiosk/people/P-1/attendance"),
      401,
      "unauthorized",
    );
    issueFor(await read("\u0001"), "personId");
    const stranger = expectError(await read("nobody"), 422, "unknown_person");
    assert.deepEqual(stranger.details, { field: "personId" });
    assert.doesNotMatch(JSON.stringify(stranger), /nobody/, "the id is never echoed");
    // Another school's person is a stranger to this kiosk.
    expectError(await read("E-1"), 422, "unknown_person");
    // A kiosk limited to a vote poll takes no attendance; one limited to the register does.
    const lunch = await request(api().app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ schoolId: "oak", id: "lunch", title: "Lunch", options: [{ id: "a", label: "A" }] })
      .expect(201);
    const kioskOf = async (id: string, pollIds: string[]) => {
      const res = await request(api().app)
        .post("/v1/kiosks")
        .set(ADMIN)
        .send({ schoolId: "oak", id, name: id, pollIds })
        .expect(201);
      return { Authorization: `Bearer ${res.body.token}` };
    };
    const canteen = await kioskOf("canteen", [lunch.body.id]);
    expectError(await read("P-1", canteen), 403, "attendance_not_allowed");
    const side = await kioskOf("side-door", [register]);
    assert.equal((await read("P-1", side)).status, 200);
  });

  test("while another process holds the rebuild, reads are 503 attendance_state_rebuilding", async () => {
    const { lock, restored, rebuilt } = attendanceStateKeys(api().names.redisKeyPrefix);
    await api().redis.set(lock, "another-api-process", {
      expiration: { type: "PX", value: 60_000 },
    });
    await api().redis.unlink([restored, rebuilt]);
    const res = await read("P-1");
    const error = expectError(res, 503, "attendance_state_rebuilding");
    assert.match(error.message, /"oak"/);
    assert.equal(res.headers["retry-after"], "2");
    await api().attendanceStateRebuild.ensure();
    assert.equal(await api().redis.get(lock), "another-api-process", "left to its holder");

    await api().redis.del(lock); // that process died; its lock is gone
    await eventually("the state is served again", async () => (await read("P-1")).status === 200);
    assert.equal((await stateOf("P-1")).state, "out", "the live state was kept");
  });

  test("Redis restarted empty: the state is rebuilt from attendance_days", async () => {
    const today = localDay(Date.now(), zone);
    const yesterday = DateTime.fromISO(today).minus({ days: 1 }).toISODate()!;
    const inAt = at(-400_000);
    const outAt = at(-250_000);
    // P-1: checked in and out (out); P-2: checked in, open (in); P-5: only a check-out
    // without a check-in (none: nothing to show); P-9: yesterday only (none today); E-1
    // of another school, open.
    await storeDay("oak", "P-1", today, { firstIn: inAt, lastOut: outAt });
    await storeDay("oak", "P-2", today, { firstIn: inAt, openSince: inAt });
    await storeDay("oak", "P-5", today, { outsWithoutIn: 1 });
    await storeDay("oak", "P-9", yesterday, { firstIn: inAt, openSince: inAt });
    await storeDay("elm", "E-1", today, { firstIn: inAt, openSince: inAt });

    await redis!.restartEmpty();
    const answers: string[] = [];
    await eventually(
      "the rebuilt state is served",
      async () => {
        const res = await read("P-2");
        answers.push(res.body?.error?.code ?? String(res.status));
        return res.status === 200;
      },
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(
      answers.filter(
        (a) => !["redis_unavailable", "attendance_state_rebuilding", "200"].includes(a),
      ),
      [],
      `answers while Redis came back: ${answers.join(", ")}`,
    );
    assert.deepEqual(await stateOf("P-1"), { state: "out", since: toSecond(outAt) });
    assert.deepEqual(await stateOf("P-2"), { state: "in", since: toSecond(inAt) });
    assert.deepEqual(await stateOf("P-5"), { state: "none", since: null });
    assert.deepEqual(await stateOf("P-9"), { state: "none", since: null });
    assert.deepEqual(await stateOf("P-3"), { state: "none", since: null }, "no row, no state");
    const elm = stateSlot(api().attendanceState.layout, "elm", today, "E-1");
    // The test's own client reconnects to the restarted server on its own time.
    await eventually("the test's Redis client is back", () => api().redis.isReady);
    assert.ok(await api().redis.hGet(elm.key, elm.field), "elm's rebuilt too");
    const marker = await api().redis.get(attendanceStateKeys(api().names.redisKeyPrefix).restored);
    assert.ok(marker, "the marker says the state is complete");
    // Rows never overwrite a later live event: P-2 checks out now, the rebuild runs again.
    const outNow = at(-1_000);
    await send(event("P-2", "out", outNow));
    await api().redis.unlink(attendanceStateKeys(api().names.redisKeyPrefix).restored);
    assert.ok(await api().attendanceStateRebuild.ensure(), "a rebuild ran");
    assert.deepEqual(await stateOf("P-2"), { state: "out", since: toSecond(outNow) });
  });

  test("a state write that failed (Redis unreachable after the ack) is merged from attendance_days once Redis answers", async () => {
    await proxy!.down();
    const checkIn = at(-5_000);
    // The event is durable (the stream acked it): 202, though its state could not be written.
    await send(event("P-3", "in", checkIn));
    expectError(await read("P-3"), 503, "redis_unavailable");
    // The writer stores the event's person-day meanwhile.
    await storeDay("oak", "P-3", localDay(Date.now(), zone), {
      firstIn: checkIn,
      openSince: checkIn,
    });
    await proxy!.up();
    await eventually("the failed write is merged in", async () => {
      const res = await read("P-3");
      return res.status === 200 && res.body.state === "in";
    });
    assert.deepEqual(await stateOf("P-3"), { state: "in", since: toSecond(checkIn) });
  });
});
