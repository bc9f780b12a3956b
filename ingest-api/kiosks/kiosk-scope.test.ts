import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import {
  createPoll,
  expectError,
  isoFromNow,
  issueFor,
  minutes,
  type TestKiosk,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

async function kioskWith(h: IngestHarness, body: Record<string, unknown>): Promise<TestKiosk> {
  const res = await request(h.app).post("/v1/kiosks").set(ADMIN).send(body);
  assert.equal(res.status, 201, res.text);
  const token = res.body.token as string;
  return { id: body.id as string, token, auth: { Authorization: `Bearer ${token}` } };
}

describe("kiosk poll scope (pollIds)", () => {
  let h: IngestHarness;
  const vote = (k: TestKiosk, pollId: string) =>
    request(h.app).post("/v1/votes").set(k.auth).send({ pollId, optionId: "yes" });

  before(async () => {
    h = await startIngestHarness();
    for (const id of ["alpha", "beta", "gamma"]) await createPoll(h.app, { id });
  });
  after(() => h?.close());

  test("create, patch and list pollIds; null lifts the limit", async () => {
    const created = await request(h.app)
      .post("/v1/kiosks")
      .set(ADMIN)
      .send({ id: "scoped", name: "Scoped", pollIds: ["alpha", "beta"] });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.body.pollIds, ["alpha", "beta"]);

    const patched = await request(h.app)
      .patch("/v1/kiosks/scoped")
      .set(ADMIN)
      .send({ pollIds: ["gamma"], name: "Renamed" });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.name, "Renamed");
    assert.deepEqual(patched.body.pollIds, ["gamma"]);

    const listed = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
    const row = listed.body.kiosks.find((k: { id: string }) => k.id === "scoped");
    assert.deepEqual(row.pollIds, ["gamma"]);
    assert.equal(row.name, "Renamed");

    // A patch without pollIds keeps them; null lifts them.
    const renamed = await request(h.app).patch("/v1/kiosks/scoped").set(ADMIN).send({ name: "R2" });
    assert.deepEqual(renamed.body.pollIds, ["gamma"]);
    const lifted = await request(h.app)
      .patch("/v1/kiosks/scoped")
      .set(ADMIN)
      .send({ pollIds: null });
    assert.equal(lifted.body.pollIds, null);

    const plain = await kioskWith(h, { id: "plain", name: "Plain" });
    const all = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
    assert.equal(all.body.kiosks.find((k: { id: string }) => k.id === plain.id).pollIds, null);
  });

  test("bad pollIds are 400 naming the field", async () => {
    const create = (pollIds: unknown) =>
      request(h.app).post("/v1/kiosks").set(ADMIN).send({ id: "bad", name: "Bad", pollIds });
    assert.match(issueFor(await create([]), "pollIds").message, /at least one/);
    assert.match(issueFor(await create(["alpha", "alpha"]), "pollIds").message, /unique/);
    assert.match(issueFor(await create("alpha"), "pollIds").message, /array of poll ids/);
    issueFor(await create(["no spaces"]), "pollIds.0");
    const missing = issueFor(await create(["alpha", "nope"]), "pollIds.1");
    assert.match(missing.message, /no poll has the id "nope"/);
    // Nothing was created by the refused requests.
    expectError(
      await request(h.app).patch("/v1/kiosks/bad").set(ADMIN).send({ name: "x" }),
      404,
      "kiosk_not_found",
    );
    await kioskWith(h, { id: "patchme", name: "P" });
    const patch = (body: object) =>
      request(h.app).patch("/v1/kiosks/patchme").set(ADMIN).send(body);
    issueFor(await patch({ pollIds: ["ghost"] }), "pollIds.0");
    issueFor(await patch({ token: "x" }), "token");
    issueFor(await patch({ name: "" }), "name");
    expectError(
      await request(h.app).patch("/v1/kiosks/patchme").send({ name: "x" }),
      401,
      "unauthorized",
    );
  });

  test("a vote for a poll outside the kiosk's pollIds is 403 poll_not_allowed, single and batch", async () => {
    const k = await kioskWith(h, { id: "only-alpha", name: "A", pollIds: ["alpha"] });
    assert.equal((await vote(k, "alpha")).status, 202);
    const error = expectError(await vote(k, "beta"), 403, "poll_not_allowed");
    assert.deepEqual(error.details, { field: "pollId", pollId: "beta" });
    assert.match(error.message, /only-alpha.*beta/);
    // Before the poll's existence: a scoped kiosk learns nothing of other ids.
    expectError(await vote(k, "no-such-poll"), 403, "poll_not_allowed");

    const batch = await request(h.app)
      .post("/v1/votes/batch")
      .set(k.auth)
      .send({
        votes: [
          { eventId: randomUUID(), pollId: "alpha", optionId: "yes" },
          { eventId: randomUUID(), pollId: "gamma", optionId: "no" },
        ],
      });
    assert.equal(batch.status, 200, batch.text);
    assert.equal(batch.body.accepted, 1);
    assert.equal(batch.body.rejected, 1);
    const item = batch.body.results[1];
    assert.equal(item.status, "rejected");
    assert.equal(item.error.status, 403);
    assert.equal(item.error.code, "poll_not_allowed");
    assert.deepEqual(item.error.details, { field: "votes.1.pollId", pollId: "gamma" });
  });

  test("a scope change is seen by the next vote; no pollIds = any poll", async () => {
    const k = await kioskWith(h, { id: "widened", name: "W", pollIds: ["alpha"] });
    expectError(await vote(k, "gamma"), 403, "poll_not_allowed");
    await request(h.app).patch("/v1/kiosks/widened").set(ADMIN).send({ pollIds: null }).expect(200);
    for (const pollId of ["alpha", "beta", "gamma"])
      assert.equal((await vote(k, pollId)).status, 202);
    await request(h.app)
      .patch("/v1/kiosks/widened")
      .set(ADMIN)
      .send({ pollIds: ["beta"] })
      .expect(200);
    expectError(await vote(k, "alpha"), 403, "poll_not_allowed");
    assert.equal((await vote(k, "beta")).status, 202);
  });
});

