import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { connect } from "@nats-io/transport-node";
import request, { type Response } from "supertest";
import { UnavailableError } from "../../common/errors.ts";
import { JetStreamHealer } from "../../common/jetstream-heal.ts";
import { createLogger } from "../../common/logger.ts";
import { PrivateNatsServer } from "../../harness/nats-servers.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { OpenApiAnswers } from "../../test-support/openapi-answers.ts";
import { streamMessages, withJetStream } from "../../test-support/streams.ts";
import type { OpenApiDocument } from "../openapi/openapi-document.ts";
import { VotePublisher } from "./vote-publisher.ts";

// The API answers 202 only once JetStream acked the vote. While NATS is unreachable it must
// say 503 with Retry-After (the kiosk keeps the vote and retries), never 202.

describe("NATS outage", () => {
  let nats: PrivateNatsServer | undefined;
  let h: IngestHarness | undefined;
  let kiosk: TestKiosk;

  const api = () => h!;
  const vote = (body: Record<string, unknown> = {}) =>
    request(api().app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "outage", optionId: "yes", ...body });
  const expectUnavailable = (res: Response) => {
    expectError(res, 503, "nats_unavailable");
    assert.equal(res.headers["retry-after"], "2");
  };
  /** A response in short, to assert on a whole run of answers at once. */
  const answer = (res: Response) =>
    res.status === 503
      ? `503 ${res.body.error?.code} retry-after=${res.headers["retry-after"]}`
      : String(res.status);
  const UNAVAILABLE = "503 nats_unavailable retry-after=2";
  const readyz = () => request(api().app).get("/readyz");
  /** Each test starts connected, even if an earlier one failed mid-outage. */
  const natsReady = () =>
    eventually(
      "the API is connected to NATS",
      async () => ((await readyz()).status === 200 ? true : undefined),
      { timeoutMs: 15_000, intervalMs: 100 },
    );

  before(async () => {
    nats = await PrivateNatsServer.create();
    h = await startIngestHarness({ NATS_URL: nats.url, PUBLISH_TIMEOUT_MS: "500" });
    await createPoll(h.app, { id: "outage" });
    kiosk = await createKiosk(h.app, "outage-kiosk");
  });
  after(async () => {
    try {
      await h?.close();
    } finally {
      await nats?.destroy();
    }
  });

  test("votes get 503 with Retry-After while NATS is down, and 202 again once it is back", async () => {
    const server = nats!;
    assert.equal((await vote()).status, 202);
    assert.equal((await readyz()).status, 200);

    const retried = randomUUID();
    await server.stop();
    try {
      // Even before the client noticed the outage, the answer is 503, never 202.
      expectUnavailable(await vote());

      const notReady = await eventually("/readyz reports NATS down", async () => {
        const res = await readyz();
        return res.status === 503 ? res : undefined;
      });
      assert.equal(notReady.body.status, "not_ready");
      assert.deepEqual(notReady.body.checks, {
        postgres: { ok: true },
        nats: { ok: false }, // the cause is logged, never told to the public
        redis: { ok: true },
      });

      for (let i = 0; i < 3; i++) expectUnavailable(await vote());
      expectUnavailable(await vote({ eventId: retried }));
      const batch = await request(api().app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .send({
          votes: [
            { pollId: "outage", optionId: "yes" },
            { pollId: "outage", optionId: "no" },
          ],
        });
      expectUnavailable(batch);

      // Client mistakes are still answered as such, and the registry still works.
      expectError(await vote({ pollId: "missing" }), 404, "poll_not_found");
      expectError(await vote({ optionId: "maybe" }), 422, "unknown_option");
      assert.equal((await request(api().app).get("/v1/polls/outage").set(ADMIN)).status, 200);
    } finally {
      await server.start();
    }

    const answers: string[] = [];
    const recovered = await eventually(
      "a vote is accepted after NATS restarted",
      async () => {
        const res = await vote();
        answers.push(answer(res));
        return res.status === 202 ? res : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    // Until then, only ever 503.
    assert.deepEqual(
      answers.slice(0, -1).filter((a) => a !== UNAVAILABLE),
      [],
      answers.join(", "),
    );
    assert.equal(recovered.body.status, "accepted");
    await eventually("/readyz is ready again", async () =>
      (await readyz()).status === 200 ? true : undefined,
    );

    // The vote refused during the outage is taken when the kiosk resends it, exactly once.
    const resent = await vote({ eventId: retried });
    assert.equal(resent.status, 202, resent.text);
    assert.deepEqual(resent.body, { eventId: retried, status: "accepted" });
    assert.deepEqual((await vote({ eventId: retried })).body, {
      eventId: retried,
      status: "duplicate",
    });
    const stored = (await streamMessages(server.url, api().names.streamName)).filter(
      (m) => (m.body as { votes: { eventId: string }[] }).votes[0]?.eventId === retried,
    );
    assert.equal(stored.length, 1);
  });

  test("a full stream refuses votes with 503 queue_full and Retry-After; accepted once there is room", async () => {
    await natsReady();
    const { streamName } = api().names;
    const setMaxBytes = (room: number | null) =>
      withJetStream(nats!.url, async (jsm) => {
        const info = await jsm.streams.info(streamName);
        const max_bytes = room === null ? -1 : info.state.bytes + room;
        await jsm.streams.update(streamName, { ...info.config, max_bytes });
      });
    await setMaxBytes(1_000);
    try {
      const statuses: number[] = [];
      let full: Response | undefined;
      for (let i = 0; i < 20 && !full; i++) {
        const res = await vote({ voterId: `voter-${i}` });
        statuses.push(res.status);
        if (res.status !== 202) full = res;
      }
      assert.ok(full, `the stream never filled: ${statuses.join()}`);
      // Both answers as /openapi.json describes them (a documented 503 of the route, its
      // envelope and code, Retry-After).
      const document = (await request(api().app).get("/openapi.json")).body as OpenApiDocument;
      const answers = new OpenApiAnswers(document);
      expectError(answers.check("POST", "/v1/votes", full), 503, "queue_full");
      assert.equal(full.headers["retry-after"], "30");
      assert.ok(statuses.length > 1, "the first vote should have fitted");
      const batch = await request(api().app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .send({ votes: [{ pollId: "outage", optionId: "yes", voterId: "v".repeat(100) }] });
      expectError(answers.check("POST", "/v1/votes/batch", batch), 503, "queue_full");
    } finally {
      await setMaxBytes(null);
    }
    assert.equal((await vote()).status, 202);
  });

  test("a publish no stream captures answers 503 nats_unavailable, never 202", async () => {
    await natsReady();
    // Its healer provisions nothing, so the subject stays uncaptured through every retry.
    const nc = await connect({ servers: nats!.url });
    try {
      const logger = createLogger("silent");
      const healer = new JetStreamHealer("nothing", async () => [], 60_000, logger);
      const blind = new VotePublisher(nc, {
        subjectPrefix: `${api().names.subjectPrefix}_uncaptured`,
        timeoutMs: 500,
        retries: 3,
        retryDelayMs: 20,
        healer,
        logger,
      });
      await assert.rejects(blind.publish("outage", new Uint8Array([1]), randomUUID()), (err) => {
        assert.ok(err instanceof UnavailableError);
        assert.equal(err.code, "nats_unavailable");
        return true;
      });
      assert.equal(
        healer.runs,
        1,
        "the missing stream was looked for once: the rate limit holds the rest",
      );
    } finally {
      await nc.close();
    }
  });

  test("a deleted stream: 202 or 503 until the API re-provisions it, then 202", async () => {
    await natsReady();
    await withJetStream(nats!.url, (jsm) => jsm.streams.delete(api().names.streamName));
    const answers: string[] = [];
    await eventually(
      "a vote is accepted once the stream is back",
      async () => {
        const res = await vote();
        answers.push(answer(res));
        return res.status === 202 ? true : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.deepEqual(
      answers.slice(0, -1).filter((a) => a !== UNAVAILABLE),
      [],
      answers.join(", "),
    );
    const info = await withJetStream(nats!.url, (jsm) => jsm.streams.info(api().names.streamName));
    assert.equal(info.config.num_replicas, 1);
  });

  test("a batch is accepted again after the outage", async () => {
    await natsReady();
    const res = await request(api().app)
      .post("/v1/votes/batch")
      .set(kiosk.auth)
      .send({ votes: [{ pollId: "outage", optionId: "no" }] });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.body.accepted, 1);
  });
});
