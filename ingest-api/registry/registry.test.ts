import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import type { Poll } from "../../common/registry-types.ts";
import {
  createKiosk,
  createPoll,
  expectError,
  issueFields,
  issueFor,
  type TestKiosk,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { drainPollPurges } from "../../test-support/poll-purges.ts";
import { insertStoredVote } from "../../test-support/stored-votes.ts";

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let h: IngestHarness;
let kiosk: TestKiosk;

before(async () => {
  h = await startIngestHarness();
  kiosk = await createKiosk(h.app, "registry-kiosk");
});
after(() => h?.close());

const admin = {
  post: (path: string, body: unknown) =>
    request(h.app)
      .post(path)
      .set(ADMIN)
      .send(body as object),
  get: (path: string) => request(h.app).get(path).set(ADMIN),
  patch: (path: string, body: unknown) =>
    request(h.app)
      .patch(path)
      .set(ADMIN)
      .send(body as object),
  delete: (path: string) => request(h.app).delete(path).set(ADMIN),
};
const vote = (pollId: string, optionId: string) =>
  request(h.app).post("/v1/votes").set(kiosk.auth).send({ pollId, optionId });
const storedVotes = async (pollId: string) =>
  (await h.db.pool.query("select count(*)::int as n from votes where poll_id = $1", [pollId]))
    .rows[0].n as number;

const options = [
  { id: "red", label: "Red" },
  { id: "blue", label: "Blue" },
];

describe("POST /v1/polls", () => {
  test("201 with the poll as stored, and a Location", async () => {
    const res = await admin.post("/v1/polls", { id: "colours", title: "  Colours  ", options });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.location, "/v1/polls/colours");
    const { createdAt, updatedAt, ...rest } = res.body as Poll;
    assert.match(createdAt, ISO);
    assert.equal(updatedAt, createdAt);
    assert.deepEqual(rest, {
      id: "colours",
      schoolId: "default",
      slug: "colours",
      kind: "vote",
      groupIds: null,
      title: "Colours",
      timeZone: "UTC",
      opensAt: null,
      closesAt: null,
      resultsVisibility: "live",
      oneVotePerVoter: false,
      voteCooldownMs: 2000,
      voters: "any",
      archived: false,
      archivedAt: null,
      options: [
        { id: "red", label: "Red", position: 1 },
        { id: "blue", label: "Blue", position: 2 },
      ],
    });
    // What was answered is what was stored.
    assert.deepEqual((await admin.get("/v1/polls/colours").expect(200)).body, res.body);
    const { rows } = await h.db.pool.query(
      "select title, time_zone from polls where id = 'colours'",
    );
    assert.deepEqual(rows, [{ title: "Colours", time_zone: "UTC" }]);
  });

  test("every setting is stored; instants are normalized to UTC", async () => {
    const res = await admin.post("/v1/polls", {
      id: "election",
      title: "Election",
      options,
      timeZone: "Europe/London",
      opensAt: "2030-05-01T09:00:00+02:00",
      closesAt: "2030-05-01T19:00:00.5+02:00",
      resultsVisibility: "after_close",
      oneVotePerVoter: true,
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.timeZone, "Europe/London");
    assert.equal(res.body.opensAt, "2030-05-01T07:00:00.000Z");
    assert.equal(res.body.closesAt, "2030-05-01T17:00:00.500Z");
    assert.equal(res.body.resultsVisibility, "after_close");
    assert.equal(res.body.oneVotePerVoter, true);
  });

  test("time zones: IANA names only, never forms JavaScript and Postgres read differently", async () => {
    // "+05:30" is UTC+05:30 to JavaScript and UTC-05:30 to Postgres; CET is a DST zone to
    // one and a fixed offset to the other; IST is India to one and Israel to the other.
    const refused = ["+05:30", "-03:00", "UTC+5", "GMT+2", "EST5EDT", "CET", "EST", "IST", "GMT"];
    for (const timeZone of [...refused, "utc", "posix/Europe/London", "Europe/London,M3", ""]) {
      const res = await admin.post("/v1/polls", { id: "zoned", title: "Z", options, timeZone });
      const error = expectError(res, 400, "invalid_request");
      assert.deepEqual(issueFields(res), ["timeZone"], `${timeZone}: ${res.text}`);
      assert.match(error.message, /^timeZone: must be "UTC" or an IANA time zone name/);
    }
    await createPoll(h.app, { id: "zoned" });
    for (const timeZone of refused) {
      const res = await admin.patch("/v1/polls/zoned", { timeZone });
      expectError(res, 400, "invalid_request");
      assert.deepEqual(issueFields(res), ["timeZone"], `${timeZone}: ${res.text}`);
    }
    for (const timeZone of ["UTC", "Asia/Kolkata", "Etc/GMT+5", "America/Argentina/Buenos_Aires"]) {
      const res = await admin.patch("/v1/polls/zoned", { timeZone });
      assert.equal(res.status, 200, `${timeZone}: ${res.text}`);
      assert.equal(res.body.timeZone, timeZone);
    }
  });

  test("options missing is 400 naming options", async () => {
    const res = await admin.post("/v1/polls", { id: "no-options", title: "No options" });
    assert.deepEqual(issueFields(res), ["options"]);
    assert.equal(issueFor(res, "options").message, "is required");
    expectError(await admin.get("/v1/polls/no-options"), 404, "poll_not_found");
  });

  test("each bad field is named", async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ["id", { id: "bad id!" }, 'must be 1-64 letters, digits, "-" or "_"'],
      ["id", { id: "x".repeat(65) }, 'must be 1-64 letters, digits, "-" or "_"'],
      ["id", { id: undefined }, "is required"],
      ["title", { title: "   " }, "must not be empty"],
      ["title", { title: "t".repeat(201) }, "must be at most 200 characters"],
      ["title", { title: "nul\u0000byte" }, "must not contain NUL characters"],
      ["title", { title: 7 }, "must be a string"],
      ["options", { options: [] }, "must hold at least one option"],
      ["options", { options: "red,blue" }, "must be an array of {id, label}"],
      ["options", { options: [options[0], options[0]] }, "option ids must be unique"],
      [
        "options.0.id",
        { options: [{ id: "r d", label: "Red" }] },
        'must be 1-64 letters, digits, "-" or "_"',
      ],
      ["options.0.label", { options: [{ id: "red", label: "" }] }, "must not be empty"],
      [
        "options.0.colour",
        { options: [{ id: "red", label: "Red", colour: "#f00" }] },
        "is not a known field",
      ],
      [
        "timeZone",
        { timeZone: "Mars/Olympus_Mons" },
        'must be "UTC" or an IANA time zone name such as Europe/London',
      ],
      ["opensAt", { opensAt: "tomorrow" }, "must be an ISO 8601 timestamp with a time zone"],
      [
        "opensAt",
        { opensAt: "2030-05-01T09:00:00" },
        "must be an ISO 8601 timestamp with a time zone",
      ],
      [
        "opensAt",
        { opensAt: "0000-01-01T00:00:00Z" },
        "must be between the years 0001 and 9999 (UTC)",
      ],
      ["closesAt", { closesAt: 1_900_000_000 }, "must be an ISO 8601 timestamp with a time zone"],
      ["resultsVisibility", { resultsVisibility: "public" }, 'must be "live" or "after_close"'],
      ["oneVotePerVoter", { oneVotePerVoter: "yes" }, "must be true or false"],
      ["archived", { archived: false }, "is not a known field"],
    ];
    for (const [field, patch, message] of cases) {
      const res = await admin.post("/v1/polls", { id: "bad", title: "Bad", options, ...patch });
      assert.deepEqual(issueFields(res), [field], `${JSON.stringify(patch)}: ${res.text}`);
      assert.equal(issueFor(res, field).message, message, JSON.stringify(patch));
    }
    expectError(await admin.get("/v1/polls/bad"), 404, "poll_not_found");
  });

  test("several bad fields are all named at once", async () => {
    const res = await admin.post("/v1/polls", {
      id: "no good",
      title: "",
      options: [],
      timeZone: "Nowhere",
      extra: 1,
    });
    assert.deepEqual(issueFields(res).sort(), ["extra", "id", "options", "timeZone", "title"]);
  });

  test("closesAt before or at opensAt is 400 naming closesAt", async () => {
    for (const closesAt of [
      "2030-05-01T08:00:00Z",
      "2030-05-01T09:00:00Z",
      "2030-05-01T11:00:00+02:00",
    ]) {
      const res = await admin.post("/v1/polls", {
        id: "backwards",
        title: "Backwards",
        options,
        opensAt: "2030-05-01T09:00:00Z",
        closesAt,
      });
      assert.deepEqual(issueFields(res), ["closesAt"], closesAt);
      assert.equal(issueFor(res, "closesAt").message, "must be after opensAt");
    }
  });

  test("a window shorter than a millisecond is refused, not a 500", async () => {
    const res = await admin.post("/v1/polls", {
      id: "instant",
      title: "Instant",
      options,
      opensAt: "2030-05-01T12:00:00.0009999Z",
      closesAt: "2030-05-01T12:00:00.001Z",
    });
    // Kept to the millisecond, the first instant is 12:00:00.000Z: a 1 ms window.
    assert.equal(res.status, 201, res.text);
    assert.equal(res.body.opensAt, "2030-05-01T12:00:00.000Z");
    const empty = await admin.post("/v1/polls", {
      id: "empty",
      title: "Empty",
      options,
      opensAt: "2030-05-01T12:00:00.0001Z",
      closesAt: "2030-05-01T12:00:00.0009Z",
    });
    assert.deepEqual(issueFields(empty), ["closesAt"]);
  });

  test("a duplicate id is 409 poll_exists and changes nothing", async () => {
    await createPoll(h.app, { id: "twice", title: "First" });
    const res = await admin.post("/v1/polls", { id: "twice", title: "Second", options });
    expectError(res, 409, "poll_exists");
    assert.equal((await admin.get("/v1/polls/twice")).body.title, "First");
  });

  test("malformed JSON is 400 and a body that is not JSON is 415", async () => {
    const malformed = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .set("Content-Type", "application/json")
      .send('{"id": ');
    expectError(malformed, 400, "malformed_json");
    const text = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .set("Content-Type", "text/plain")
      .send("id=x");
    expectError(text, 415, "unsupported_media_type");
    const empty = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .set("Content-Type", "application/json")
      .send("null");
    assert.deepEqual(issueFields(empty).sort(), ["id", "options", "title"]);
  });
});

