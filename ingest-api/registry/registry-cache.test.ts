import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import {
  createKiosk,
  createPoll,
  expectError,
  listenerReady,
  type TestKiosk,
} from "../../test-support/api.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { deletePolls, notifyRegistryRows, pollsInserted } from "./registry-changes.ts";

// The ingest path reads an in-memory copy of the registry. Changes made by another API
// process (here: directly in Postgres, notifying as its stores do: registry-changes.ts)
// arrive through LISTEN/NOTIFY; the periodic reload is pushed out to 10 minutes so that
// only NOTIFY can make these tests pass.

describe("registry changes made by another process", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  const vote = (pollId: string, optionId: string) =>
    request(h.app).post("/v1/votes").set(kiosk.auth).send({ pollId, optionId });
  /** Votes until the answer is no longer `status`, then returns the new answer. */
  const voteUntilNot = (status: number, pollId: string, optionId: string) =>
    eventually(`a vote for ${pollId}/${optionId} is no longer ${status}`, async () => {
      const res = await vote(pollId, optionId);
      return res.status === status ? undefined : res;
    });

  before(async () => {
    h = await startIngestHarness({ REGISTRY_REFRESH_MS: "600000" });
    kiosk = await createKiosk(h.app, "cache-kiosk");
    await listenerReady(h);
  });
  after(() => h?.close());

  test("a poll inserted directly in Postgres takes votes, told by NOTIFY alone (no reload)", async () => {
    expectError(await vote("remote", "a"), 404, "poll_not_found");
    const client = await h.db.pool.connect();
    try {
      await client.query("begin");
      await client.query(
        "insert into polls (id, slug, title) values ('remote', 'remote', 'Remote')",
      );
      await client.query(
        "insert into poll_options (poll_id, id, label, position) values ('remote', 'a', 'A', 1)",
      );
      await pollsInserted(client, ["remote"]);
      await client.query("commit");
    } finally {
      client.release();
    }
    const res = await voteUntilNot(404, "remote", "a");
    assert.equal(res.status, 202, res.text);
  });

  test("an option added directly in Postgres is accepted, told by NOTIFY alone (no reload)", async () => {
    await createPoll(h.app, { id: "extended" });
    expectError(await vote("extended", "maybe"), 422, "unknown_option");
    await h.db.pool.query(
      "insert into poll_options (poll_id, id, label, position) values ('extended', 'maybe', 'Maybe', 3)",
    );
    await notifyRegistryRows(h.db.pool, "poll_options", ["extended"]);
    const res = await voteUntilNot(422, "extended", "maybe");
    assert.equal(res.status, 202, res.text);
  });

  test("a teacher's day index follows a register created, moved and deleted in Postgres", async () => {
    const day = (start: string) => {
      const at = Date.parse(start);
      return [...h.cache.registersStarting("default", at, at + 3_600_000)].map((p) => p.id);
    };
    await h.db.pool.query(
      `insert into polls (id, slug, title, kind, voters, group_ids, starts_at, ends_at)
       values ('lesson', 'lesson', 'Lesson', 'register', 'roster', '{7A}',
               '2026-03-02T08:00:00Z', '2026-03-02T08:45:00Z')`,
    );
    await pollsInserted(h.db.pool, ["lesson"]);
    await eventually("the register indexed", async () =>
      day("2026-03-02T08:00:00Z").includes("lesson") ? true : undefined,
    );
    await h.db.pool.query(
      "update polls set starts_at = '2026-03-09T08:00:00Z', ends_at = '2026-03-09T08:45:00Z' where id = 'lesson'",
    );
    await notifyRegistryRows(h.db.pool, "polls", ["lesson"]);
    await eventually("the register moved", async () =>
      day("2026-03-09T08:00:00Z").includes("lesson") ? true : undefined,
    );
    assert.deepEqual(day("2026-03-02T08:00:00Z"), [], "its old day no longer holds it");
    await deletePolls(h.db.pool, ["lesson"]);
    await eventually("the register dropped", async () =>
      day("2026-03-09T08:00:00Z").length === 0 ? true : undefined,
    );
    await h.cache.reload();
    assert.deepEqual(day("2026-03-09T08:00:00Z"), [], "a full reload agrees");
  });

  test("a poll archived directly in Postgres refuses votes, told by NOTIFY alone (no reload)", async () => {
    await createPoll(h.app, { id: "retiring" });
    assert.equal((await vote("retiring", "yes")).status, 202);
    await h.db.pool.query("update polls set archived_at = now() where id = 'retiring'");
    await notifyRegistryRows(h.db.pool, "polls", ["retiring"]);
    expectError(await voteUntilNot(202, "retiring", "yes"), 409, "poll_archived");
  });
});
