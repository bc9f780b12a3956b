import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { PrivateRedis } from "../../harness/private-redis.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { type InProcessWriter, startPipelineWriter } from "../../test-support/in-process-writer.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { drainPollPurges } from "../../test-support/poll-purges.ts";
import { TcpProxy } from "../../test-support/tcp-proxy.ts";

// The one-vote claims belong to one incarnation of a poll: a poll deleted and created again
// under its id starts with no claims even where the old ones outlived the delete, an
// unarchived poll gets its claims back from voter_ballots, and forgetting a poll's claims
// costs its own bucket keys, never a SCAN of the keyspace.

describe("voter claims per poll incarnation", () => {
  let redis: PrivateRedis;
  let proxy: TcpProxy;
  let h: IngestHarness;
  let writer: InProcessWriter;
  let kiosk: TestKiosk;

  const vote = (pollId: string, voterId: string) =>
    request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId, optionId: "yes", voterId, eventId: randomUUID() });
  const patch = (pollId: string, body: Record<string, unknown>) =>
    request(h.app).patch(`/v1/polls/${pollId}`).set(ADMIN).send(body);
  const ballots = async (pollId: string) =>
    Number(
      (
        await h.db.pool.query<{ n: number }>(
          "select count(*) as n from voter_ballots where poll_id = $1",
          [pollId],
        )
      ).rows[0]!.n,
    );
  const commandCalls = async (command: string) => {
    const info = String(await redis.command(["INFO", "commandstats"]));
    return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  };

  before(async () => {
    redis = await PrivateRedis.create();
    proxy = new TcpProxy("127.0.0.1", redis.port);
    await proxy.up();
    h = await startIngestHarness({
      REDIS_URL: `redis://127.0.0.1:${proxy.port}`,
      VOTER_BUCKET_BITS: "4",
    });
    writer = await startPipelineWriter(h);
    kiosk = await createKiosk(h.app, "booth");
  });
  after(async () => {
    await writer?.close();
    await proxy?.up();
    await h?.close();
    await proxy?.down();
    await redis?.destroy();
  });

  test("archive, then unarchive: a second vote by the same voter is 409 already_voted", async () => {
    await createPoll(h.app, { id: "paused", oneVotePerVoter: true });
    assert.equal((await vote("paused", "alice")).status, 202);
    await eventually("the writer stored alice's ballot", async () =>
      (await ballots("paused")) === 1 ? true : undefined,
    );
    await patch("paused", { archived: true }).expect(200);
    await patch("paused", { archived: false }).expect(200);
    expectError(await vote("paused", "alice"), 409, "already_voted");
    assert.equal((await vote("paused", "bob")).status, 202, "a new voter still votes");
  });

  test("a poll's claims are forgotten by their keys, without a SCAN of the keyspace", async () => {
    await createPoll(h.app, { id: "forgotten", oneVotePerVoter: true });
    for (let i = 0; i < 40; i++) assert.equal((await vote("forgotten", `v${i}`)).status, 202);
    await redis.command(["CONFIG", "RESETSTAT"]);
    await patch("forgotten", { archived: true }).expect(200);
    assert.equal(await commandCalls("scan"), 0);
    assert.ok((await commandCalls("unlink")) > 0);
    const left = String(
      await redis.command(["KEYS", `${h.names.redisKeyPrefix}voters:forgotten:*`]),
    );
    assert.equal(left, "", "no claim of the archived poll is left");
  });

  test("a poll deleted and created again under its id: the old claims do not block", async () => {
    await createPoll(h.app, { id: "reborn", oneVotePerVoter: true });
    assert.equal((await vote("reborn", "judy")).status, 202);
    await eventually("the writer stored judy's ballot", async () =>
      (await ballots("reborn")) === 1 ? true : undefined,
    );
    // Redis is away while the poll is archived and deleted: its claims outlive the delete.
    await proxy.down();
    try {
      await patch("reborn", { archived: true }).expect(200);
      await request(h.app).delete("/v1/polls/reborn").set(ADMIN).expect(200);
    } finally {
      await proxy.up();
    }
    await drainPollPurges(h.db.pool); // the old poll's rows (migration 031)
    await createPoll(h.app, { id: "reborn", oneVotePerVoter: true });
    const res = await eventually("Redis is back for votes", async () => {
      const answer = await vote("reborn", "judy");
      return answer.status === 503 ? undefined : answer;
    });
    assert.equal(res.status, 202, res.text);
  });
});
