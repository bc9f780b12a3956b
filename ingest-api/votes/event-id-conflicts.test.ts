import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import {
  type InProcessWriter,
  startPipelineWriter,
  writerRows,
} from "../../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";

// The whole path, API -> JetStream -> writer -> Postgres: a kiosk reusing another kiosk's
// eventId inside JetStream's duplicate window is neither dropped as a duplicate nor
// counted; it is recorded as a conflict. The original kiosk's retry is still a duplicate.
describe("eventId clashes, end to end", () => {
  let h: IngestHarness;
  let writer: InProcessWriter;
  let hall: TestKiosk;
  let lobby: TestKiosk;

  const send = (kiosk: TestKiosk, body: object) =>
    request(h.app).post("/v1/votes").set(kiosk.auth).send(body).expect(202);
  const rows = async (sql: string, params: unknown[] = []) =>
    (await h.db.pool.query(sql, params)).rows;
  const rowsMetric = (outcome: string) => writerRows(writer, outcome);

  before(async () => {
    h = await startIngestHarness();
    await createPoll(h.app, {
      id: "lunch",
      options: [
        { id: "pizza", label: "Pizza" },
        { id: "salad", label: "Salad" },
      ],
    });
    hall = await createKiosk(h.app, "hall");
    lobby = await createKiosk(h.app, "lobby");
    writer = await startPipelineWriter(h);
  });
  after(async () => {
    await writer?.close();
    await h?.close();
  });

  test("another kiosk's vote on a stored eventId is a conflict; the kiosk's own retry a duplicate", async () => {
    const eventId = randomUUID();
    const vote = { eventId, pollId: "lunch", optionId: "pizza" };
    assert.equal((await send(hall, vote)).body.status, "accepted");
    await eventually("the vote is stored", async () =>
      (await rows("select 1 from votes where event_id = $1", [eventId])).length ? true : undefined,
    );
    assert.equal((await send(hall, vote)).body.status, "duplicate", "a retry");
    assert.equal((await send(lobby, vote)).body.status, "accepted", "a clash is not a retry");
    assert.equal((await send(hall, { ...vote, optionId: "salad" })).body.status, "accepted");
    // The lobby's clash again, in a batch: another message id, the same conflicting vote.
    const again = await request(h.app)
      .post("/v1/votes/batch")
      .set(lobby.auth)
      .send({ votes: [vote] })
      .expect(200);
    assert.equal(again.body.accepted, 1);

    await eventually(
      "the writer classified the three clashing messages",
      async () => ((await rowsMetric("conflict")) === 3 ? true : undefined),
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(
      await rows(
        "select kiosk_id, option_id from conflicting_votes where event_id = $1 order by id",
        [eventId],
      ),
      [
        { kiosk_id: "lobby", option_id: "pizza" },
        { kiosk_id: "hall", option_id: "salad" },
      ],
    );
    assert.deepEqual(await rows("select kiosk_id, option_id from votes"), [
      { kiosk_id: "hall", option_id: "pizza" },
    ]);
    assert.deepEqual(await rows("select option_id, count from vote_rollups"), [
      { option_id: "pizza", count: 1 },
    ]);
    assert.deepEqual(await rows("select * from duplicate_counts"), [], "no clash is a duplicate");
    assert.equal(await rowsMetric("duplicate"), 0, "JetStream dropped the retry");
    assert.equal(await rowsMetric("inserted"), 1);
  });

  test("the same eventId in another poll is another event: accepted, stored and counted in it", async () => {
    await createPoll(h.app, { id: "color", options: [{ id: "red", label: "Red" }] });
    const eventId = randomUUID();
    const vote = { eventId, pollId: "lunch", optionId: "salad" };
    const inserted = await rowsMetric("inserted");
    const conflicts = await rowsMetric("conflict");
    assert.equal((await send(hall, vote)).body.status, "accepted");
    // Inside JetStream's duplicate window: the message id digests the poll, so it is not
    // dropped as the lunch vote's retry.
    assert.equal(
      (await send(hall, { ...vote, pollId: "color", optionId: "red" })).body.status,
      "accepted",
    );
    await eventually(
      "both stored",
      async () => ((await rowsMetric("inserted")) === inserted + 2 ? true : undefined),
      { timeoutMs: 20_000 },
    );
    assert.equal(await rowsMetric("conflict"), conflicts);
    assert.deepEqual(
      await rows("select poll_id, option_id from votes where event_id = $1 order by poll_id", [
        eventId,
      ]),
      [
        { poll_id: "color", option_id: "red" },
        { poll_id: "lunch", option_id: "salad" },
      ],
    );
    assert.deepEqual(await rows("select count from vote_rollups where poll_id = 'color'"), [
      { count: 1 },
    ]);
    assert.deepEqual(
      await rows("select 1 from conflicting_votes where event_id = $1", [eventId]),
      [],
    );
  });
});
