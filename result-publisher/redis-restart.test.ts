import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { type PublishedResults, resultsKeys } from "../common/results-contract.ts";
import { PrivateRedis } from "../harness/private-redis.ts";
import { eventually } from "../harness/waiting.ts";
import { createPoll, expectError, isoFromNow, minutes } from "../test-support/api.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";

// Redis without persistence comes back empty. The publisher must not trust its memory of
// what it wrote: every poll (open, closed, hidden) is published again within one run,
// where before a closed poll stayed 503 `results_not_ready` for ever.

describe("results after Redis comes back empty", () => {
  let redis: PrivateRedis | undefined;
  let p: ResultsPipeline;
  const POLLS = ["live", "closed", "secret"];

  const get = (pollId: string) => request(p.h.app).get(`/v1/polls/${pollId}/results`);
  const raw = async (pollId: string): Promise<PublishedResults | undefined> => {
    const json = await p.h.redis.get(resultsKeys(p.h.names.redisKeyPrefix, pollId).json);
    return json === null ? undefined : (JSON.parse(json) as PublishedResults);
  };
  const versions = async () =>
    p.h.redis.mGet(POLLS.map((id) => resultsKeys(p.h.names.redisKeyPrefix, id).version));

  /** Open and closed polls answer 200 with their counts; the hidden one 403, and leaks nothing. */
  const expectServed = async () => {
    const live = await get("live");
    assert.equal(live.status, 200, live.text);
    assert.equal(live.body.totalVotes, 3);
    const closed = await get("closed");
    assert.equal(closed.status, 200, closed.text);
    assert.equal(closed.body.status, "closed");
    assert.equal(closed.body.totalVotes, 2);
    expectError(await get("secret"), 403, "results_hidden");
    const secret = await raw("secret");
    assert.ok(secret, "the hidden poll is published");
    assert.equal(secret.hidden, true);
    for (const key of ["totalVotes", "options", "distribution"])
      assert.ok(!(key in secret), `hidden document has "${key}"`);
    const png = await p.h.redis.exists(resultsKeys(p.h.names.redisKeyPrefix, "secret").png);
    assert.equal(png, 1, "the hidden poll's placeholder PNG");
  };

  before(async () => {
    redis = await PrivateRedis.create();
    p = await startResultsPipeline({ REDIS_URL: redis.url });
    await createPoll(p.h.app, { id: "live" });
    // Closed a minute ago; votes cast before the close still come in (late-vote grace).
    await createPoll(p.h.app, { id: "closed", closesAt: isoFromNow(-minutes(1)) });
    await createPoll(p.h.app, {
      id: "secret",
      resultsVisibility: "after_close",
      closesAt: isoFromNow(minutes(60)),
    });
    const early = isoFromNow(-minutes(2));
    await p.voteBatch([
      { pollId: "live", optionId: "yes" },
      { pollId: "live", optionId: "no" },
      { pollId: "live", optionId: "yes" },
      { pollId: "closed", optionId: "yes", castAt: early },
      { pollId: "closed", optionId: "no", castAt: early },
      { pollId: "secret", optionId: "yes" },
    ]);
    await p.stored(6);
    const first = await p.publisher.run();
    assert.deepEqual([...first.published].sort(), ["closed", "live", "secret"]);
    await expectServed();
  });
  after(async () => {
    try {
      await p?.close();
    } finally {
      await redis?.destroy();
    }
  });

  test("keys gone from Redis: the next run republishes every poll, with the same versions", async () => {
    const before = await versions();
    const keys = POLLS.flatMap((id) => Object.values(resultsKeys(p.h.names.redisKeyPrefix, id)));
    await p.h.redis.unlink(keys);
    // The API's in-process copy notices at its next check (RESULTS_CACHE_CHECK_MS).
    await eventually("the API answers 503 for the emptied polls", async () =>
      (await get("live")).status === 503 ? true : undefined,
    );
    expectError(await get("live"), 503, "results_not_ready");
    expectError(await get("closed"), 503, "results_not_ready");

    const run = await p.publisher.run();
    assert.deepEqual([...run.restored].sort(), ["closed", "live", "secret"]);
    assert.deepEqual([...run.published].sort(), ["closed", "live", "secret"]);
    await expectServed();
    // Nothing changed in Postgres, so clients' ETags stay valid.
    assert.deepEqual(await versions(), before);
    const lost = await p.publisher.metrics.resultsLost.get();
    assert.equal(lost.values[0]?.value, 3);

    const idle = await p.publisher.run();
    assert.deepEqual(idle.restored, [], "nothing lost twice");
    assert.deepEqual(idle.published, []);
  });

  test("a version that is not the one published (another writer) is republished too", async () => {
    const key = resultsKeys(p.h.names.redisKeyPrefix, "closed").version;
    const mine = await p.h.redis.get(key);
    await p.h.redis.set(key, "someone-else");
    const run = await p.publisher.run();
    assert.deepEqual(run.restored, ["closed"]);
    assert.equal(await p.h.redis.get(key), mine);
  });

  test("redis-server restarted empty: every poll answers again without waiting for a vote", async () => {
    const before = await versions();
    await redis!.restartEmpty();
    // The publisher's schedule is once a year here (RARE_CRON): only its reconnect can run
    // it, which is what brings every poll back before the next interval.
    await eventually(
      "every poll is published again",
      async () => {
        const statuses = await Promise.all(POLLS.map(async (id) => (await get(id)).status));
        const png = await p.h.redis.exists(resultsKeys(p.h.names.redisKeyPrefix, "secret").png);
        return statuses.join() === "200,200,403" && png === 1 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    await expectServed();
    assert.deepEqual(await versions(), before);
  });
});
