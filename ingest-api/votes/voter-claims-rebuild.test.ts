import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { createLogger } from "../../common/logger.ts";
import { PrivateRedis } from "../../harness/private-redis.ts";
import { eventually } from "../../harness/waiting.ts";
import { createKiosk, createPoll, expectError, type TestKiosk } from "../../test-support/api.ts";
import { type InProcessWriter, startPipelineWriter } from "../../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { VoterClaimsRebuild } from "./voter-claims-rebuild.ts";
import { VoterGuard, voterClaimsKeys } from "./voter-guard.ts";

// Redis without persistence comes back empty, and with it the one-vote-per-voter claims.
// The API must give them back from voter_ballots before it takes a voter's vote again:
// a second vote is 409 as before, never a 202 the writer later moves to rejected_votes.

/** For rebuilders made by hand here: no stream to wait for (writerWaitMs 0). */
const noStream = async () => ({ published: 0, unstored: undefined });

describe("one-vote-per-voter claims after Redis comes back empty", () => {
  let redis: PrivateRedis | undefined;
  let h: IngestHarness | undefined;
  let writer: InProcessWriter | undefined;
  let kiosk: TestKiosk;

  const api = () => h!;
  const vote = (body: Record<string, unknown>) =>
    request(api().app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "council", optionId: "yes", ...body });
  const ballots = async () => {
    const { rows } = await api().db.pool.query<{ n: number }>(
      "select count(*)::int as n from voter_ballots where poll_id = 'council'",
    );
    return rows[0]!.n;
  };
  const stored = (n: number) =>
    eventually(`${n} ballots stored`, async () => ((await ballots()) === n ? true : undefined), {
      timeoutMs: 20_000,
    });
  /** This file's voter entries and claims marker gone, as from a Redis that lost them (the lock is left). */
  const loseClaims = async () => {
    const prefix = api().names.redisKeyPrefix;
    const { restored, rebuilt } = voterClaimsKeys(prefix);
    await api().redis.unlink([restored, rebuilt]);
    for await (const keys of api().redis.scanIterator({ MATCH: `${prefix}voters:*` }))
      if (keys.length > 0) await api().redis.unlink(keys);
  };
  /** A response in short: its status, and its error code if any. */
  const answer = (r: request.Response) =>
    r.body?.error?.code ? `${r.status} ${r.body.error.code}` : String(r.status);
  /**
   * Sends a second vote by `voterId` until it is no longer 503 (rebuilding, or Redis still
   * unreachable), then asserts on every answer: 503s, then 409 already_voted; never a 202.
   */
  const secondVoteRefused = async (voterId: string) => {
    const answers: string[] = [];
    const res = await eventually(
      `${voterId}'s second vote is answered`,
      async () => {
        const r = await vote({ voterId, eventId: randomUUID(), optionId: "no" });
        answers.push(answer(r));
        return r.status === 503 ? undefined : r;
      },
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    assert.deepEqual(
      answers.filter((a) => !a.startsWith("503 ")),
      ["409 already_voted"],
      `${voterId}'s second votes: ${answers.join(", ")}`,
    );
    expectError(res, 409, "already_voted");
  };

  before(async () => {
    redis = await PrivateRedis.create();
    h = await startIngestHarness({
      REDIS_URL: redis.url,
      VOTER_CLAIMS_CHECK_MS: "200",
      VOTER_REBUILD_WRITER_WAIT_MS: "60000",
    });
    writer = await startPipelineWriter(h);
    await createPoll(h.app, { id: "council", oneVotePerVoter: true });
    kiosk = await createKiosk(h.app, "booth");
  });
  after(async () => {
    try {
      await writer?.close();
      await h?.close();
    } finally {
      await redis?.destroy();
    }
  });

  test("redis-server restarted empty: a second vote is 409 again, a retry of the first still 202", async () => {
    const aliceFirst = randomUUID();
    assert.equal((await vote({ voterId: "alice", eventId: aliceFirst })).status, 202);
    assert.equal((await vote({ voterId: "bob" })).status, 202);
    await stored(2);

    await redis!.restartEmpty();
    await secondVoteRefused("alice");
    expectError(await vote({ voterId: "bob", eventId: randomUUID() }), 409, "already_voted");

    // The kiosk's retry of alice's first vote is the same vote, not a second one.
    const retry = await vote({ voterId: "alice", eventId: aliceFirst });
    assert.equal(retry.status, 202, retry.text);
    assert.equal(retry.body.eventId, aliceFirst);
    // A new voter votes as before.
    assert.equal((await vote({ voterId: "carol" })).status, 202);
    await stored(3);
    const { rows } = await api().db.pool.query(
      "select voter_id from rejected_votes where poll_id = 'council'",
    );
    assert.deepEqual(rows, [], "no vote went through to be refused by the writer");
  });

  test("a vote still in the stream when Redis emptied counts: the rebuild waits for the writer to store it", async () => {
    await writer!.close(); // the writer is behind: frank's vote stays in the stream
    writer = undefined;
    const frankFirst = randomUUID();
    assert.equal((await vote({ voterId: "frank", eventId: frankFirst })).status, 202);
    await redis!.restartEmpty();
    // Until the writer stores it, frank's second vote is 503, never a 202 that the writer
    // would later move to rejected_votes. Every other voter of the poll waits too.
    const answers: string[] = [];
    await eventually("the API reconnected and refuses claims", async () => {
      const r = await vote({ voterId: "frank", eventId: randomUUID() });
      answers.push(answer(r));
      return r.status === 503 && r.body.error.code === "voter_claims_rebuilding" ? true : undefined;
    });
    assert.deepEqual(
      answers.filter((a) => !a.startsWith("503 ")),
      [],
      `frank's second votes while Redis came back: ${answers.join(", ")}`,
    );
    for (let i = 0; i < 5; i++)
      expectError(
        await vote({ voterId: "frank", eventId: randomUUID() }),
        503,
        "voter_claims_rebuilding",
      );

    writer = await startPipelineWriter(api());
    await stored(4);
    await secondVoteRefused("frank");
    assert.equal((await vote({ voterId: "frank", eventId: frankFirst })).status, 202);
    const { rows } = await api().db.pool.query(
      "select voter_id from rejected_votes where poll_id = 'council'",
    );
    assert.deepEqual(rows, []);
  });

  test("while another process holds the rebuild, votes with a voterId are 503 voter_claims_rebuilding", async () => {
    assert.equal((await vote({ voterId: "dave" })).status, 202);
    await stored(5);
    const { lock } = voterClaimsKeys(api().names.redisKeyPrefix);
    await api().redis.set(lock, "another-api-process", {
      expiration: { type: "PX", value: 60_000 },
    });
    await loseClaims();

    const res = await vote({ voterId: "dave", eventId: randomUUID() });
    const error = expectError(res, 503, "voter_claims_rebuilding");
    assert.match(error.message, /council/);
    assert.equal(res.headers["retry-after"], "2");
    expectError(await vote({ voterId: "erin" }), 503, "voter_claims_rebuilding");
    // Votes without a voterId cannot be checked and never could: they are taken.
    assert.equal((await vote({})).status, 202);
    // The periodic check (every 200 ms here) finds the lock taken and leaves it alone.
    await api().voterClaims.ensure();
    assert.equal(await api().redis.get(lock), "another-api-process");

    await api().redis.del(lock); // that process died; its lock is gone
    await secondVoteRefused("dave");
    assert.equal((await vote({ voterId: "erin" })).status, 202);
  });

  test("two rebuilders at once: exactly one rebuilds, and the claims are complete after it", async () => {
    await stored(6);
    // Only the two rebuilders below compete: the API's own one (its periodic check, or a
    // refused claim's nudge) could otherwise take the lock before both.
    await api().voterClaims.stop();
    await loseClaims();
    // Two more API processes' rebuilders on the same Redis and database.
    const { redisKeyPrefix } = api().names;
    const { voterBucketBits, voterRetentionMs } = api().config;
    const settings = { checkIntervalMs: 60_000, batchRows: 2, lockMs: 10_000, writerWaitMs: 0 };
    const rebuilders = [1, 2].map(
      () =>
        new VoterClaimsRebuild(
          api().db.pool,
          api().redis,
          new VoterGuard(api().redis, redisKeyPrefix, voterBucketBits, voterRetentionMs),
          settings,
          createLogger("silent"),
          noStream,
        ),
    );
    const summaries = await Promise.all(rebuilders.map((r) => r.ensure()));
    const ran = summaries.filter((s) => s !== undefined);
    assert.equal(ran.length, 1, JSON.stringify(summaries));
    assert.deepEqual([ran[0]!.polls, ran[0]!.voters], [1, 6]);
    await secondVoteRefused("erin");
    for (const voterId of ["alice", "bob", "carol", "dave"])
      expectError(await vote({ voterId, eventId: randomUUID() }), 409, "already_voted");
  });

  test("a rebuild that loses its lock midway (Redis restarted again) writes no marker, and the next one completes", async () => {
    // The API's own rebuilder is stopped, so that only this file's rebuilder runs.
    await api().voterClaims.stop();
    await createPoll(api().app, { id: "big", oneVotePerVoter: true });
    await api().db.pool.query(
      `insert into voter_ballots (poll_id, voter_id, event_id)
       select 'big', 'member-' || i, gen_random_uuid() from generate_series(1, 20000) i`,
    );
    await loseClaims();
    const { redisKeyPrefix } = api().names;
    const { voterBucketBits, voterRetentionMs } = api().config;
    const guard = new VoterGuard(api().redis, redisKeyPrefix, voterBucketBits, voterRetentionMs);
    // 100 rows a step: 200 steps for "big", many more than the time it takes to see one.
    const settings = { checkIntervalMs: 60_000, batchRows: 100, lockMs: 10_000, writerWaitMs: 0 };
    const rebuilder = new VoterClaimsRebuild(
      api().db.pool,
      api().redis,
      guard,
      settings,
      createLogger("silent"),
      noStream,
    );
    const keys = voterClaimsKeys(redisKeyPrefix);
    const first = rebuilder.ensure();
    await eventually("the rebuild wrote its first step", async () => {
      for await (const found of api().redis.scanIterator({
        MATCH: `${redisKeyPrefix}voters:big:*`,
      }))
        if (found.length > 0) return true;
      return undefined;
    });
    await api().redis.del(keys.lock); // what a restart does to it
    assert.equal(await first, undefined, "the interrupted rebuild reports nothing rebuilt");
    assert.equal(await api().redis.exists(keys.restored), 0, "no marker over missing claims");
    expectError(
      await vote({ voterId: "alice", eventId: randomUUID() }),
      503,
      "voter_claims_rebuilding",
    );

    const second = await rebuilder.ensure();
    assert.deepEqual([second?.polls, second?.voters], [2, 20_006]);
    assert.equal(await api().redis.exists(keys.restored), 1);
    const { rows } = await api().db.pool.query<{ id: string; incarnation: number }>(
      "select id, incarnation from polls",
    );
    const incarnation = new Map(rows.map((r) => [r.id, r.incarnation]));
    for (const [pollId, voterId] of [
      ["big", "member-1"],
      ["big", "member-20000"],
      ["council", "alice"],
    ] as const) {
      const poll = { pollId, incarnation: incarnation.get(pollId)! };
      assert.equal(await guard.claim(guard.claimFor(poll, voterId, randomUUID())), "taken");
    }
  });
});