describe("admin authentication", () => {
  const routes: [string, string][] = [
    ["post", "/v1/polls"],
    ["get", "/v1/polls"],
    ["get", "/v1/polls/colours"],
    ["patch", "/v1/polls/colours"],
    ["delete", "/v1/polls/colours"],
    ["post", "/v1/kiosks"],
    ["get", "/v1/kiosks"],
    ["delete", "/v1/kiosks/registry-kiosk"],
  ];
  const call = (method: string, path: string) => {
    const agent = request(h.app);
    const req =
      method === "post"
        ? agent.post(path)
        : method === "patch"
          ? agent.patch(path)
          : method === "delete"
            ? agent.delete(path)
            : agent.get(path);
    return req;
  };

  test("every registry route is 401 without the admin token", async () => {
    await createPoll(h.app, { id: "guarded" });
    for (const [method, path] of routes) {
      const res = await call(method, path.replace("colours", "guarded")).send({ id: "x" });
      expectError(res, 401, "unauthorized");
    }
    // Nothing was changed by the refused calls.
    assert.equal((await admin.get("/v1/polls/guarded")).status, 200);
    const kiosks = (await admin.get("/v1/kiosks")).body.kiosks as {
      id: string;
      revokedAt: unknown;
    }[];
    assert.equal(kiosks.find((k) => k.id === "registry-kiosk")?.revokedAt, null);
  });

  test("a wrong token, another scheme or a kiosk token is 401", async () => {
    for (const authorization of [
      "Bearer wrong-admin-token",
      "Bearer test-admin-token-12", // a prefix of the real one
      "Bearer ",
      "Basic dGVzdC1hZG1pbi10b2tlbi0xMjM=",
      "test-admin-token-123",
      `Bearer ${kiosk.token}`,
    ]) {
      const res = await request(h.app).get("/v1/polls").set("Authorization", authorization);
      expectError(res, 401, "unauthorized");
    }
  });
});

