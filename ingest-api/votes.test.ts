import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { ADMIN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { streamMessageCount } from "../test-support/streams.ts";

describe("POST /v1/votes", () => {
  let h: IngestHarness;
  let kiosk: Record<string, string>;

  before(async () => {
    h = await startIngestHarness();
    await request(h.app)
      .post("/v1/polls")
      .set(ADMIN)
      .send({
        id: "lunch",
        title: "Lunch",
        options: [
          { id: "pizza", label: "Pizza" },
          { id: "salad", label: "Salad" },
        ],
      })
      .expect(201);
    const k = await request(h.app)
      .post("/v1/kiosks")
      .set(ADMIN)
      .send({ id: "k1", name: "Hall" })
      .expect(201);
    kiosk = { Authorization: `Bearer ${k.body.token}` };
  });
  after(() => h.close());

  test("a vote is acknowledged with 202 after JetStream acked it", async () => {
    const res = await request(h.app)
      .post("/v1/votes")
      .set(kiosk)
      .send({ pollId: "lunch", optionId: "pizza" })
      .expect(202);
    assert.equal(res.body.status, "accepted");
    assert.match(res.body.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-7/);
  });

  test("resending the same eventId answers duplicate and leaves one message", async () => {
    const before = await streamMessageCount(h.config.natsUrl, h.names.streamName);
    const vote = {
      eventId: "5b0f3c1e-8f0e-4c1a-9a51-1d2f3e4a5b6c",
      pollId: "lunch",
      optionId: "salad",
    };
    const first = await request(h.app).post("/v1/votes").set(kiosk).send(vote).expect(202);
    const second = await request(h.app).post("/v1/votes").set(kiosk).send(vote).expect(202);
    assert.equal(first.body.status, "accepted");
    assert.equal(second.body.status, "duplicate");
    assert.equal(await streamMessageCount(h.config.natsUrl, h.names.streamName), before + 1);
  });
});
