import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { killChild, killChildren } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { advisoryLockHolders } from "../test-support/advisory-locks.ts";
import { createPoll } from "../test-support/api.ts";
import { metricSample } from "../test-support/metrics-scrape.ts";
import { type ResultsPipeline, startResultsPipeline } from "../test-support/results-pipeline.ts";
import {
  leaderGauge,
  type PublisherChild,
  spawnPublisher,
} from "../test-support/service-children.ts";

const INTERVAL_MS = 1_000;

async function metric(child: PublisherChild, name: string): Promise<number | undefined> {
  const res = await fetch(`http://127.0.0.1:${child.metricsPort}/metrics`);
  return metricSample(await res.text(), name);
}

describe("publisher leader election", () => {
  let p: ResultsPipeline;
  let stored = 0;
  const children: PublisherChild[] = [];
  /** One batch (one writer transaction, so one publication at most). */
  const votes = async (...optionIds: string[]) => {
    await p.voteBatch(optionIds.map((optionId) => ({ pollId: "failover", optionId })));
    stored += optionIds.length;
    await p.stored(stored);
  };
  const counts = async () => {
    const raw = await p.h.redis.get(`${p.h.names.redisKeyPrefix}results:failover:json`);
    if (raw === null) return undefined;
    const doc = JSON.parse(raw) as { options: { count: number }[] };
    return doc.options.map((o) => o.count).join(",");
  };
  /** Backends holding an advisory lock in this file's database. */
  const lockHolders = async () =>
    (await advisoryLockHolders(p.h.db.pool)).map((r) => r.application_name);

  before(async () => {
    p = await startResultsPipeline({ RESULTS_INTERVAL_MS: String(INTERVAL_MS) });
    // Only the two child processes compete for the lock here.
    await p.publisher.close();
    await createPoll(p.h.app, { id: "failover" });
  });
  after(async () => {
    await killChildren();
    await p?.close();
  });

  test("two publisher processes: exactly one leads and publishes", async () => {
    await votes("yes");
    // No RESULTS_CRON: the schedule is derived from the 1-second interval.
    const env = { ...p.publisherEnv, RESULTS_CRON: "" };
    children.push(await spawnPublisher(env), await spawnPublisher(env));
    const [a, b] = children as [PublisherChild, PublisherChild];

    // Wait until one of them has completed two runs as leader.
    const leader = await eventually(
      "one publisher completed two runs as leader",
      async () => {
        for (const child of [a, b])
          if (((await metric(child, "tallyflow_publisher_runs_total")) ?? 0) >= 2) return child;
        return undefined;
      },
      { timeoutMs: 20_000 },
    );
    const standby = leader === a ? b : a;
    assert.equal(await leaderGauge(leader), 1);
    assert.equal(await leaderGauge(standby), 0);
    assert.equal(await metric(standby, "tallyflow_publisher_runs_total"), 0);
    assert.equal(await metric(standby, "tallyflow_publisher_publications_total"), 0);
    assert.equal(await metric(leader, "tallyflow_publisher_publications_total"), 1);
    assert.deepEqual(await lockHolders(), ["result-publisher-lock"], "one lock, one holder");
    assert.equal(await counts(), "1,0");
  });

  test("kill -9 the leader: the standby takes over and publishes new votes", async () => {
    const [a, b] = children as [PublisherChild, PublisherChild];
    const leader = (await leaderGauge(a)) === 1 ? a : b;
    const standby = leader === a ? b : a;
    assert.equal(await leaderGauge(standby), 0);

    await killChild(leader);
    assert.equal(leader.process.signalCode, "SIGKILL");
    // Postgres ends the dead process's session and frees its lock; the standby takes it at
    // one of its next ticks (every INTERVAL_MS). The wait is generous: what is checked is
    // that the standby takes over by itself, not how soon.
    await eventually(
      "the standby becomes the leader",
      async () => ((await leaderGauge(standby)) === 1 ? true : undefined),
      { timeoutMs: 20_000 },
    );
    assert.deepEqual(await lockHolders(), ["result-publisher-lock"]);

    await votes("no", "no");
    await eventually("the new leader publishes the new votes", async () =>
      (await counts()) === "1,2" ? true : undefined,
    );
    assert.ok(((await metric(standby, "tallyflow_publisher_runs_total")) ?? 0) >= 1);
    // It republished only what changed since the dead leader's last publication.
    assert.equal(await metric(standby, "tallyflow_publisher_publications_total"), 1);
  });
});