describe("GET /v1/polls and /v1/polls/:id", () => {
  test("lists every poll in creation order", async () => {
    await createPoll(h.app, { id: "list-a" });
    await createPoll(h.app, { id: "list-b" });
    const res = await admin.get("/v1/polls").expect(200);
    assert.deepEqual(Object.keys(res.body), ["polls"]);
    const ids = (res.body.polls as Poll[]).map((p) => p.id);
    assert.ok(
      ids.indexOf("list-a") >= 0 && ids.indexOf("list-a") < ids.indexOf("list-b"),
      ids.join(),
    );
    const one = (res.body.polls as Poll[]).find((p) => p.id === "list-b");
    assert.deepEqual(one, (await admin.get("/v1/polls/list-b").expect(200)).body);
  });

  test("an unknown poll is 404 poll_not_found; a malformed id is 400", async () => {
    const error = expectError(await admin.get("/v1/polls/missing"), 404, "poll_not_found");
    assert.match(error.message, /missing/);
    assert.deepEqual(issueFields(await admin.get("/v1/polls/not%20an%20id")), ["id"]);
  });
});

describe("PATCH /v1/polls/:id", () => {
  test("changes title, window and visibility", async () => {
    const created = await createPoll(h.app, { id: "patchable" });
    const res = await admin.patch("/v1/polls/patchable", {
      title: "Renamed",
      opensAt: "2030-01-01T00:00:00Z",
      closesAt: "2030-01-02T00:00:00Z",
      resultsVisibility: "after_close",
      timeZone: "America/New_York",
    });
    assert.equal(res.status, 200, res.text);
    const { updatedAt, ...rest } = res.body as Poll;
    const { updatedAt: createdUpdatedAt, ...before } = created;
    assert.deepEqual(rest, {
      ...before,
      title: "Renamed",
      opensAt: "2030-01-01T00:00:00.000Z",
      closesAt: "2030-01-02T00:00:00.000Z",
      resultsVisibility: "after_close",
      timeZone: "America/New_York",
    });
    assert.ok(Date.parse(updatedAt) >= Date.parse(createdUpdatedAt));
    assert.deepEqual((await admin.get("/v1/polls/patchable")).body, res.body);

    // Only what is sent changes; null clears a bound of the window.
    const cleared = await admin.patch("/v1/polls/patchable", { opensAt: null }).expect(200);
    assert.equal(cleared.body.opensAt, null);
    assert.equal(cleared.body.closesAt, "2030-01-02T00:00:00.000Z");
    assert.equal(cleared.body.title, "Renamed");
  });

  test("a window that would end before it starts is 400 naming closesAt", async () => {
    await createPoll(h.app, {
      id: "windowed",
      opensAt: "2030-01-01T00:00:00Z",
      closesAt: "2030-01-02T00:00:00Z",
    });
    const res = await admin.patch("/v1/polls/windowed", { closesAt: "2029-12-31T00:00:00Z" });
    const error = expectError(res, 400, "invalid_request");
    assert.deepEqual(error.details, {
      issues: [
        {
          field: "closesAt",
          message: "must be after opensAt (2030-01-01T00:00:00.000Z), got 2029-12-31T00:00:00.000Z",
        },
      ],
    });
    assert.equal((await admin.get("/v1/polls/windowed")).body.closesAt, "2030-01-02T00:00:00.000Z");
  });

  test("bad fields are 400 naming them", async () => {
    await createPoll(h.app, { id: "strict" });
    for (const [field, body] of [
      ["archived", { archived: "yes" }],
      ["title", { title: "" }],
      ["timeZone", { timeZone: "Europe/Atlantis" }],
      ["id", { id: "renamed" }],
      ["options", { options: [] }],
      ["closesAt", { closesAt: "later" }],
    ] as const) {
      const res = await admin.patch("/v1/polls/strict", body);
      assert.deepEqual(issueFields(res), [field], JSON.stringify(body));
    }
  });

  test("options may be added and relabelled even once the poll has votes", async () => {
    await createPoll(h.app, { id: "growing", options });
    await insertStoredVote(h.db.pool, "growing", "red");
    expectError(await vote("growing", "green"), 422, "unknown_option");
    const res = await admin.patch("/v1/polls/growing", {
      options: [
        { id: "blue", label: "Navy" },
        { id: "red", label: "Red" },
        { id: "green", label: "Green" },
      ],
    });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.options, [
      { id: "blue", label: "Navy", position: 1 },
      { id: "red", label: "Red", position: 2 },
      { id: "green", label: "Green", position: 3 },
    ]);
    // This process reloaded its registry before answering: the new option takes votes now.
    assert.equal((await vote("growing", "green")).status, 202);
  });

  test("removing an option is allowed without votes and refused with 409 once votes exist", async () => {
    await createPoll(h.app, {
      id: "shrinking",
      options: [...options, { id: "green", label: "Green" }],
    });
    const removed = await admin.patch("/v1/polls/shrinking", { options }).expect(200);
    assert.deepEqual(
      removed.body.options.map((o: { id: string }) => o.id),
      ["red", "blue"],
    );
    expectError(await vote("shrinking", "green"), 422, "unknown_option");

    await insertStoredVote(h.db.pool, "shrinking", "blue");
    const res = await admin.patch("/v1/polls/shrinking", { options: [options[0]] });
    const error = expectError(res, 409, "poll_has_votes");
    assert.match(error.message, /blue/);
    assert.deepEqual(
      (await admin.get("/v1/polls/shrinking")).body.options.map((o: { id: string }) => o.id),
      ["red", "blue"],
    );
    assert.equal((await vote("shrinking", "blue")).status, 202);
  });

  test("switching oneVotePerVoter is allowed without votes and refused with 409 once votes exist", async () => {
    await createPoll(h.app, { id: "rules" });
    const on = await admin.patch("/v1/polls/rules", { oneVotePerVoter: true }).expect(200);
    assert.equal(on.body.oneVotePerVoter, true);

    await insertStoredVote(h.db.pool, "rules", "yes");
    const off = await admin.patch("/v1/polls/rules", { oneVotePerVoter: false });
    expectError(off, 409, "poll_has_votes");
    assert.equal((await admin.get("/v1/polls/rules")).body.oneVotePerVoter, true);
    // Sending the current value is not a switch.
    const same = await admin.patch("/v1/polls/rules", { oneVotePerVoter: true, title: "Rules" });
    assert.equal(same.status, 200, same.text);
    assert.equal(same.body.title, "Rules");
  });

  test("archived: true archives (votes refused); archived: false restores", async () => {
    await createPoll(h.app, { id: "shelved" });
    const archived = await admin.patch("/v1/polls/shelved", { archived: true }).expect(200);
    assert.equal(archived.body.archived, true);
    assert.match(archived.body.archivedAt, ISO);
    expectError(await vote("shelved", "yes"), 409, "poll_archived");

    // Archiving again keeps the first time.
    const again = await admin.patch("/v1/polls/shelved", { archived: true }).expect(200);
    assert.equal(again.body.archivedAt, archived.body.archivedAt);

    const restored = await admin.patch("/v1/polls/shelved", { archived: false }).expect(200);
    assert.equal(restored.body.archived, false);
    assert.equal(restored.body.archivedAt, null);
    assert.equal((await vote("shelved", "yes")).status, 202);
  });

  test("an unknown poll is 404; a malformed id is 400", async () => {
    expectError(await admin.patch("/v1/polls/missing", { title: "X" }), 404, "poll_not_found");
    assert.deepEqual(issueFields(await admin.patch("/v1/polls/a.b", { title: "X" })), ["id"]);
  });
});

