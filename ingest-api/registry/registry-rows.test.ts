import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import {
  createKiosk,
  createPoll,
  expectError,
  isoFromNow,
  listenerReady,
  type TestKiosk,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { deletePolls, notifyRegistryRows, pollsInserted } from "./registry-changes.ts";

// Registry changes apply per row (the NOTIFY names the row: registry-changes.ts, as another
// API process's stores send it). To tell a per-row load from a full reload, a "silent"
// change is made without notifying: only a full reload can show it. The periodic reload is
// pushed out to 10 minutes.

describe("registry cache: changes applied per row", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  const vote = (k: TestKiosk, pollId: string, optionId = "yes") =>
    request(h.app).post("/v1/votes").set(k.auth).send({ pollId, optionId });
  /** A statement that tells no one: no NOTIFY. */
  const silently = async (sql: string) => {
    await h.db.pool.query(sql);
  };
  const titleOf = async (pollId: string) => {
    const res = await request(h.app).get(`/v1/public/polls/${pollId}`).expect(200);
    return res.body.title as string;
  };

  before(async () => {
    h = await startIngestHarness({ REGISTRY_REFRESH_MS: "600000" });
    kiosk = await createKiosk(h.app, "rows-kiosk");
    await listenerReady(h);
  });
  after(() => h?.close());

  test("a poll changed in Postgres reloads that poll only", async () => {
    await createPoll(h.app, { id: "quiet", title: "Quiet" });
    await createPoll(h.app, { id: "loud", title: "Loud" });
    await silently("update polls set title = 'Quiet, changed' where id = 'quiet'");
    await h.db.pool.query("update polls set title = 'Loud, changed' where id = 'loud'");
    await notifyRegistryRows(h.db.pool, "polls", ["loud"]);
    await eventually("the notified change is applied", async () =>
      (await titleOf("loud")) === "Loud, changed" ? true : undefined,
    );
    assert.equal(await titleOf("quiet"), "Quiet", "no full reload happened");
    // An option added (poll_options:<pollId>) reloads its poll, options included.
    await h.db.pool.query(
      "insert into poll_options (poll_id, id, label, position) values ('loud', 'maybe', 'Maybe', 3)",
    );
    await notifyRegistryRows(h.db.pool, "poll_options", ["loud"]);
    await eventually("the new option takes votes", async () =>
      (await vote(kiosk, "loud", "maybe")).status === 202 ? true : undefined,
    );
    assert.equal(await titleOf("quiet"), "Quiet");
  });

  test("a poll inserted, then deleted, directly in Postgres", async () => {
    expectError(await vote(kiosk, "direct"), 404, "poll_not_found");
    const client = await h.db.pool.connect();
    try {
      await client.query("begin");
      await client.query(
        "insert into polls (id, slug, title) values ('direct', 'direct', 'Direct')",
      );
      await client.query(
        "insert into poll_options (poll_id, id, label, position) values ('direct', 'yes', 'Yes', 1)",
      );
      await pollsInserted(client, ["direct"]);
      await client.query("commit");
    } finally {
      client.release();
    }
    await eventually("the inserted poll takes votes", async () =>
      (await vote(kiosk, "direct")).status === 202 ? true : undefined,
    );
    await h.db.pool.query("delete from votes where poll_id = 'direct'");
    await deletePolls(h.db.pool, ["direct"]);
    await eventually("the deleted poll is unknown", async () =>
      (await vote(kiosk, "direct")).status === 404 ? true : undefined,
    );
  });

  test("a kiosk revoked in Postgres is refused at once; another kiosk's silent change is not applied", async () => {
    const other = await createKiosk(h.app, "rows-other");
    const revoked = await createKiosk(h.app, "rows-revoked");
    await createPoll(h.app, { id: "kiosks" });
    assert.equal((await vote(revoked, "kiosks")).status, 202);
    await silently("update kiosks set revoked_at = now() where id = 'rows-other'");
    await h.db.pool.query("update kiosks set revoked_at = now() where id = 'rows-revoked'");
    await notifyRegistryRows(h.db.pool, "kiosks", ["rows-revoked"]);
    const refused = await eventually("the revoked kiosk is refused", async () => {
      const res = await vote(revoked, "kiosks");
      return res.status === 202 ? undefined : res;
    });
    expectError(refused, 403, "kiosk_revoked");
    assert.equal((await vote(other, "kiosks")).status, 202, "no full reload happened");
    // The admin API's revoke applies in this process before it answers.
    await request(h.app).delete("/v1/kiosks/rows-other").set(ADMIN).expect(200);
    expectError(await vote(other, "kiosks"), 403, "kiosk_revoked");
  });

  test("a bulk statement beyond the per-row threshold is applied as one full reload", async () => {
    const { rows } = await h.db.pool.query<{ id: string }>(
      `insert into polls (id, slug, title) select 'bulk-' || n, 'bulk-' || n, 'Bulk ' || n from generate_series(1, 600) n
       returning id`,
    );
    await pollsInserted(
      h.db.pool,
      rows.map((r) => r.id),
    );
    await eventually("all 600 polls are known", async () => {
      const res = await request(h.app).get("/v1/public/polls").expect(200);
      const bulk = (res.body.polls as { id: string }[]).filter((p) => p.id.startsWith("bulk-"));
      return bulk.length === 600 ? true : undefined;
    });
  });

  test("the LISTEN connection re-opened: a full reload catches up what it missed", async () => {
    await silently("update polls set title = 'Missed' where id = 'quiet'");
    await h.db.pool.query(
      `select pg_terminate_backend(pid) from pg_stat_activity
       where datname = current_database() and query ilike 'listen tallyflow_registry'`,
    );
    await eventually(
      "the change missed is applied",
      async () => ((await titleOf("quiet")) === "Missed" ? true : undefined),
      { timeoutMs: 15_000 },
    );
    // LISTENing again with everything applied: not behind, whatever REGISTRY_REFRESH_MS says.
    await eventually("the cache is in sync", async () => (h.cache.ageMs === 0 ? true : undefined));
  });
});

