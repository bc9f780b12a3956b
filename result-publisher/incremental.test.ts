import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { createLogger } from "../common/logger.ts";
import { type HiddenResults, resultsKeys } from "../common/results-contract.ts";
import { openWriterTransaction, runAcrossCommit } from "../harness/writer-rollups.ts";
import { AnnouncementLog } from "../test-support/announcements.ts";
import { createPoll, isoFromNow, minutes } from "../test-support/api.ts";
import { ADMIN } from "../test-support/ingest.ts";
import { drainPollPurges } from "../test-support/poll-purges.ts";
import { assertMatchesSql, changedAt } from "../test-support/results-checks.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";
import { DEFAULT_DISTRIBUTION_WINDOW_HOURS } from "./config.ts";
import { ResultsPublisher } from "./publisher.ts";
import { createPublisherMetrics } from "./publisher-metrics.ts";

const changeSeqOf = (version: string) => Number(version.split("-")[0]);

describe("incremental publishing", () => {
  let p: ResultsPipeline;
  let log: AnnouncementLog;
  let stored = 0;
  const OPTIONS = ["yes", "no"];

  const rawJson = (pollId: string) =>
    p.h.redis.get(resultsKeys(p.h.names.redisKeyPrefix, pollId).json);
  const votes = async (list: [pollId: string, optionId: string][]) => {
    await p.voteBatch(list.map(([pollId, optionId]) => ({ pollId, optionId })));
    stored += list.length;
    await p.stored(stored);
  };

  before(async () => {
    p = await startResultsPipeline();
    await createPoll(p.h.app, { id: "steady" });
    await createPoll(p.h.app, { id: "busy" });
    log = await AnnouncementLog.start(p.h.config.redisUrl, p.h.names.redisKeyPrefix);
  });
  after(async () => {
    await log?.close();
    await p?.close();
  });

  test("a run publishes only the polls whose votes changed", async () => {
    await votes([
      ["steady", "yes"],
      ["steady", "no"],
      ["busy", "yes"],
    ]);
    const first = await p.publisher.run();
    assert.deepEqual([...first.published].sort(), ["busy", "steady"]);
    await log.settle();
    assert.deepEqual(
      log
        .take()
        .map((m) => m.pollId)
        .sort(),
      ["busy", "steady"],
    );

    const steadyBefore = await rawJson("steady");
    const busyBefore = await p.visible("busy");

    const idle = await p.publisher.run();
    assert.deepEqual(idle, {
      polls: 2,
      published: [],
      removed: [],
      restored: [],
      chartsQueued: [],
    });
    await log.settle();
    assert.deepEqual(log.take(), [], "nothing announced when nothing changed");

    await votes([
      ["busy", "no"],
      ["busy", "no"],
    ]);
    const next = await p.publisher.run();
    assert.deepEqual(next.published, ["busy"]);
    const busy = await p.visible("busy");
    assert.notEqual(busy.version, busyBefore.version);
    assert.equal(changeSeqOf(busy.version), changeSeqOf(busyBefore.version) + 1);
    await assertMatchesSql(p.h, busy, OPTIONS);
    await log.settle();
    assert.deepEqual(log.take(), [{ pollId: "busy", version: busy.version }]);
    // The unchanged poll's document is byte for byte what it was: same version, same publishedAt.
    assert.equal(await rawJson("steady"), steadyBefore);
  });

  test("a restarted publisher does not republish unchanged polls", async () => {
    const steadyBefore = await rawJson("steady");
    const busyBefore = await rawJson("busy");
    const restarted = await p.restartPublisher();
    const first = await restarted.firstRun;
    assert.deepEqual(first, {
      polls: 2,
      published: [],
      removed: [],
      restored: [],
      chartsQueued: [],
    });
    await log.settle();
    assert.deepEqual(log.take(), []);
    assert.equal(await rawJson("steady"), steadyBefore);
    assert.equal(await rawJson("busy"), busyBefore);

    // The new instance still counts right: its first change reads the poll in full.
    await votes([["steady", "yes"]]);
    const next = await restarted.run();
    assert.deepEqual(next.published, ["steady"]);
    const steady = await p.visible("steady");
    assert.deepEqual(
      steady.options.map((o) => o.count),
      [2, 1],
    );
    await assertMatchesSql(p.h, steady, OPTIONS);
    assert.equal(await rawJson("busy"), busyBefore);
  });

  test("a registry edit republishes with a new version but the same change counter", async () => {
    const before = await p.visible("steady");
    await request(p.h.app)
      .patch("/v1/polls/steady")
      .set(ADMIN)
      .send({ title: "Steady, renamed" })
      .expect(200);
    const summary = await p.publisher.run();
    assert.deepEqual(summary.published, ["steady"]);
    const after = await p.visible("steady");
    assert.equal(after.title, "Steady, renamed");
    assert.notEqual(after.version, before.version);
    assert.equal(changeSeqOf(after.version), changeSeqOf(before.version));
    assert.deepEqual(after.options, before.options);
    assert.deepEqual(after.distribution, before.distribution);
  });

  test("several rounds of votes: every run equals the SQL count", async () => {
    const rounds: [string, string][][] = [
      [
        ["busy", "yes"],
        ["steady", "no"],
        ["steady", "no"],
      ],
      [["busy", "no"]],
      [
        ["steady", "yes"],
        ["steady", "yes"],
        ["busy", "yes"],
        ["busy", "no"],
      ],
    ];
    for (const round of rounds) {
      await votes(round);
      const summary = await p.publisher.run();
      assert.deepEqual(
        [...summary.published].sort(),
        [...new Set(round.map(([pollId]) => pollId))].sort(),
      );
      for (const pollId of ["steady", "busy"])
        await assertMatchesSql(p.h, await p.visible(pollId), OPTIONS);
    }
  });

  test("a batch that commits after a newer one was published is not missed", async () => {
    // older (smaller transaction id) and newer overlap; the newer commits first and is
    // published; the older commits afterwards and must be read by the next run.
    const older = await openWriterTransaction(p.h.db.pool, "steady", "yes", 3);
    try {
      const newer = await openWriterTransaction(p.h.db.pool, "busy", "no", 2);
      await newer.commit();
      const first = await p.publisher.run();
      assert.deepEqual(first.published, ["busy"], "the older batch is not visible yet");
      await older.commit();
    } finally {
      await older.rollback();
    }
    const second = await p.publisher.run();
    assert.deepEqual(second.published, ["steady"]);
    const steady = await p.visible("steady");
    assert.deepEqual(
      steady.options.map((o) => o.count),
      [7, 3],
    );
    await assertMatchesSql(p.h, steady, OPTIONS);
    await assertMatchesSql(p.h, await p.visible("busy"), OPTIONS);
  });

  test("a poll that opens or closes by the clock is republished with its new status", async () => {
    // The run's clock is ResultsPublisher.run(nowMs): no test waits for real time to pass.
    const publisher = new ResultsPublisher({
      pool: p.h.db.pool,
      redis: p.h.redis,
      keyPrefix: p.h.names.redisKeyPrefix,
      chartWidth: 800,
      chartHeight: 600,
      distributionWindowHours: DEFAULT_DISTRIBUTION_WINDOW_HOURS,
      chartRender: "all",
      chartDemandTtlMs: 60_000,
      logger: createLogger("silent"),
      metrics: createPublisherMetrics(),
    });
    const now = Date.now();
    await createPoll(p.h.app, {
      id: "window",
      opensAt: isoFromNow(minutes(60)),
      closesAt: isoFromNow(minutes(120)),
    });
    await createPoll(p.h.app, {
      id: "sealed",
      closesAt: isoFromNow(minutes(120)),
      resultsVisibility: "after_close",
    });
    const statusAt = async (nowMs: number) => {
      const summary = await publisher.run(nowMs);
      const window = await p.published("window");
      const sealed = await p.published("sealed");
      return {
        published: [...summary.published].sort(),
        window: [window.status, window.hidden],
        sealed: [sealed.status, sealed.hidden],
      };
    };
    assert.deepEqual(await statusAt(now), {
      published: ["sealed", "window"],
      window: ["not_open", false],
      sealed: ["open", true],
    });
    assert.deepEqual(await statusAt(now), {
      published: [],
      window: ["not_open", false],
      sealed: ["open", true],
    });
    const notOpen = (await p.published("window")).version;
    assert.deepEqual(await statusAt(now + minutes(90)), {
      published: ["window"],
      window: ["open", false],
      sealed: ["open", true],
    });
    const open = (await p.published("window")).version;
    assert.notEqual(open, notOpen);
    assert.deepEqual(await statusAt(now + minutes(180)), {
      published: ["sealed", "window"],
      window: ["closed", false],
      sealed: ["closed", false],
    });
    assert.notEqual((await p.published("window")).version, open);
    assert.deepEqual(await statusAt(now + minutes(181)), {
      published: [],
      window: ["closed", false],
      sealed: ["closed", false],
    });
  });
  test("a poll deleted and created again between two runs starts from its new votes", async () => {
    // Earlier tests wrote some votes directly: count from the database.
    stored = (
      await p.h.db.pool.query<{ n: number }>(
        "select count(*) as n from votes v where exists (select 1 from polls p where p.id = v.poll_id)",
      )
    ).rows[0]!.n;
    await createPoll(p.h.app, { id: "reborn" });
    await votes([
      ["reborn", "yes"],
      ["reborn", "yes"],
      ["reborn", "no"],
    ]);
    await p.publisher.run();
    assert.equal((await p.visible("reborn")).totalVotes, 3);
    await request(p.h.app)
      .patch("/v1/polls/reborn")
      .set(ADMIN)
      .send({ archived: true })
      .expect(200);
    await request(p.h.app).delete("/v1/polls/reborn").set(ADMIN).expect(200);
    stored -= 3;
    // The id is free again once a writer has purged the old poll's votes (migration 031).
    await drainPollPurges(p.h.db.pool);
    await createPoll(p.h.app, { id: "reborn" });
    await votes([["reborn", "no"]]);
    await p.publisher.run();
    const reborn = await p.visible("reborn");
    assert.equal(reborn.totalVotes, 1);
    assert.deepEqual(
      reborn.options.map((o) => [o.id, o.count]),
      [
        ["yes", 0],
        ["no", 1],
      ],
    );
  });

  test("an after_close poll's publication does not move with its votes until it closes", async () => {
    // Its version, asOf and announcements would otherwise count the batches: a tally leak.
    await createPoll(p.h.app, {
      id: "secret",
      closesAt: isoFromNow(minutes(60)),
      resultsVisibility: "after_close",
    });
    await votes([["secret", "yes"]]);
    const first = await p.publisher.run();
    assert.ok(first.published.includes("secret"));
    const keys = resultsKeys(p.h.names.redisKeyPrefix, "secret");
    const hiddenJson = await rawJson("secret");
    assert.ok(hiddenJson !== null);
    const hidden = JSON.parse(hiddenJson) as HiddenResults;
    assert.equal(hidden.hidden, true);
    assert.equal(hidden.asOf, null, "no time of the last vote while hidden");
    assert.doesNotMatch(hidden.version, /^\d+-/, "no change counter in a hidden version");
    await log.settle();
    log.take();

    for (const round of [
      [
        ["secret", "yes"],
        ["secret", "no"],
      ],
      [["secret", "no"]],
    ] as [string, string][][]) {
      await votes(round);
      const summary = await p.publisher.run();
      assert.deepEqual(summary.published, [], "votes alone do not republish a hidden poll");
      assert.equal(await rawJson("secret"), hiddenJson, "the same document, byte for byte");
      assert.equal(await p.h.redis.get(keys.version), hidden.version);
      await log.settle();
      assert.deepEqual(log.take(), [], "nothing announced");
    }
    // A restarted publisher agrees: the hidden version does not depend on the votes.
    const restarted = await p.restartPublisher();
    assert.ok(!(await restarted.firstRun)?.published.includes("secret"));

    await request(p.h.app)
      .patch("/v1/polls/secret")
      .set(ADMIN)
      .send({ closesAt: isoFromNow(-minutes(1)) })
      .expect(200);
    const closed = await restarted.run();
    assert.deepEqual(closed.published, ["secret"]);
    const shown = await p.visible("secret");
    assert.equal(shown.status, "closed");
    assert.deepEqual(
      shown.options.map((o) => o.count),
      [2, 2],
    );
    await assertMatchesSql(p.h, shown, OPTIONS);
    await log.settle();
    assert.deepEqual(log.take(), [{ pollId: "secret", version: shown.version }]);
  });

  test("counts, version and asOf come from one snapshot when a batch commits mid-run", async () => {
    await createPoll(p.h.app, { id: "torn" });
    const earlier = await openWriterTransaction(p.h.db.pool, "torn", "yes", 2);
    await earlier.commit();
    const asOf = await changedAt(p.h, "torn");
    // This batch commits after the run has read poll_changes but before it reads the rollups.
    // Holding vote_rollups exclusively makes any reader of it wait for this commit.
    const midRun = await openWriterTransaction(p.h.db.pool, "torn", "no", 3, {
      lock: "vote_rollups in access exclusive mode",
    });
    await runAcrossCommit(
      p.h.db.pool,
      "vote_rollups",
      midRun,
      () => p.publisher.run(),
      "the run waits to read vote_rollups",
    );
    const torn = await p.visible("torn");
    assert.deepEqual(
      torn.options.map((o) => o.count),
      [2, 0],
      "only the votes of the change marker the run read",
    );
    assert.equal(changeSeqOf(torn.version), 1);
    assert.equal(torn.asOf, asOf.toISOString());

    const next = await p.publisher.run();
    assert.deepEqual(next.published, ["torn"], "the mid-run batch is published next");
    const after = await p.visible("torn");
    assert.deepEqual(
      after.options.map((o) => o.count),
      [2, 3],
    );
    assert.equal(changeSeqOf(after.version), 2);
    await assertMatchesSql(p.h, after, OPTIONS);
  });
});
