import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { metricSample } from "../test-support/metrics-scrape.ts";
import { publisherEnv } from "../test-support/service-env.ts";

// What an alert on stale results reads: when the leader last completed a run (the results
// are as of then) and how long one interval is. A standby has completed none.

describe("publisher metrics: how fresh the published results are", () => {
  let h: IngestHarness;
  const publishers: InProcessPublisher[] = [];

  before(async () => {
    h = await startIngestHarness();
  });
  after(async () => {
    for (const p of publishers) await p.close();
    await h?.close();
  });

  test("the leader's last run is now, the interval is the schedule's; the standby's last run is 0", async () => {
    const env = publisherEnv(h.names, h.db.url, { RESULTS_INTERVAL_MS: "2000" });
    const leader = await startPublisherInProcess(env, { scheduled: true });
    publishers.push(leader);
    const before = Date.now() / 1000;
    const summary = await leader.run();
    assert.ok(summary);
    const text = await leader.metrics.registry.metrics();
    const lastRun = metricSample(text, "tallyflow_publisher_last_run_timestamp_seconds")!;
    assert.ok(lastRun >= before && lastRun <= Date.now() / 1000, `last run ${lastRun}`);
    assert.equal(metricSample(text, "tallyflow_publisher_interval_seconds"), 2);
    assert.equal(metricSample(text, "tallyflow_publisher_is_leader"), 1);

    const standby = await startPublisherInProcess(
      publisherEnv(h.names, h.db.url, { RESULTS_CRON: "0 */5 * * * *" }),
      { scheduled: true },
    );
    publishers.push(standby);
    assert.equal(await standby.firstRun, undefined, "the lock is the leader's");
    const standbyText = await standby.metrics.registry.metrics();
    assert.equal(metricSample(standbyText, "tallyflow_publisher_last_run_timestamp_seconds"), 0);
    assert.equal(metricSample(standbyText, "tallyflow_publisher_interval_seconds"), 300);
    assert.equal(metricSample(standbyText, "tallyflow_publisher_is_leader"), 0);
  });
});
