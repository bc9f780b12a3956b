import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import {
  createKiosk,
  createPoll,
  expectError,
  issueFor,
  type TestKiosk,
} from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";

interface Listed {
  id: string;
  lastSeenAt: string | null;
  status: Record<string, unknown> | null;
}

describe("kiosk health", () => {
  let h: IngestHarness;
  const batch = (k: TestKiosk, status?: string) => {
    const req = request(h.app).post("/v1/votes/batch").set(k.auth);
    if (status !== undefined) req.set("X-Kiosk-Status", status);
    return req.send({ votes: [{ eventId: randomUUID(), pollId: "hp", optionId: "yes" }] });
  };
  const listed = async (id: string): Promise<Listed> => {
    const res = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
    assert.equal(res.body.health, "ok");
    const row = res.body.kiosks.find((k: Listed) => k.id === id);
    assert.ok(row, `kiosk ${id} listed`);
    return row;
  };
  const stored = async (id: string) => {
    const text = await h.redis.hGet(`${h.names.redisKeyPrefix}kiosks:status`, id);
    return text == null ? undefined : (JSON.parse(text) as Record<string, unknown>);
  };
  const metrics = () => h.metrics();

  const status = (over: Record<string, unknown> = {}) =>
    JSON.stringify({
      pending: 120,
      oldestPendingAt: "2026-01-01T10:00:00.000Z",
      lastSentAt: "2026-01-01T10:05:00.000Z",
      refused: 2,
      appVersion: "kiosk-\u00e9 1.2", // as the outbox sends it: ASCII JSON with escapes
      persisted: true,
      lastError: null,
      ...over,
    }).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);

  before(async () => {
    h = await startIngestHarness({ KIOSK_STATUS_WRITE_MS: "200" });
    await createPoll(h.app, { id: "hp" });
  });
  after(() => h?.close());

  test("X-Kiosk-Status on a batch shows in GET /v1/kiosks and reaches Redis", async () => {
    const k = await createKiosk(h.app, "reporting");
    const fresh = await listed("reporting");
    assert.equal(fresh.lastSeenAt, null);
    assert.equal(fresh.status, null);

    const before = Date.now();
    const res = await batch(k, status());
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, 1);
    const row = await listed("reporting");
    assert.ok(Date.parse(row.lastSeenAt!) >= before - 1000);
    const { reportedAt, ...reported } = row.status!;
    assert.deepEqual(reported, {
      pending: 120,
      oldestPendingAt: "2026-01-01T10:00:00.000Z",
      lastSentAt: "2026-01-01T10:05:00.000Z",
      refused: 2,
      appVersion: "kiosk-é 1.2",
      persisted: true,
      lastError: null,
    });
    assert.ok(Date.parse(String(reportedAt)) >= before - 1000);
    // Written to Redis within KIOSK_STATUS_WRITE_MS: every API process sees it.
    const inRedis = await eventually("the status is in Redis", () => stored("reporting"));
    assert.equal(inRedis.pending, 120);
  });

  test("a heartbeat updates the status; a vote without a header only lastSeenAt", async () => {
    const k = await createKiosk(h.app, "idle");
    const beat = await request(h.app)
      .post("/v1/kiosk/heartbeat")
      .set(k.auth)
      .set("Content-Type", "application/json")
      .send(status({ pending: 0, oldestPendingAt: null, appVersion: "2.0" }));
    assert.equal(beat.status, 204, beat.text);
    const first = await listed("idle");
    assert.equal(first.status!.pending, 0);
    assert.equal(first.status!.appVersion, "2.0");

    // Only `pending` is required; the others are null when absent.
    await request(h.app).post("/v1/kiosk/heartbeat").set(k.auth).send({ pending: 3 }).expect(204);
    const minimal = (await listed("idle")).status!;
    assert.equal(minimal.pending, 3);
    assert.equal(minimal.appVersion, null);
    assert.equal(minimal.persisted, null);

    const seenBefore = (await listed("idle")).lastSeenAt!;
    await eventually("the clock moves on", async () =>
      Date.now() > Date.parse(seenBefore) ? true : undefined,
    );
    const single = await request(h.app)
      .post("/v1/votes")
      .set(k.auth)
      .send({ pollId: "hp", optionId: "yes" });
    assert.equal(single.status, 202);
    const after = await listed("idle");
    assert.ok(Date.parse(after.lastSeenAt!) > Date.parse(seenBefore), "lastSeenAt moved");
    assert.equal(after.status!.pending, 3, "the last status is kept");
  });

  test("a bad heartbeat is 400 naming the field, 413 beyond KIOSK_STATUS_MAX_BYTES", async () => {
    const k = await createKiosk(h.app, "sloppy");
    const beat = (body: unknown) =>
      request(h.app)
        .post("/v1/kiosk/heartbeat")
        .set(k.auth)
        .send(body as object);
    assert.match(issueFor(await beat({}), "pending").message, /required/);
    assert.match(issueFor(await beat({ pending: -1 }), "pending").message, /at least 0/);
    issueFor(await beat({ pending: 1.5 }), "pending");
    issueFor(await beat({ pending: 1, oldestPendingAt: "yesterday" }), "oldestPendingAt");
    issueFor(await beat({ pending: 1, persisted: "yes" }), "persisted");
    issueFor(await beat({ pending: 1, appVersion: "x".repeat(65) }), "appVersion");
    issueFor(await beat({ pending: 1, lastError: "a\nb" }), "lastError");
    const unknown = await beat({ pending: 1, battery: 80 });
    assert.match(expectError(unknown, 400, "invalid_request").message, /battery/);
    expectError(await beat({ pending: 1, lastError: "x".repeat(2_000) }), 413, "body_too_large");
    expectError(
      await request(h.app).post("/v1/kiosk/heartbeat").send({ pending: 1 }),
      401,
      "unauthorized",
    );
    assert.equal((await listed("sloppy")).status, null, "nothing bad was kept");
  });

  test("a bad X-Kiosk-Status never costs the batch: it is ignored and counted", async () => {
    const k = await createKiosk(h.app, "garbled");
    assert.equal((await batch(k, status({ pending: 7 }))).status, 200);
    const count = (reason: string, text: string) =>
      metricSample(text, "tallyflow_kiosk_status_invalid_total", { reason }) ?? 0;
    const before = await metrics();
    for (const bad of [
      "{not json",
      JSON.stringify({ pending: "many" }),
      JSON.stringify({ pending: 1, extra: true }),
      "[]",
    ]) {
      const res = await batch(k, bad);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.accepted, 1, "the vote was taken");
    }
    const big = await batch(
      k,
      status({ appVersion: "v".repeat(60), lastError: "e".repeat(1_000) }),
    );
    assert.equal(big.status, 200);
    assert.equal(big.body.accepted, 1);
    const afterText = await metrics();
    assert.equal(count("malformed", afterText) - count("malformed", before), 4);
    assert.equal(count("too_large", afterText) - count("too_large", before), 1);
    assert.equal((await listed("garbled")).status!.pending, 7, "the last good status stays");
  });

  test("revoking or pairing again forgets the kiosk's health", async () => {
    const k = await createKiosk(h.app, "forgotten");
    await batch(k, status({ pending: 9 }));
    await eventually("stored", () => stored("forgotten"));
    const { code } = (await request(h.app).post("/v1/kiosks/forgotten/pairing").set(ADMIN)).body;
    await request(h.app).post("/v1/pair").send({ code }).expect(200);
    assert.equal((await listed("forgotten")).status, null);
    assert.equal(await stored("forgotten"), undefined);

    const r = await createKiosk(h.app, "retiring");
    await batch(r, status({ pending: 4 }));
    await eventually("stored", () => stored("retiring"));
    await request(h.app).delete("/v1/kiosks/retiring").set(ADMIN).expect(200);
    const row = await listed("retiring");
    assert.equal(row.status, null);
    assert.equal(row.lastSeenAt, null);
    assert.equal(await stored("retiring"), undefined);
  });

  test("the fleet gauges: kiosks seen recently, votes waiting, oldest pending, refused", async () => {
    const oldest = new Date(Date.now() - 3_600_000).toISOString();
    const a = await createKiosk(h.app, "fleet-a");
    const b = await createKiosk(h.app, "fleet-b");
    await batch(a, status({ pending: 1_000, oldestPendingAt: oldest }));
    await batch(b, status({ pending: 2_000, oldestPendingAt: new Date().toISOString() }));
    // Every kiosk of this file reported; compare with the sum of what GET /v1/kiosks shows
    // once the gauges (read from Redis) caught up with the last write.
    const res = await request(h.app).get("/v1/kiosks").set(ADMIN).expect(200);
    const rows = res.body.kiosks as Listed[];
    const waiting = rows.reduce((sum, k) => sum + Number(k.status?.pending ?? 0), 0);
    const refused = rows.reduce((sum, k) => sum + Number(k.status?.refused ?? 0), 0);
    const seen = rows.filter((k) => k.lastSeenAt !== null).length;
    assert.ok(waiting >= 3_000);
    const text = await eventually("the gauges show the last reports", async () => {
      const t = await metrics();
      return metricSample(t, "tallyflow_kiosk_votes_waiting") === waiting ? t : undefined;
    });
    assert.equal(metricSample(text, "tallyflow_kiosks_seen_recently"), seen);
    assert.ok(refused >= 4, "each of the two reported 2 refused");
    assert.equal(metricSample(text, "tallyflow_kiosk_votes_refused"), refused);
    const age = metricSample(text, "tallyflow_kiosk_oldest_pending_seconds")!;
    // Some earlier kiosk of this file reported 2026-01-01 as its oldest: at least an hour.
    assert.ok(age >= 3_600, `oldest pending ${age} s`);
  });
});
