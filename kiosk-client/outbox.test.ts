import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../harness/waiting.ts";
import { createKiosk } from "../test-support/api.ts";
import { listenLocally } from "../test-support/http-listen.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { type OutboxApi, startOutboxApi } from "../test-support/outbox-api.ts";
import { createOutbox, type OutboxOptions } from "./outbox.ts";
import { openFileStore } from "./store-file.ts";
import { MemoryStore } from "./store-memory.ts";
import type { OutboxStore } from "./types.ts";

// The Node outbox against the real API (HTTP), writer and Postgres; a small HTTP server in
// front of the API plays the failures (503 with Retry-After, answers out of order).

interface Seen {
  at: number;
  headers: IncomingMessage["headers"];
  body: string;
}

type Answer = (seen: Seen, res: ServerResponse) => Promise<boolean> | boolean;

/**
 * Answers a batch itself when `answer` returns true, otherwise proxies it to `target`. The
 * heartbeat the outbox sends to learn the server's clock is proxied, neither seen nor answered.
 */
async function frontServer(target: string, answer: Answer) {
  const seen: Seen[] = [];
  const server = await listenLocally(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const s: Seen = {
      at: Date.now(),
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    };
    const clockProbe = req.url === "/v1/kiosk/heartbeat";
    if (!clockProbe) seen.push(s);
    if (!clockProbe && (await answer(s, res))) return;
    const upstream = await fetch(`${target}${req.url}`, {
      method: req.method ?? "POST",
      headers: {
        authorization: String(req.headers.authorization),
        "content-type": "application/json",
      },
      body: s.body,
    });
    res.writeHead(upstream.status, { "content-type": "application/json" });
    res.end(await upstream.text());
  });
  return { url: server.url, seen, close: server.close };
}