describe("public polls: built once per registry version", () => {
  let h: IngestHarness;
  const list = (etag?: string) => {
    const req = request(h.app).get("/v1/public/polls");
    return etag ? req.set("If-None-Match", etag) : req;
  };

  before(async () => {
    h = await startIngestHarness({ REGISTRY_REFRESH_MS: "600000" });
    await listenerReady(h);
  });
  after(() => h?.close());

  test("the list's bytes and ETag change only when the registry does", async () => {
    await createPoll(h.app, { id: "first" });
    const a = await list().expect(200);
    assert.match(String(a.headers.etag), /^"p-[\w-]+"$/);
    assert.match(String(a.headers["content-type"]), /^application\/json; charset=utf-8/);
    const b = await list().expect(200);
    assert.equal(b.headers.etag, a.headers.etag);
    assert.equal(b.text, a.text);
    const unchanged = await list(String(a.headers.etag));
    assert.equal(unchanged.status, 304);
    assert.equal(unchanged.headers.etag, a.headers.etag);
    assert.equal(unchanged.headers["cache-control"], a.headers["cache-control"]);

    await h.db.pool.query(
      "insert into polls (id, slug, title) values ('second', 'second', 'Second')",
    );
    await pollsInserted(h.db.pool, ["second"]);
    const changed = await eventually("the list shows the new poll", async () => {
      const res = await list(String(a.headers.etag));
      return res.status === 200 ? res : undefined;
    });
    assert.notEqual(changed.headers.etag, a.headers.etag);
    assert.deepEqual((changed.body.polls as { id: string }[]).map((p) => p.id).sort(), [
      "first",
      "second",
    ]);
    // One poll's answer follows its row too.
    const one = await request(h.app).get("/v1/public/polls/second").expect(200);
    await request(h.app)
      .get("/v1/public/polls/second")
      .set("If-None-Match", String(one.headers.etag))
      .expect(304);
    await h.db.pool.query("update polls set title = 'Second, renamed' where id = 'second'");
    await notifyRegistryRows(h.db.pool, "polls", ["second"]);
    await eventually("the poll's answer follows the change", async () => {
      const res = await request(h.app).get("/v1/public/polls/second");
      return res.body.title === "Second, renamed" ? true : undefined;
    });
  });

  test("a poll opening moves in the list with no registry change", async () => {
    await createPoll(h.app, { id: "soon", title: "Soon", opensAt: isoFromNow(1_500) });
    const statusOf = async () => {
      const res = await list().expect(200);
      return (res.body.polls as { id: string; status: string }[]).find((p) => p.id === "soon")
        ?.status;
    };
    assert.equal(await statusOf(), "not_open");
    // The create's own NOTIFY may still be on its way (a loaded machine): let it land first.
    let version = h.cache.version;
    await eventually("the create's notification applied", async () => {
      await new Promise((r) => setTimeout(r, 200));
      const settled = h.cache.version === version;
      version = h.cache.version;
      return settled;
    });
    await eventually("the poll shows open", async () =>
      (await statusOf()) === "open" ? true : undefined,
    );
    assert.equal(h.cache.version, version, "no registry change was needed");
  });

  test("hidden polls: the public answers hold no counts", async () => {
    await createPoll(h.app, {
      id: "secret",
      resultsVisibility: "after_close",
      closesAt: isoFromNow(3_600_000),
    });
    const res = await list().expect(200);
    const secret = (res.body.polls as Record<string, unknown>[]).find((p) => p.id === "secret");
    assert.deepEqual(Object.keys(secret ?? {}).sort(), [
      "archived",
      "closesAt",
      "id",
      "kind",
      "oneVotePerVoter",
      "opensAt",
      "options",
      "resultsVisibility",
      "schoolId",
      "status",
      "timeZone",
      "title",
      "voteCooldownMs",
      "voters",
    ]);
    assert.doesNotMatch(res.text, /count|totalVotes/);
  });
});