describe("DELETE /v1/polls/:id", () => {
  test("a poll without votes is deleted at once", async () => {
    const created = await createPoll(h.app, { id: "temporary" });
    const res = await admin.delete("/v1/polls/temporary").expect(200);
    assert.deepEqual(res.body, created);
    expectError(await admin.get("/v1/polls/temporary"), 404, "poll_not_found");
    expectError(await vote("temporary", "yes"), 404, "poll_not_found");
    const { rowCount } = await h.db.pool.query(
      "select 1 from poll_options where poll_id = 'temporary'",
    );
    assert.equal(rowCount, 0);
  });

  test("a poll with votes is 409 until archived; then it goes, and its votes after it", async () => {
    await createPoll(h.app, { id: "keeper" });
    await insertStoredVote(h.db.pool, "keeper", "yes");
    await insertStoredVote(h.db.pool, "keeper", "no");
    await createPoll(h.app, { id: "bystander" });
    await insertStoredVote(h.db.pool, "bystander", "yes");

    const refused = await admin.delete("/v1/polls/keeper");
    const error = expectError(refused, 409, "poll_has_votes");
    assert.match(error.message, /archive/);
    assert.equal((await admin.get("/v1/polls/keeper")).status, 200);
    assert.equal(await storedVotes("keeper"), 2);

    await admin.patch("/v1/polls/keeper", { archived: true }).expect(200);
    const res = await admin.delete("/v1/polls/keeper").expect(200);
    assert.equal(res.body.id, "keeper");
    assert.equal(res.body.archived, true);
    expectError(await admin.get("/v1/polls/keeper"), 404, "poll_not_found");
    // The poll went at once; its votes go in the writers' background purge (migration 031).
    assert.equal(await storedVotes("keeper"), 2);
    await drainPollPurges(h.db.pool);
    assert.equal(await storedVotes("keeper"), 0);
    assert.equal(await storedVotes("bystander"), 1);
  });

  test("an unknown poll is 404 poll_not_found", async () => {
    expectError(await admin.delete("/v1/polls/never-was"), 404, "poll_not_found");
  });
});

