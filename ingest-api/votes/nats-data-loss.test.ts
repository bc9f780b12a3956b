import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { deadLetterStreamName } from "../../batch-writer/consumer.ts";
import { PrivateNatsServer } from "../../harness/nats-servers.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import {
  type InProcessWriter,
  startWriterInProcess,
} from "../../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { writerEnv } from "../../test-support/service-env.ts";
import { withJetStream } from "../../test-support/streams.ts";

// NATS can come back without its data: a new node, a lost volume, a stream deleted by
// mistake. The API and the writer re-provision what they own (the stream, the durable
// consumer, the MaxDeliver capture) by themselves; no process is restarted here. Postgres
// keeps the final word on duplicates: JetStream's duplicate window went with the store.

describe("NATS back without its data", () => {
  let nats: PrivateNatsServer | undefined;
  let h: IngestHarness | undefined;
  let writer: InProcessWriter | undefined;
  let kiosk: TestKiosk;

  const api = () => h!;
  const vote = (eventId: string = randomUUID()) =>
    request(api().app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ eventId, pollId: "loss", optionId: "yes" });
  const storedCount = async (eventId: string) => {
    const { rows } = await api().db.pool.query<{ n: number }>(
      "select count(*)::int as n from votes where event_id = $1",
      [eventId],
    );
    return rows[0]!.n;
  };
  const stored = (eventId: string) =>
    eventually(
      `vote ${eventId} is stored`,
      async () => ((await storedCount(eventId)) > 0 ? true : undefined),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  /** The writer's consumer has delivered and acked everything its stream held. */
  const drained = () =>
    eventually(
      "the writers' consumer has nothing pending",
      () =>
        withJetStream(nats!.url, async (jsm) => {
          const info = await jsm.consumers.info(
            api().names.streamName,
            writer!.config.consumerName,
          );
          return info.num_pending + info.num_ack_pending === 0 ? true : undefined;
        }),
      { timeoutMs: 20_000, intervalMs: 200 },
    );
  /**
   * Votes until one gets 202 (the wait is generous: what is checked is that the API
   * recovers by itself, not how soon), recording every answer.
   */
  const acceptedAgain = async (what: string) => {
    const statuses: number[] = [];
    await eventually(
      what,
      async () => {
        const res = await vote();
        statuses.push(res.status);
        return res.status === 202 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    assert.deepEqual(
      statuses.filter((s) => s !== 202 && s !== 503),
      [],
      "only 202 or 503 is ever answered",
    );
  };
  /** Stream and consumer exist (a lookup throws "not found" otherwise). */
  const provisioned = () =>
    eventually(
      "the votes stream, the writers' consumer and the MaxDeliver capture exist",
      () =>
        withJetStream(nats!.url, async (jsm) => {
          const { streamName } = api().names;
          const { consumerName } = writer!.config;
          await jsm.streams.info(streamName);
          await jsm.consumers.info(streamName, consumerName);
          await jsm.streams.info(deadLetterStreamName(writer!.config));
          await jsm.consumers.info(deadLetterStreamName(writer!.config), consumerName);
          return true;
        }),
      { timeoutMs: 20_000, intervalMs: 200 },
    );

  before(async () => {
    nats = await PrivateNatsServer.create();
    h = await startIngestHarness({ NATS_URL: nats.url });
    writer = await startWriterInProcess(
      writerEnv(h.names, h.db.url, { NATS_URL: nats.url, BATCH_LINGER_MS: "100" }),
    );
    await createPoll(h.app, { id: "loss" });
    kiosk = await createKiosk(h.app, "loss-kiosk");
  });
  after(async () => {
    try {
      await writer?.close();
      await h?.close();
    } finally {
      await nats?.destroy();
    }
  });

  test("a server restarted with an empty store: 202 again with no process restarted, votes stored, resends counted once", async () => {
    const before = randomUUID();
    assert.equal((await vote(before)).status, 202);
    await stored(before);

    await nats!.restartEmpty();
    await acceptedAgain("a vote is accepted by the empty server");
    await provisioned();

    const after = randomUUID();
    assert.equal((await vote(after)).status, 202);
    // The new server has no duplicate window: the resend is taken and Postgres drops it.
    const resent = await vote(before);
    assert.equal(resent.status, 202, resent.text);
    await stored(after);
    await drained();
    assert.equal(await storedCount(before), 1, "the resend of a stored vote counts once");
    assert.equal(await storedCount(after), 1);
  });

  test("the stream and the MaxDeliver capture deleted by mistake on a live server", async () => {
    await provisioned();
    await withJetStream(nats!.url, async (jsm) => {
      await jsm.streams.delete(api().names.streamName);
      await jsm.streams.delete(deadLetterStreamName(writer!.config));
    });
    await acceptedAgain("a vote is accepted after the stream was deleted");
    await provisioned();
    const after = randomUUID();
    assert.equal((await vote(after)).status, 202);
    await stored(after);
    await drained();
  });
});