describe("the Node outbox against the real API", () => {
  let api: OutboxApi;
  let dir: string;
  let n = 0;
  const stores: OutboxStore[] = [];
  const fileStore = async () => {
    const store = await openFileStore(join(dir, `outbox-${++n}.jsonl`));
    stores.push(store);
    return store;
  };
  const outbox = (store: OutboxStore, options: Partial<OutboxOptions> = {}) =>
    createOutbox({ store, apiUrl: api.url, token: api.kiosk.token, ...options });

  before(async () => {
    api = await startOutboxApi();
    dir = await mkdtemp(join(tmpdir(), "outbox-api-"));
  });
  after(async () => {
    for (const s of stores) await s.close().catch(() => {});
    await api?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("enqueue N, flush: every vote stored exactly once, the queue empty", async () => {
    const store = await fileStore();
    const box = outbox(store, { maxBatch: 100 });
    const ids: string[] = [];
    for (let i = 0; i < 250; i++) {
      const { eventId, castAt } = await box.enqueue({
        pollId: "lunch",
        optionId: i % 3 === 0 ? "salad" : "pizza",
      });
      assert.match(eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
      assert.ok(!Number.isNaN(Date.parse(castAt)));
      ids.push(eventId);
    }
    assert.equal((await box.status()).pending, 250);
    const sent: number[] = [];
    box.on("sent", (d) => sent.push(d.acked.length));
    const result = await box.flush();
    assert.equal(result.error, undefined);
    assert.deepEqual([result.acked, result.refused, result.pending], [250, 0, 0]);
    assert.deepEqual(sent, [100, 100, 50]);
    await api.storedCount(250);
    const stored = await api.stored();
    assert.equal(stored.rows, 250);
    assert.deepEqual(stored.ids, new Set(ids));
    const status = await box.status();
    assert.equal(status.pending, 0);
    assert.equal(status.oldestPendingAt, null);
    assert.ok(status.lastSentAt !== null);
    // Flushing again sends nothing and stores nothing twice.
    assert.equal((await box.flush()).acked, 0);
    await box.close();
  });

  test("a rejected item lands in refused with its error; the others are sent", async () => {
    const store = await fileStore();
    // unknown_option is refused at once, not kept for a registry a moment behind.
    const box = outbox(store, { registryLagRetryMs: 0 });
    const refusedEvents: string[] = [];
    box.on("refused", (d) => refusedEvents.push(...d.refused.map((r) => r.entry.eventId)));
    const good = await box.enqueue({ pollId: "lunch", optionId: "pizza" });
    const bad = await box.enqueue({ pollId: "lunch", optionId: "tacos" });
    const result = await box.flush();
    assert.deepEqual([result.acked, result.refused, result.pending], [1, 1, 0]);
    const refused = await box.refused();
    assert.equal(refused.length, 1);
    assert.equal(refused[0]!.entry.eventId, bad.eventId);
    assert.equal(refused[0]!.entry.optionId, "tacos");
    assert.equal(refused[0]!.error.code, "unknown_option");
    assert.equal(refused[0]!.error.status, 422);
    assert.deepEqual(refusedEvents, [bad.eventId]);
    assert.equal((await box.status()).refused, 1);
    await api.storedCount(251);
    assert.ok((await api.stored()).ids.has(good.eventId));
    // Refused entries are never resent.
    assert.equal((await box.flush()).refused, 0);
    await box.close();
  });

  test("503 with Retry-After: the sender waits as told, then sends; X-Kiosk-Status rides along", async () => {
    let unavailable = 2;
    const front = await frontServer(api.url, (_seen, res) => {
      if (unavailable-- <= 0) return false;
      res.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
      res.end(JSON.stringify({ error: { code: "nats_unavailable", message: "try later" } }));
      return true;
    });
    try {
      const store = new MemoryStore();
      // Back-off of 1 ms: only Retry-After can explain a wait of a second.
      const box = createOutbox({
        store,
        apiUrl: front.url,
        token: api.kiosk.token,
        minBackoffMs: 1,
        maxBackoffMs: 2,
        appVersion: "kiosk-é 1.2",
      });
      const { eventId } = await box.enqueue({ pollId: "lunch", optionId: "salad" });
      const first = await box.flush();
      assert.equal(first.error?.code, "server_unavailable");
      assert.equal(first.retryInMs, 1000);
      assert.equal(first.pending, 1, "nothing removed on a 503");
      const status = await box.status();
      assert.equal(status.state, "backoff");
      assert.equal(status.lastError?.code, "server_unavailable");
      assert.ok(status.retryAt !== null);

      box.start();
      await eventually("the vote sent", async () => (await box.status()).pending === 0, {
        timeoutMs: 30_000,
      });
      await box.stop();
      assert.equal(front.seen.length, 3);
      for (const i of [1, 2])
        assert.ok(
          front.seen[i]!.at - front.seen[i - 1]!.at >= 950,
          `request ${i} came ${front.seen[i]!.at - front.seen[i - 1]!.at} ms after the 503`,
        );
      const heartbeat = JSON.parse(String(front.seen[2]!.headers["x-kiosk-status"]));
      assert.equal(heartbeat.pending, 1);
      assert.equal(heartbeat.appVersion, "kiosk-é 1.2");
      assert.equal(heartbeat.lastError, "server_unavailable");
      assert.equal((await box.status()).lastError, null);
      await api.storedCount(252);
      assert.ok((await api.stored()).ids.has(eventId));
      await box.close();
    } finally {
      await front.close();
    }
  });

  test("answers are matched by index: out of order, and a missing answer keeps its entry", async () => {
    const front = await frontServer(api.url, (seen, res) => {
      const votes = (JSON.parse(seen.body) as { votes: { eventId: string }[] }).votes;
      const error = { status: 409, code: "poll_closed", message: "closed" };
      res.writeHead(200, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          results: [
            { index: 2, eventId: votes[2]!.eventId, status: "rejected", error },
            { index: 0, eventId: votes[0]!.eventId, status: "accepted" },
            // An answer whose eventId is not the one sent at that index settles nothing.
            { index: 3, eventId: votes[0]!.eventId, status: "accepted" },
          ],
        }),
      );
      return true;
    });
    try {
      const box = createOutbox({
        store: new MemoryStore(),
        apiUrl: front.url,
        token: "t",
        minBackoffMs: 1,
      });
      const ids: string[] = [];
      for (let i = 0; i < 4; i++)
        ids.push((await box.enqueue({ pollId: "lunch", optionId: "pizza" })).eventId);
      const result = await box.flush();
      assert.deepEqual([result.acked, result.refused, result.pending], [1, 1, 2]);
      assert.equal(result.error?.code, "bad_response");
      assert.deepEqual(
        (await box.refused()).map((r) => r.entry.eventId),
        [ids[2]],
      );
      const pending = (await box.status()).pending;
      assert.equal(pending, 2);
      await box.close();
    } finally {
      await front.close();
    }
  });

  test("batches stay under the byte budget, and a 413 halves them; all stored once", async () => {
    const front = await frontServer(api.url, (seen, res) => {
      if ((JSON.parse(seen.body) as { votes: unknown[] }).votes.length <= 5) return false;
      res.writeHead(413, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { code: "batch_too_large", message: "at most 5" } }));
      return true;
    });
    try {
      const before = (await api.stored()).rows;
      const box = createOutbox({
        store: new MemoryStore(),
        apiUrl: front.url,
        token: api.kiosk.token,
        maxBatch: 50,
        maxBatchBytes: 1500,
      });
      const ids: string[] = [];
      for (let i = 0; i < 23; i++)
        ids.push((await box.enqueue({ pollId: "lunch", optionId: "pizza" })).eventId);
      const result = await box.flush();
      assert.deepEqual([result.acked, result.pending, result.error], [23, 0, undefined]);
      for (const s of front.seen) assert.ok(Buffer.byteLength(s.body) <= 1500, s.body);
      const sizes = front.seen.map(
        (s) => (JSON.parse(s.body) as { votes: unknown[] }).votes.length,
      );
      assert.ok(sizes[0]! > 5 && sizes[0]! < 23, `the byte budget cut the first batch: ${sizes}`);
      // Each 413 halves the batch until the server takes it (12, 6, then 3s here).
      const refused = sizes.filter((n) => n > 5);
      for (let i = 1; i < refused.length; i++)
        assert.equal(refused[i], Math.floor(refused[i - 1]! / 2), `halved: ${sizes}`);
      const taken = sizes.slice(refused.length);
      assert.ok(taken[0]! <= Math.floor(refused.at(-1)! / 2), `halved: ${sizes}`);
      assert.ok(
        taken.every((n) => n <= 5),
        `${sizes}`,
      );
      // Each vote reached the API in exactly one of the batches it took: none twice.
      const sent = front.seen
        .map((s) => (JSON.parse(s.body) as { votes: { eventId: string }[] }).votes)
        .filter((votes) => votes.length <= 5)
        .flatMap((votes) => votes.map((v) => v.eventId));
      assert.deepEqual(sent.toSorted(), ids.toSorted(), "every vote sent once to the API");
      await api.storedCount(before + 23);
      const stored = await api.stored();
      assert.equal(stored.rows, before + 23, "these 23 votes stored, and nothing else");
      for (const id of ids) assert.ok(stored.ids.has(id));
      await box.close();
    } finally {
      await front.close();
    }
  });

  test("a network error backs off with jitter and keeps every entry", async () => {
    const front = await frontServer(api.url, () => true);
    await front.close(); // nothing listens there any more
    const box = createOutbox({
      store: new MemoryStore(),
      apiUrl: front.url,
      token: "t",
      minBackoffMs: 100,
      maxBackoffMs: 400,
    });
    await box.enqueue({ pollId: "lunch", optionId: "pizza" });
    const errors: string[] = [];
    box.on("error", (d) => errors.push(d.error.code));
    for (let i = 0; i < 3; i++) {
      const r = await box.flush({ force: true });
      assert.equal(r.error?.code, "network_error");
      assert.ok(r.retryInMs! >= 100 && r.retryInMs! <= 400, `delay ${r.retryInMs}`);
      assert.equal(r.pending, 1);
    }
    assert.deepEqual(errors, ["network_error", "network_error", "network_error"]);
    // Without force, a flush during the back-off sends nothing and says how long is left.
    const waiting = await box.flush();
    assert.equal(waiting.error?.code, "network_error");
    assert.ok(waiting.retryInMs! > 0 && waiting.retryInMs! <= 400);
    assert.equal(errors.length, 3);
    await box.close();
  });

  test("stop() gives the batch in flight its deadline, then aborts it; the entries stay", async () => {
    const front = await frontServer(api.url, () => true); // takes the request, never answers
    try {
      const box = createOutbox({ store: new MemoryStore(), apiUrl: front.url, token: "t" });
      await box.enqueue({ pollId: "lunch", optionId: "pizza" });
      box.start();
      await eventually("the request arrived", () => front.seen.length === 1);
      await box.stop({ timeoutMs: 100 });
      const status = await box.status();
      assert.equal(status.state, "stopped");
      assert.equal(status.pending, 1);
      await box.stop(); // twice is fine
      await box.close();
    } finally {
      await front.close();
    }
  });

  test("a revoked kiosk stops the sender in state revoked; nothing is dropped", async () => {
    const kiosk = await createKiosk(api.harness.app, "revoked-one");
    await request(api.harness.app).delete(`/v1/kiosks/${kiosk.id}`).set(ADMIN).expect(200);
    const store = await fileStore();
    const box = createOutbox({ store, apiUrl: api.url, token: kiosk.token });
    await box.enqueue({ pollId: "lunch", optionId: "pizza" });
    await box.enqueue({ pollId: "lunch", optionId: "salad" });
    const result = await box.flush();
    assert.equal(result.error?.code, "kiosk_revoked");
    assert.equal(result.error?.status, 403);
    assert.equal(result.pending, 2);
    const status = await box.status();
    assert.equal(status.state, "revoked");
    assert.equal(status.pending, 2);
    // Further flushes do not hammer the API until a new token is set.
    assert.equal((await box.flush()).error?.code, "kiosk_revoked");
    // Re-paired: a new kiosk's token, and the queue goes out under it.
    const repaired = await createKiosk(api.harness.app, "repaired-one");
    box.setToken(repaired.token);
    assert.equal((await box.status()).state, "stopped");
    const sent = await box.flush();
    assert.deepEqual([sent.acked, sent.pending, sent.error], [2, 0, undefined]);
    await api.storedCount(2, repaired.id);
    assert.equal((await api.stored(kiosk.id)).rows, 0, "nothing stored under the revoked kiosk");
    await box.close();
  });

  test("a check-in's temperature travels with it, and the API's 422 comes back with its field", async () => {
    const h = api.harness;
    await request(h.app)
      .put("/v1/schools/default/people/P-1")
      .set(ADMIN)
      .send({ name: "Ada" })
      .expect(201);
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({ id: "door", kind: "attendance", title: "Door" })
      .expect(201);
    await eventually("the API knows P-1", () => h.people.has("default", "P-1"));
    const front = await frontServer(api.url, () => false);
    try {
      const box = createOutbox({
        store: new MemoryStore(),
        apiUrl: front.url,
        token: api.kiosk.token,
      });
      const fine = await box.enqueue({
        pollId: "door",
        optionId: "in",
        voterId: "P-1",
        temperatureC: 36.6,
      });
      const hot = await box.enqueue({
        pollId: "door",
        optionId: "out",
        voterId: "P-1",
        temperatureC: 44.5,
      });
      const plain = await box.enqueue({ pollId: "door", optionId: "out", voterId: "P-1" });
      const result = await box.flush();
      assert.deepEqual([result.acked, result.refused, result.pending], [2, 1, 0]);
      const sent = JSON.parse(front.seen[0]!.body).votes as {
        eventId: string;
        temperatureC?: number;
      }[];
      assert.deepEqual(
        sent.map((v) => [v.eventId, v.temperatureC]),
        [
          [fine.eventId, 36.6],
          [hot.eventId, 44.5],
          [plain.eventId, undefined],
        ],
      );
      const [refused] = await box.refused();
      assert.equal(refused!.entry.temperatureC, 44.5, "kept as it was, for the operator");
      assert.equal(refused!.error.code, "temperature_out_of_range");
      assert.deepEqual(refused!.error.details, { field: "votes.1.temperatureC", min: 28, max: 43 });
      await box.close();
    } finally {
      await front.close();
    }
  });

  test("bad votes and options are refused at once, naming the field", async () => {
    const box = outbox(new MemoryStore());
    await assert.rejects(box.enqueue({ pollId: "", optionId: "pizza" }), /pollId/);
    await assert.rejects(
      box.enqueue({ pollId: "lunch", optionId: "pizza", eventId: "nope" }),
      (err: Error & { code?: string }) =>
        err.code === "invalid_vote" && /eventId/.test(err.message),
    );
    await assert.rejects(
      box.enqueue({ pollId: "lunch", optionId: "pizza", castAt: "yesterday" }),
      /castAt/,
    );
    for (const temperatureC of [36.66, Number.NaN, "36.6" as unknown as number])
      await assert.rejects(
        box.enqueue({ pollId: "lunch", optionId: "pizza", temperatureC }),
        (err: Error & { code?: string }) =>
          err.code === "invalid_vote" && /temperatureC/.test(err.message),
      );
    assert.throws(() => outbox(new MemoryStore(), { maxBatch: 0 }), /maxBatch/);
    assert.throws(() => outbox(new MemoryStore(), { apiUrl: "not a url" }), /apiUrl/);
    await box.close();
  });
});
