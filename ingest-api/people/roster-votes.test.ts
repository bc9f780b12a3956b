import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import type { Express } from "express";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, expectError, issueFor, type TestKiosk } from "../../test-support/api.ts";
import {
  ADMIN,
  type IngestHarness,
  startIngestHarness,
  startIngestReplica,
} from "../../test-support/ingest.ts";
import { notifyRegistryRows, peopleChanged } from "../registry/registry-changes.ts";

// `voters: "roster"`: a vote's voterId must be an active person of the poll's school,
// checked in memory (ingest-api/people/known-people.ts), never echoed. People are rows put
// in with SQL, as the people API (or a roster import) leaves them, and notified as its store
// does (registry-changes.ts): this checks the vote path alone. The safety-net reload is the default 10 minutes: only NOTIFY makes a change
// made here visible.

describe("roster polls (voters: roster)", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  let northKiosk: TestKiosk;
  /** The id the API gave the north school's roster poll (scoped: its slug and a suffix). */
  let northPoll: string;

  const sql = (text: string, values: unknown[] = []) => h.db.pool.query(text, values);
  const addPerson = async (school: string, id: string, active = true) => {
    await sql("insert into people (school_id, id, active) values ($1, $2, $3)", [
      school,
      id,
      active,
    ]);
    await peopleChanged(h.db.pool, [school]);
  };
  const vote = (app: Express, k: TestKiosk, pollId: string, voterId?: string) =>
    request(app)
      .post("/v1/votes")
      .set(k.auth)
      .send({ pollId, optionId: "yes", ...(voterId === undefined ? {} : { voterId }) });
  const createPoll = async (body: Record<string, unknown>) => {
    const res = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        title: "T",
        options: [
          { id: "yes", label: "Yes" },
          { id: "no", label: "No" },
        ],
        ...body,
      });
    assert.equal(res.status, 201, res.text);
    return res.body as { id: string; voters: string; schoolId: string };
  };

  before(async () => {
    h = await startIngestHarness();
    await sql("insert into schools (id, name) values ('north', 'North school')");
    await notifyRegistryRows(h.db.pool, "schools", ["north"]);
    const roster = await createPoll({ id: "roster", voters: "roster" });
    assert.equal(roster.voters, "roster");
    await createPoll({ id: "anyone" });
    northPoll = (await createPoll({ id: "roster", schoolId: "north", voters: "roster" })).id;
    kiosk = await createKiosk(h.app, "hall");
    const res = await request(h.app)
      .post("/v1/kiosks")
      .set(ADMIN)
      .send({ id: "north-hall", name: "North hall", schoolId: "north" });
    assert.equal(res.status, 201, res.text);
    northKiosk = {
      id: res.body.id,
      token: res.body.token,
      auth: { Authorization: `Bearer ${res.body.token}` },
    };
    await addPerson("default", "alice");
    await addPerson("default", "bob", false);
    await addPerson("default", "Zo\u00eb"); // NFC, as the people API stores ids
    await addPerson("north", "carol");
    await eventually("the API knows the people", () => h.people.people === 3);
  });
  after(() => h?.close());

  test("a known active person votes", async () => {
    const res = await vote(h.app, kiosk, "roster", "alice");
    assert.equal(res.status, 202, res.text);
    const north = await vote(h.app, northKiosk, northPoll, "carol");
    assert.equal(north.status, 202, north.text);
  });

  test("an unknown, inactive or other school's person is 422 unknown_person, naming the field, never the id", async () => {
    for (const voterId of ["mallory", "bob", "carol"]) {
      const res = await vote(h.app, kiosk, "roster", voterId);
      const error = expectError(res, 422, "unknown_person");
      assert.deepEqual(error.details, { field: "voterId" });
      assert.ok(!res.text.includes(voterId), `the answer echoes "${voterId}": ${res.text}`);
    }
    // The north school's poll does not know the default school's alice.
    expectError(await vote(h.app, northKiosk, northPoll, "alice"), 422, "unknown_person");
  });

  test("a roster poll's vote without a voterId is 400 naming voterId", async () => {
    const issue = issueFor(await vote(h.app, kiosk, "roster"), "voterId");
    assert.match(issue.message, /required/);
  });

  test("the voterId is normalised before the check: surrounding spaces, NFC", async () => {
    assert.equal((await vote(h.app, kiosk, "roster", "  alice\t")).status, 202);
    // "Zoë" typed as e + combining diaeresis (NFD) is the person stored in NFC.
    const nfd = await vote(h.app, kiosk, "roster", "Zoe\u0308");
    assert.equal(nfd.status, 202, nfd.text);
    // Case is kept (as for every voter id): ALICE is someone else.
    expectError(await vote(h.app, kiosk, "roster", "ALICE"), 422, "unknown_person");
  });

  test('a voters: "any" poll takes any voter id, or none', async () => {
    assert.equal((await vote(h.app, kiosk, "anyone", "mallory")).status, 202);
    assert.equal((await vote(h.app, kiosk, "anyone")).status, 202);
  });

  test("a batch answers per item, naming votes.N.voterId", async () => {
    const items = [
      { pollId: "roster", voterId: "alice" },
      { pollId: "roster", voterId: "mallory" },
      { pollId: "roster" },
      { pollId: "anyone", voterId: "mallory" },
      { pollId: "roster", voterId: " Zoe\u0308 " },
    ].map((v) => ({ eventId: randomUUID(), optionId: "yes", ...v }));
    const res = await request(h.app).post("/v1/votes/batch").set(kiosk.auth).send({ votes: items });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, 3);
    assert.equal(res.body.rejected, 2);
    const [, unknown, missing] = res.body.results;
    assert.equal(unknown.status, "rejected");
    assert.equal(unknown.error.code, "unknown_person");
    assert.equal(unknown.error.status, 422);
    assert.deepEqual(unknown.error.details, { field: "votes.1.voterId" });
    assert.equal(missing.error.code, "invalid_request");
    assert.equal(missing.error.details.issues[0].field, "votes.2.voterId");
    assert.ok(!res.text.includes("mallory"), res.text);
  });

  test("a second API process sees a person added, then deactivated, within 1 s", async () => {
    const replica = await startIngestReplica(h);
    try {
      // The replica's start returned with its LISTEN in place and its first load done.
      expectError(await vote(replica.app, kiosk, "roster", "dave"), 422, "unknown_person");
      await addPerson("default", "dave");
      await eventually(
        "the replica lets dave vote",
        async () => (await vote(replica.app, kiosk, "roster", "dave")).status === 202,
        { timeoutMs: 1_000, intervalMs: 20 },
      );
      await sql("update people set active = false where school_id = 'default' and id = 'dave'");
      await peopleChanged(h.db.pool, ["default"]);
      await eventually(
        "the replica refuses dave",
        async () => (await vote(replica.app, kiosk, "roster", "dave")).status === 422,
        { timeoutMs: 1_000, intervalMs: 20 },
      );
      // And the first process alike.
      await eventually(
        "the first process refuses dave",
        async () => (await vote(h.app, kiosk, "roster", "dave")).status === 422,
        { timeoutMs: 1_000, intervalMs: 20 },
      );
    } finally {
      await replica.close();
    }
  });

  test("the metrics say how many people are known and what they cost", async () => {
    const text = await h.metrics();
    const sample = (name: string) => {
      const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text);
      assert.ok(m, `no ${name} in the metrics`);
      return Number(m[1]);
    };
    assert.equal(sample("tallyflow_known_people"), h.people.people);
    assert.ok(sample("tallyflow_known_people_bytes") > 0);
    assert.equal(sample("tallyflow_known_people_age_seconds"), 0);
    assert.match(text, /^tallyflow_known_people_loads_total\{kind="full"[^}]*\} [1-9]/m);
  });
});