describe("kiosks", () => {
  test("POST /v1/kiosks is 201 with the token, shown only this once", async () => {
    const res = await admin.post("/v1/kiosks", { id: "lobby", name: "Lobby" });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.headers.location, "/v1/kiosks/lobby");
    const { token, createdAt, ...rest } = res.body;
    assert.deepEqual(rest, {
      id: "lobby",
      schoolId: "default",
      slug: "lobby",
      name: "Lobby",
      pollIds: null,
      revokedAt: null,
    });
    assert.match(createdAt, ISO);
    assert.match(token, /^tfk_[A-Za-z0-9_-]{43}$/);

    const list = await admin.get("/v1/kiosks").expect(200);
    assert.deepEqual(Object.keys(list.body), ["kiosks", "health"]);
    const listed = list.body.kiosks.find((k: { id: string }) => k.id === "lobby");
    assert.deepEqual(listed, {
      id: "lobby",
      schoolId: "default",
      slug: "lobby",
      name: "Lobby",
      pollIds: null,
      createdAt,
      revokedAt: null,
      lastSeenAt: null,
      status: null,
    });
    assert.ok(!list.text.includes(token), "the token is listed");

    // Only a hash of the token is stored.
    const { rows } = await h.db.pool.query<{ token_hash: Buffer }>(
      "select token_hash from kiosks where id = 'lobby'",
    );
    const stored = rows[0]!.token_hash;
    assert.notEqual(stored.toString("utf8"), token);
    assert.ok(!stored.includes(Buffer.from(token)));
    assert.deepEqual(stored, createHash("sha256").update(token).digest());

    // And it works at once.
    const voted = await request(h.app)
      .post("/v1/votes")
      .set("Authorization", `Bearer ${token}`)
      .send({ pollId: "colours", optionId: "red" });
    assert.equal(voted.status, 202, voted.text);
  });

  test("each kiosk gets its own token", async () => {
    const a = await createKiosk(h.app, "twin-a");
    const b = await createKiosk(h.app, "twin-b");
    assert.notEqual(a.token, b.token);
  });

  test("bad kiosk bodies are 400 naming the field; a duplicate id is 409", async () => {
    for (const [fields, body] of [
      [["id"], { id: "no spaces", name: "X" }],
      [["name"], { id: "ok", name: "" }],
      [["name"], { id: "ok", name: "a\u0000b" }],
      [["name"], { id: "ok" }],
      [["token"], { id: "ok", name: "X", token: "mine" }],
    ] as const) {
      const res = await admin.post("/v1/kiosks", body);
      assert.deepEqual(issueFields(res), fields, JSON.stringify(body));
    }
    await createKiosk(h.app, "dup");
    expectError(await admin.post("/v1/kiosks", { id: "dup", name: "Again" }), 409, "kiosk_exists");
  });

  test("DELETE /v1/kiosks/:id revokes: the kiosk's token is then 403 kiosk_revoked", async () => {
    const k = await createKiosk(h.app, "retired");
    assert.equal(
      (
        await request(h.app)
          .post("/v1/votes")
          .set(k.auth)
          .send({ pollId: "colours", optionId: "red" })
      ).status,
      202,
    );
    const res = await admin.delete("/v1/kiosks/retired").expect(200);
    assert.equal(res.body.id, "retired");
    assert.match(res.body.revokedAt, ISO);
    assert.equal(res.body.token, undefined);

    const refused = await request(h.app)
      .post("/v1/votes")
      .set(k.auth)
      .send({ pollId: "colours", optionId: "red" });
    const error = expectError(refused, 403, "kiosk_revoked");
    assert.match(error.message, /retired/);

    // Revoking again keeps the first time; the list shows it.
    const again = await admin.delete("/v1/kiosks/retired").expect(200);
    assert.equal(again.body.revokedAt, res.body.revokedAt);
    const listed = (await admin.get("/v1/kiosks")).body.kiosks.find(
      (x: { id: string }) => x.id === "retired",
    );
    assert.equal(listed.revokedAt, res.body.revokedAt);
  });

  test("revoking an unknown kiosk is 404 kiosk_not_found; a malformed id is 400", async () => {
    expectError(await admin.delete("/v1/kiosks/ghost"), 404, "kiosk_not_found");
    assert.deepEqual(issueFields(await admin.delete("/v1/kiosks/gh%20ost")), ["id"]);
  });
});
