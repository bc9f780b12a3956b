import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import type { Poll, School } from "../../common/registry-types.ts";
import { expectError, issueFor } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { drainPollPurges } from "../../test-support/poll-purges.ts";
import {
  createSchool,
  issueSchoolAdmin,
  type TestSchoolAdmin,
} from "../../test-support/schools.ts";
import { insertStoredVote, queryNumber } from "../../test-support/stored-votes.ts";

// Schools as the deployment admin manages them, their admins' credentials, and the names a
// school gives its polls and kiosks (scoped ids: ingest-api/schools/scoped-id.ts).

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const options = [
  { id: "yes", label: "Yes" },
  { id: "no", label: "No" },
];

let h: IngestHarness;
before(async () => {
  h = await startIngestHarness();
});
after(() => h?.close());

const as = (auth: { Authorization: string }) => ({
  get: (path: string) => request(h.app).get(path).set(auth),
  post: (path: string, body: object = {}) => request(h.app).post(path).set(auth).send(body),
  patch: (path: string, body: object) => request(h.app).patch(path).set(auth).send(body),
  delete: (path: string) => request(h.app).delete(path).set(auth),
});
const admin = as(ADMIN);

describe("schools (deployment admin)", () => {
  test("created, read, listed and changed; the answer is the row", async () => {
    const res = await admin.post("/v1/schools", {
      id: "north",
      name: "  North High  ",
      timeZone: "Europe/Oslo",
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.location, "/v1/schools/north");
    const { createdAt, updatedAt, attendance, ...rest } = res.body as School;
    assert.deepEqual(rest, { id: "north", name: "North High", timeZone: "Europe/Oslo" });
    assert.equal(attendance.dayEndsAt, "17:00", "the presence rules' defaults");
    assert.match(createdAt, ISO);
    assert.equal(updatedAt, createdAt);

    assert.deepEqual((await admin.get("/v1/schools/north").expect(200)).body, res.body);
    const list = (await admin.get("/v1/schools").expect(200)).body.schools as School[];
    assert.deepEqual(
      list.map((s) => s.id).filter((id) => id === "default" || id === "north"),
      ["default", "north"],
      "the migration's default school is listed with the others",
    );

    const changed = await admin.patch("/v1/schools/north", { name: "North" }).expect(200);
    assert.equal(changed.body.name, "North");
    assert.equal(changed.body.timeZone, "Europe/Oslo", "an absent field keeps its value");
  });

  test("a taken id is 409 school_exists; a missing school is 404", async () => {
    await createSchool(h.app, "taken");
    expectError(await admin.post("/v1/schools", { id: "taken", name: "T" }), 409, "school_exists");
    expectError(await admin.get("/v1/schools/nowhere"), 404, "school_not_found");
    expectError(await admin.patch("/v1/schools/nowhere", { name: "N" }), 404, "school_not_found");
    expectError(await admin.delete("/v1/schools/nowhere"), 404, "school_not_found");
  });

  test("every field is validated, naming it", async () => {
    const bad = await admin.post("/v1/schools", {
      id: "has space",
      name: "",
      timeZone: "Mars/Olympus",
      extra: 1,
    });
    expectError(bad, 400, "invalid_request");
    assert.match(issueFor(bad, "id").message, /letters, digits/);
    assert.match(issueFor(bad, "name").message, /empty/);
    assert.match(issueFor(bad, "timeZone").message, /time zone/i);
    assert.ok(bad.text.includes("extra"), bad.text);
    const long = await admin.patch("/v1/schools/default", { name: "x".repeat(201) });
    assert.match(issueFor(long, "name").message, /200/);
    expectError(await request(h.app).get("/v1/schools"), 401, "unauthorized");
  });

  test("the default school cannot be deleted", async () => {
    expectError(await admin.delete("/v1/schools/default"), 409, "school_is_default");
  });

  test("a school whose polls have votes is deleted only once they are archived", async () => {
    await createSchool(h.app, "closing");
    const poll = (
      await admin
        .post("/v1/polls", { id: "p", schoolId: "closing", title: "P", options })
        .expect(201)
    ).body as Poll;
    const kiosk = (
      await admin.post("/v1/kiosks", { id: "k", schoolId: "closing", name: "K" }).expect(201)
    ).body;
    const head = await issueSchoolAdmin(h.app, "closing");
    await insertStoredVote(h.db.pool, poll.id, "yes");

    const refused = expectError(await admin.delete("/v1/schools/closing"), 409, "school_has_votes");
    assert.deepEqual(refused.details, { pollIds: [poll.id] });
    await admin.patch(`/v1/polls/${poll.id}`, { archived: true }).expect(200);

    const gone = await admin.delete("/v1/schools/closing").expect(200);
    assert.equal(gone.body.id, "closing");
    await drainPollPurges(h.db.pool); // the votes go in the background (migration 031)
    for (const [table, column, id] of [
      ["polls", "id", poll.id],
      ["kiosks", "id", kiosk.id],
      ["votes", "poll_id", poll.id],
      ["school_admins", "school_id", "closing"],
    ] as const)
      assert.equal(
        await queryNumber(h.db.pool, `select count(*) from ${table} where ${column} = $1`, [id]),
        0,
        `${table} of the deleted school`,
      );
    expectError(await admin.get(`/v1/polls/${poll.id}`), 404, "poll_not_found");
    expectError(await as(head.auth).get("/v1/polls"), 401, "unauthorized");
    const kioskVote = await request(h.app)
      .post("/v1/votes")
      .set({ Authorization: `Bearer ${kiosk.token}` })
      .send({ pollId: poll.id, optionId: "yes" });
    expectError(kioskVote, 401, "unauthorized");
  });
});

describe("school admins", () => {
  test("issued with a token shown once, listed without it, revoked", async () => {
    await createSchool(h.app, "east");
    const res = await admin.post("/v1/schools/east/admins", { label: "Head teacher" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers["cache-control"], "no-store");
    const { token, createdAt, id, ...rest } = res.body;
    assert.deepEqual(rest, { schoolId: "east", label: "Head teacher" });
    assert.match(token, /^tfs_[A-Za-z0-9_-]{43}$/);
    assert.match(createdAt, ISO);
    const stored = await h.db.pool.query("select token_hash from school_admins where id = $1", [
      id,
    ]);
    assert.ok(!stored.rows[0].token_hash.toString().includes(token), "only the hash is stored");

    const listed = await admin.get("/v1/schools/east/admins").expect(200);
    assert.deepEqual(listed.body, {
      admins: [{ id, schoolId: "east", label: "Head teacher", createdAt }],
    });

    const auth = { Authorization: `Bearer ${token}` };
    await as(auth).get("/v1/schools/east").expect(200);
    await admin.delete(`/v1/schools/east/admins/${id}`).expect(200);
    expectError(await as(auth).get("/v1/schools/east"), 401, "unauthorized");
    expectError(await admin.delete(`/v1/schools/east/admins/${id}`), 404, "school_admin_not_found");
    expectError(
      await admin.post("/v1/schools/nowhere/admins", { label: "x" }),
      404,
      "school_not_found",
    );
    expectError(await admin.post("/v1/schools/east/admins", {}), 400, "invalid_request");
  });

  test("deployment-wide operations stay with the deployment admin", async () => {
    await createSchool(h.app, "west");
    const head = as((await issueSchoolAdmin(h.app, "west")).auth);
    for (const res of [
      await head.get("/v1/schools"),
      await head.post("/v1/schools", { id: "mine", name: "Mine" }),
      await head.patch("/v1/schools/west", { name: "Renamed" }),
      await head.delete("/v1/schools/west"),
      await head.post("/v1/schools/west/admins", { label: "Another" }),
      await head.get("/v1/schools/west/admins"),
    ])
      expectError(res, 403, "deployment_admin_required");
    assert.equal((await admin.get("/v1/schools/west")).body.name, "School west");
  });
});

describe("a school's polls and kiosks", () => {
  let head: TestSchoolAdmin;
  before(async () => {
    await createSchool(h.app, "oak", { timeZone: "America/Chicago" });
    await createSchool(h.app, "elm");
    head = await issueSchoolAdmin(h.app, "oak");
  });

  test("two schools both call a poll lunch; every URL takes the id the create answered", async () => {
    const oak = await as(head.auth).post("/v1/polls", { id: "lunch", title: "Lunch", options });
    assert.equal(oak.status, 201, oak.text);
    const elm = await admin.post("/v1/polls", {
      id: "lunch",
      schoolId: "elm",
      title: "Lunch",
      options,
    });
    assert.equal(elm.status, 201, elm.text);
    const plain = await admin.post("/v1/polls", { id: "lunch", title: "Lunch", options });
    assert.equal(plain.status, 201, plain.text);

    assert.equal(plain.body.id, "lunch", "the default school keeps id = slug");
    for (const [res, school] of [
      [oak, "oak"],
      [elm, "elm"],
    ] as const) {
      assert.equal(res.body.schoolId, school);
      assert.equal(res.body.slug, "lunch");
      assert.match(res.body.id, /^lunch-[a-z2-9]{6}$/);
      assert.equal(res.headers.location, `/v1/polls/${res.body.id}`);
    }
    assert.notEqual(oak.body.id, elm.body.id);
    assert.equal(oak.body.timeZone, "America/Chicago", "a poll takes its school's time zone");
    assert.equal(elm.body.timeZone, "UTC");

    const id = oak.body.id as string;
    await as(head.auth).get(`/v1/polls/${id}`).expect(200);
    await request(h.app).get(`/v1/public/polls/${id}`).expect(200);
    for (const page of [`/dashboard/${id}`, `/vote/${id}`, `/kiosk/${id}`])
      assert.equal((await request(h.app).get(page)).status, 200, page);

    expectError(
      await as(head.auth).post("/v1/polls", { id: "lunch", title: "Again", options }),
      409,
      "poll_exists",
    );
  });

  test("a school admin's creates land in its school; naming another is refused", async () => {
    const res = await as(head.auth).post("/v1/polls", {
      id: "trip",
      schoolId: "elm",
      title: "Trip",
      options,
    });
    expectError(res, 400, "invalid_request");
    assert.match(issueFor(res, "schoolId").message, /your own school/);
    const missing = await admin.post("/v1/kiosks", { id: "k1", schoolId: "nowhere", name: "K" });
    assert.match(issueFor(missing, "schoolId").message, /no school/);

    const kiosk = await as(head.auth).post("/v1/kiosks", { id: "hall", name: "Hall" });
    assert.equal(kiosk.status, 201, kiosk.text);
    assert.equal(kiosk.body.schoolId, "oak");
    assert.equal(kiosk.body.slug, "hall");
    assert.match(kiosk.body.id, /^hall-[a-z2-9]{6}$/);
  });

  test("a kiosk votes only in its school's polls, and is limited only to them", async () => {
    const oakPoll = (
      await as(head.auth).post("/v1/polls", { id: "colour", title: "C", options }).expect(201)
    ).body as Poll;
    const elmPoll = (
      await admin
        .post("/v1/polls", { id: "colour", schoolId: "elm", title: "C", options })
        .expect(201)
    ).body as Poll;
    const kiosk = (await as(head.auth).post("/v1/kiosks", { id: "gate", name: "Gate" }).expect(201))
      .body;
    const vote = (pollId: string) =>
      request(h.app)
        .post("/v1/votes")
        .set({ Authorization: `Bearer ${kiosk.token}` })
        .send({ pollId, optionId: "yes" });
    assert.equal((await vote(oakPoll.id)).status, 202);
    const home = await request(h.app)
      .get("/v1/kiosk")
      .set({ Authorization: `Bearer ${kiosk.token}` })
      .expect(200);
    const listed = home.body.polls.map((p: Poll) => p.id);
    assert.ok(listed.includes(oakPoll.id));
    assert.ok(!listed.includes(elmPoll.id), "the kiosk home lists only its school's polls");
    assert.ok(home.body.polls.every((p: Poll) => p.schoolId === "oak"));
    const refused = expectError(await vote(elmPoll.id), 403, "poll_not_allowed");
    assert.deepEqual(refused.details, { field: "pollId", pollId: elmPoll.id });

    const limit = await as(head.auth).patch(`/v1/kiosks/${kiosk.id}`, { pollIds: [elmPoll.id] });
    expectError(limit, 400, "invalid_request");
    assert.match(issueFor(limit, "pollIds.0").message, /no poll/);
    await as(head.auth)
      .patch(`/v1/kiosks/${kiosk.id}`, { pollIds: [oakPoll.id] })
      .expect(200);
  });
});