describe("GET /v1/kiosk and the poll's voteCooldownMs", () => {
  let h: IngestHarness;
  before(async () => {
    h = await startIngestHarness();
    await createPoll(h.app, { id: "open-b", title: "B open" });
    await createPoll(h.app, { id: "open-a", title: "A open", oneVotePerVoter: true });
    await createPoll(h.app, { id: "soon", title: "0 soon", opensAt: isoFromNow(minutes(60)) });
    await createPoll(h.app, {
      id: "over",
      title: "Over",
      opensAt: isoFromNow(-minutes(120)),
      closesAt: isoFromNow(-minutes(60)),
    });
    await createPoll(h.app, { id: "shelved", title: "Shelved" });
    await request(h.app).patch("/v1/polls/shelved").set(ADMIN).send({ archived: true }).expect(200);
    await createPoll(h.app, { id: "elsewhere", title: "Elsewhere" });
  });
  after(() => h?.close());

  test("lists the open and upcoming polls the kiosk may vote in, open first, with options", async () => {
    const k = await kioskWith(h, {
      id: "lobby",
      name: "Lobby",
      pollIds: ["open-a", "open-b", "soon", "over", "shelved"],
    });
    const res = await request(h.app).get("/v1/kiosk").set(k.auth);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.id, "lobby");
    assert.equal(res.body.name, "Lobby");
    assert.deepEqual(res.body.pollIds, ["open-a", "open-b", "soon", "over", "shelved"]);
    assert.deepEqual(
      res.body.polls.map((p: { id: string; status: string }) => [p.id, p.status]),
      [
        ["open-a", "open"],
        ["open-b", "open"],
        ["soon", "not_open"],
      ],
    );
    const a = res.body.polls[0];
    assert.equal(a.oneVotePerVoter, true);
    assert.equal(a.voteCooldownMs, 2000);
    assert.deepEqual(a.options, [
      { id: "yes", label: "Yes" },
      { id: "no", label: "No" },
    ]);
    assert.equal(res.body.polls[1].oneVotePerVoter, false);

    const any = await kioskWith(h, { id: "roaming", name: "Roaming" });
    const all = await request(h.app).get("/v1/kiosk").set(any.auth).expect(200);
    assert.equal(all.body.pollIds, null);
    assert.deepEqual(
      all.body.polls.map((p: { id: string }) => p.id),
      ["open-a", "open-b", "elsewhere", "soon"],
    );
  });

  test("needs a kiosk token; a revoked kiosk gets 403 kiosk_revoked", async () => {
    expectError(await request(h.app).get("/v1/kiosk"), 401, "unauthorized");
    expectError(await request(h.app).get("/v1/kiosk").set(ADMIN), 401, "unauthorized");
    const k = await kioskWith(h, { id: "retired", name: "Retired" });
    await request(h.app).delete("/v1/kiosks/retired").set(ADMIN).expect(200);
    expectError(await request(h.app).get("/v1/kiosk").set(k.auth), 403, "kiosk_revoked");
  });

  test("voteCooldownMs: default 2000, 0 allowed, bounds, patch, in the public polls", async () => {
    const made = await createPoll(h.app, { id: "calm" });
    assert.equal(made.voteCooldownMs, 2000);
    const zero = await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "mash", title: "Mash", options: [{ id: "a", label: "A" }], voteCooldownMs: 0 });
    assert.equal(zero.status, 201, zero.text);
    assert.equal(zero.body.voteCooldownMs, 0);

    const create = (voteCooldownMs: unknown) =>
      request(h.app)
        .post("/v1/polls")
        .set(ADMIN)
        .send({ id: "bounds", title: "B", options: [{ id: "a", label: "A" }], voteCooldownMs });
    assert.match(issueFor(await create(-1), "voteCooldownMs").message, /at least 0/);
    assert.match(issueFor(await create(600_001), "voteCooldownMs").message, /at most 600000/);
    assert.match(issueFor(await create(1.5), "voteCooldownMs").message, /whole number/);
    assert.match(issueFor(await create("2000"), "voteCooldownMs").message, /number/);
    assert.equal((await create(600_000)).status, 201);

    const patched = await request(h.app)
      .patch("/v1/polls/calm")
      .set(ADMIN)
      .send({ voteCooldownMs: 5000 });
    assert.equal(patched.status, 200, patched.text);
    assert.equal(patched.body.voteCooldownMs, 5000);
    issueFor(
      await request(h.app)
        .patch("/v1/polls/calm")
        .set(ADMIN)
        .send({ voteCooldownMs: 10 ** 7 }),
      "voteCooldownMs",
    );
    // Another patch keeps it.
    const kept = await request(h.app).patch("/v1/polls/calm").set(ADMIN).send({ title: "Calm" });
    assert.equal(kept.body.voteCooldownMs, 5000);
    assert.equal((await request(h.app).get("/v1/polls/calm").set(ADMIN)).body.voteCooldownMs, 5000);

    const one = await request(h.app).get("/v1/public/polls/calm").expect(200);
    assert.equal(one.body.voteCooldownMs, 5000);
    assert.equal(one.body.oneVotePerVoter, false);
    const list = await request(h.app).get("/v1/public/polls").expect(200);
    const byId = new Map(list.body.polls.map((p: { id: string }) => [p.id, p]));
    assert.equal((byId.get("mash") as { voteCooldownMs: number }).voteCooldownMs, 0);
    assert.equal((byId.get("open-a") as { oneVotePerVoter: boolean }).oneVotePerVoter, true);
    assert.deepEqual((byId.get("mash") as { options: unknown }).options, [{ id: "a", label: "A" }]);
  });
});
