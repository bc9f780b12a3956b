import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { freePorts } from "../harness/ports.ts";
import { startPublisherInProcess } from "../test-support/in-process-publisher.ts";
import { startWriterInProcess } from "../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { pipelineWriterEnv, publisherEnv } from "../test-support/service-env.ts";

// `promtool check metrics` (Prometheus's linter: counters end in _total and nothing else
// does, units in base form, help on every metric) over what each service's metrics port
// serves. promtool comes with Debian's prometheus package (.ci/run installs it).

const promtool = spawnSync("promtool", ["--version"], { encoding: "utf8" });
const missing = promtool.error ? "promtool is not installed (apt-get install prometheus)" : "";

function lint(text: string): string {
  const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  assert.equal(run.error, undefined);
  return `${run.stdout}${run.stderr}`.trim();
}

async function scrape(port: number | undefined): Promise<string> {
  assert.ok(port, "the metrics port is on");
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  return res.text();
}

describe("promtool check metrics", { skip: missing || false }, () => {
  let h: IngestHarness;
  const closers: (() => Promise<void>)[] = [];
  let ports: number[];

  before(async () => {
    ports = await freePorts(3);
    h = await startIngestHarness({ API_METRICS_PORT: String(ports[0]) });
    closers.push(() => h.close());
  });
  after(async () => {
    for (const close of closers.reverse()) await close();
  });

  test("the API's /metrics passes", async () => {
    assert.equal(lint(await scrape(h.metricsPort)), "");
  });

  test("the writer's /metrics passes", async () => {
    const writer = await startWriterInProcess({
      ...pipelineWriterEnv(h.names, h.db.url, h.config.natsUrl),
      WRITER_METRICS_PORT: String(ports[1]),
    });
    closers.push(() => writer.close());
    assert.equal(lint(await scrape(writer.metricsPort)), "");
  });

  test("the publisher's /metrics passes", async () => {
    const publisher = await startPublisherInProcess(
      publisherEnv(h.names, h.db.url, { PUBLISHER_METRICS_PORT: String(ports[2]) }),
    );
    closers.push(() => publisher.close());
    await publisher.firstRun;
    assert.equal(lint(await scrape(publisher.metricsPort)), "");
  });
});
