import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import request from "supertest";
import { PrivateNatsCluster } from "../../harness/nats-servers.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import {
  type InProcessWriter,
  startWriterInProcess,
} from "../../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { writerEnv } from "../../test-support/service-env.ts";
import { assertRollupsMatchVotes } from "../../test-support/stored-votes.ts";
import { withJetStream } from "../../test-support/streams.ts";

// A 3-node JetStream cluster with the stream at replicas 3: the stream's leader is killed
// (SIGKILL) under a steady load of single votes. Publishes retry through the election inside
// PUBLISH_TIMEOUT_MS; every answer is 202 or 503, never a false 202. Like a kiosk, the load
// resends every 503'd vote with its eventId until it gets a 202, so at the end Postgres
// must hold exactly the votes sent, each once.

/** Concurrent kiosks sending one vote at a time. */
const SENDERS = 4;
/** Votes accepted before the kill (steady load), and after it (the cluster serves on). */
const VOTES_BEFORE_KILL = 150;
const VOTES_AFTER_KILL = 150;
/** Load keeps running at least this long after the kill, through the election. */
const AFTER_KILL_MS = 8_000;
/** Hard bound on the load phase, whatever happens. */
const LOAD_LIMIT_MS = 60_000;

describe("3-node JetStream cluster: the stream leader killed under load", () => {
  let cluster: PrivateNatsCluster | undefined;
  let h: IngestHarness | undefined;
  let writer: InProcessWriter | undefined;
  let kiosk: TestKiosk;

  before(async () => {
    cluster = await PrivateNatsCluster.create(3);
    const nats = { NATS_URL: cluster.url, STREAM_REPLICAS: "3" };
    h = await startIngestHarness({ ...nats, PUBLISH_TIMEOUT_MS: "2000", PUBLISH_RETRIES: "3" });
    writer = await startWriterInProcess(
      writerEnv(h.names, h.db.url, { ...nats, BATCH_LINGER_MS: "100" }),
    );
    await createPoll(h.app, { id: "cluster" });
    kiosk = await createKiosk(h.app, "cluster-kiosk");
  });
  after(async () => {
    try {
      await writer?.close();
      await h?.close();
    } finally {
      await cluster?.destroy();
    }
  });

  test("every answer is 202 or 503, and every 202 is stored exactly once", {
    timeout: 240_000,
  }, async (t) => {
    const api = h!;
    const streamInfo = () =>
      withJetStream(cluster!.liveUrl, (jsm) => jsm.streams.info(api.names.streamName));
    assert.equal((await streamInfo()).config.num_replicas, 3, "the stream has 3 replicas");

    const answers = new Map<number, number>(); // status -> how many
    const accepted = new Set<string>();
    const refused = new Set<string>(); // 503 and not (yet) accepted
    let acceptedAfterKill = 0;
    let killedAt: number | undefined;
    const errors: string[] = []; // requests that got no HTTP answer at all
    const send = async (eventId: string) => {
      let status: number;
      try {
        const res = await request(api.app)
          .post("/v1/votes")
          .set(kiosk.auth)
          .send({ eventId, pollId: "cluster", optionId: "yes" });
        status = res.status;
      } catch (err) {
        // Counted and reported by the assertions below, never an unhandled rejection.
        errors.push(String(err));
        status = 0;
      }
      answers.set(status, (answers.get(status) ?? 0) + 1);
      if (status === 202) {
        accepted.add(eventId);
        refused.delete(eventId);
        if (killedAt !== undefined) acceptedAfterKill++;
      } else {
        refused.add(eventId);
      }
      return status;
    };

    const started = performance.now();
    let stop = false;
    const senders = Array.from({ length: SENDERS }, async () => {
      while (!stop && performance.now() - started < LOAD_LIMIT_MS) {
        // A 503'd vote is resent with the same eventId, as a kiosk's outbox does.
        const retry = refused.values().next().value;
        const status = await send(retry ?? randomUUID());
        if (status !== 202) await sleep(50);
      }
    });

    let leader: string;
    try {
      await eventually(
        "the load is steady",
        async () => (accepted.size >= VOTES_BEFORE_KILL ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 50 },
      );
      leader = await eventually("the stream has a leader", async () => {
        const name = (await streamInfo()).cluster?.leader;
        return name || undefined;
      });
      await cluster!.kill(leader);
      killedAt = performance.now();
      await eventually(
        "the cluster accepts votes again after the kill",
        async () =>
          acceptedAfterKill >= VOTES_AFTER_KILL && performance.now() - killedAt! >= AFTER_KILL_MS
            ? true
            : undefined,
        { timeoutMs: LOAD_LIMIT_MS, intervalMs: 100 },
      );
    } finally {
      stop = true;
      await Promise.all(senders);
    }

    // Whatever was refused at the end is resent until it is taken.
    for (const eventId of [...refused])
      await eventually(
        `the resend of ${eventId} is accepted`,
        async () => ((await send(eventId)) === 202 ? true : undefined),
        { timeoutMs: 30_000, intervalMs: 200 },
      );

    t.diagnostic(
      `answers ${JSON.stringify(Object.fromEntries(answers))}; leader ${leader} killed; ` +
        `${acceptedAfterKill} accepted after the kill`,
    );
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} requests got no answer`);
    const statuses = [...answers.keys()].sort();
    assert.deepEqual(
      statuses.filter((s) => s !== 202 && s !== 503),
      [],
      `only 202 and 503 are answered: ${JSON.stringify(Object.fromEntries(answers))}`,
    );
    assert.equal(refused.size, 0);

    const storedIds = async () => {
      const { rows } = await api.db.pool.query<{ event_id: string; n: number }>(
        "select event_id::text, count(*)::int as n from votes group by event_id",
      );
      return rows;
    };
    await eventually(
      "every accepted vote is stored",
      async () => ((await storedIds()).length >= accepted.size ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const rows = await storedIds();
    assert.deepEqual(
      rows.filter((r) => r.n !== 1),
      [],
      "no vote is stored twice",
    );
    assert.deepEqual(new Set(rows.map((r) => r.event_id)), accepted, "exactly the votes sent");
    await assertRollupsMatchVotes(api.db.pool);
    const newLeader = (await streamInfo()).cluster?.leader;
    assert.ok(newLeader && newLeader !== leader, `a new leader took over (was ${leader})`);
  });
});
