import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
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
import {
  ADMIN,
  ADMIN_TOKEN,
  type IngestHarness,
  startIngestHarness,
} from "../../test-support/ingest.ts";
import { notifyRegistryRows } from "../registry/registry-changes.ts";

describe("kiosk authentication on the vote routes", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  const good = { pollId: "auth-poll", optionId: "yes" };
  const voteWith = (headers: Record<string, string>) =>
    request(h.app).post("/v1/votes").set(headers).send(good);
  const batchWith = (headers: Record<string, string>) =>
    request(h.app)
      .post("/v1/votes/batch")
      .set(headers)
      .send({ votes: [good] });

  before(async () => {
    // The periodic reload is pushed out to 10 minutes: changes made directly in Postgres
    // (notifying as the stores do) can only arrive through LISTEN/NOTIFY.
    h = await startIngestHarness({ REGISTRY_REFRESH_MS: "600000" });
    await createPoll(h.app, { id: "auth-poll" });
    kiosk = await createKiosk(h.app, "front-desk");
    await listenerReady(h);
  });
  after(() => h?.close());

  test("a known kiosk token is accepted", async () => {
    assert.equal((await voteWith(kiosk.auth)).status, 202);
    assert.equal((await batchWith(kiosk.auth)).status, 200);
  });

  test("a missing token is 401", async () => {
    const res = await request(h.app).post("/v1/votes").send(good);
    const error = expectError(res, 401, "unauthorized");
    assert.match(error.message, /token required/);
    expectError(
      await request(h.app)
        .post("/v1/votes/batch")
        .send({ votes: [good] }),
      401,
      "unauthorized",
    );
  });

  test("a malformed Authorization header is 401", async () => {
    for (const authorization of [
      "Bearer",
      "Bearer    ",
      kiosk.token,
      `Basic ${kiosk.token}`,
      `Token ${kiosk.token}`,
    ]) {
      expectError(await voteWith({ Authorization: authorization }), 401, "unauthorized");
    }
  });

  test("the auth scheme is case-insensitive, the token is not", async () => {
    const ok = await voteWith({ Authorization: `bearer ${kiosk.token}` });
    assert.equal(ok.status, 202);
    expectError(
      await voteWith({ Authorization: `Bearer ${kiosk.token.toUpperCase()}` }),
      401,
      "unauthorized",
    );
  });

  test("an unknown token is 401", async () => {
    const stranger = `tfk_${randomBytes(32).toString("base64url")}`;
    const error = expectError(
      await voteWith({ Authorization: `Bearer ${stranger}` }),
      401,
      "unauthorized",
    );
    assert.match(error.message, /unknown kiosk token/);
    expectError(await batchWith({ Authorization: `Bearer ${stranger}` }), 401, "unauthorized");
    // A token differing in one character is just as unknown.
    const altered = `${kiosk.token.slice(0, -1)}${kiosk.token.endsWith("A") ? "B" : "A"}`;
    expectError(await voteWith({ Authorization: `Bearer ${altered}` }), 401, "unauthorized");
  });

  test("the admin token is not a kiosk token", async () => {
    expectError(await voteWith({ Authorization: `Bearer ${ADMIN_TOKEN}` }), 401, "unauthorized");
  });

  test("authentication comes before the body is read", async () => {
    const res = await request(h.app)
      .post("/v1/votes")
      .set("Content-Type", "application/json")
      .send("{not json");
    expectError(res, 401, "unauthorized");
  });

  test("a kiosk revoked through the API gets 403 kiosk_revoked at once; others are unaffected", async () => {
    const doomed = await createKiosk(h.app, "doomed");
    const other = await createKiosk(h.app, "survivor");
    assert.equal((await voteWith(doomed.auth)).status, 202);
    await request(h.app).delete("/v1/kiosks/doomed").set(ADMIN).expect(200);

    const error = expectError(await voteWith(doomed.auth), 403, "kiosk_revoked");
    assert.match(error.message, /doomed/);
    expectError(await batchWith(doomed.auth), 403, "kiosk_revoked");
    assert.equal((await voteWith(other.auth)).status, 202);
  });

  test("a revocation done directly in Postgres by another process is seen, told by NOTIFY alone (no reload)", async () => {
    const k = await createKiosk(h.app, "remote-revoke");
    assert.equal((await voteWith(k.auth)).status, 202);
    await h.db.pool.query("update kiosks set revoked_at = now() where id = 'remote-revoke'");
    await notifyRegistryRows(h.db.pool, "kiosks", ["remote-revoke"]);

    const refused = await eventually("the direct revocation is seen", async () => {
      const res = await voteWith(k.auth);
      if (res.status === 202) return undefined;
      return res;
    });
    expectError(refused, 403, "kiosk_revoked");
    // Stays refused.
    expectError(await voteWith(k.auth), 403, "kiosk_revoked");

    // Lifting the revocation the same way lets the kiosk back in.
    await h.db.pool.query("update kiosks set revoked_at = null where id = 'remote-revoke'");
    await notifyRegistryRows(h.db.pool, "kiosks", ["remote-revoke"]);
    await eventually("the lifted revocation is seen", async () =>
      (await voteWith(k.auth)).status === 202 ? true : undefined,
    );
  });

  test("a kiosk added directly in Postgres by another process can vote, told by NOTIFY alone (no reload)", async () => {
    const token = `tfk_${randomBytes(32).toString("base64url")}`;
    const auth = { Authorization: `Bearer ${token}` };
    expectError(await voteWith(auth), 401, "unauthorized");
    await h.db.pool.query(
      "insert into kiosks (id, slug, name, token_hash) values ($1, $1, $2, $3)",
      ["remote-added", "Added elsewhere", createHash("sha256").update(token).digest()],
    );
    await notifyRegistryRows(h.db.pool, "kiosks", ["remote-added"]);
    const res = await eventually("the new kiosk is seen", async () => {
      const r = await voteWith(auth);
      return r.status === 401 ? undefined : r;
    });
    assert.equal(res.status, 202, res.text);
  });
});
