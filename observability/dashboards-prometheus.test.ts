import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import request from "supertest";
import { freePorts } from "../harness/ports.ts";
import { eventually } from "../harness/waiting.ts";
import { createKiosk, createPoll } from "../test-support/api.ts";
import { PG_BASE_URL } from "../test-support/database.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import {
  type Exporter,
  type PrometheusServer,
  startExporter,
  startPrometheus,
} from "../test-support/prometheus-server.ts";
import { pipelineWriterEnv, publisherEnv } from "../test-support/service-env.ts";
import { publishRaw } from "../test-support/vote-messages.ts";

// The dashboards against a real Prometheus (Debian's package) scraping the running
// services and the engines' exporters: every panel's query returns data, so no panel
// queries a metric that does not exist (or a label it does not have). The alert rules are
// loaded too: each evaluates without error on real series, and the one this traffic
// should raise (a dead letter) does.

const DASHBOARDS = join(import.meta.dirname, "grafana", "dashboards");
const RULES = join(import.meta.dirname, "prometheus", "rules", "tallyflow-alerts.yml");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const BINARIES = [
  "prometheus",
  "prometheus-postgres-exporter",
  "prometheus-redis-exporter",
  "prometheus-node-exporter",
];

const missing = BINARIES.filter((b) =>
  (process.env.PATH ?? "").split(":").every((dir) => !existsSync(join(dir, b))),
);
const skip =
  missing.length > 0 ? `not installed: ${missing.join(", ")} (.ci/run installs them)` : "";

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
}

/** Every panel's query of every committed dashboard: dashboard › panel › expr. */
function panelQueries(): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  for (const file of readdirSync(DASHBOARDS).filter((f) => f.endsWith(".json"))) {
    const dashboard = JSON.parse(readFileSync(join(DASHBOARDS, file), "utf8")) as {
      panels: Panel[];
    };
    for (const panel of dashboard.panels)
      for (const target of panel.targets ?? [])
        out.push({ where: `${file} › ${panel.title}`, expr: target.expr });
  }
  return out;
}

describe("dashboards against a real Prometheus", { skip: skip || false }, () => {
  let h: IngestHarness;
  let writer: InProcessWriter;
  let publisher: InProcessPublisher;
  let prometheus: PrometheusServer;
  const exporters: Exporter[] = [];
  /** The metrics ports of the API, the writer and the publisher. */
  let ports: number[] = [];

  before(async () => {
    ports = await freePorts(3);
    const [apiPort, writerPort, publisherPort] = ports as [number, number, number];
    h = await startIngestHarness({ API_METRICS_PORT: String(apiPort) });
    writer = await startWriterInProcess({
      ...pipelineWriterEnv(h.names, h.db.url, h.config.natsUrl),
      WRITER_METRICS_PORT: String(writerPort),
    });
    publisher = await startPublisherInProcess(
      publisherEnv(h.names, h.db.url, {
        NATS_URL: h.config.natsUrl,
        REDIS_URL: h.config.redisUrl,
        // Stale after 3 intervals: 6 s, room for a slow run on a loaded machine.
        RESULTS_INTERVAL_MS: "2000",
        PUBLISHER_METRICS_PORT: String(publisherPort),
      }),
      { scheduled: true },
    );
    exporters.push(
      await startExporter(
        "prometheus-postgres-exporter",
        (port) => [`--web.listen-address=127.0.0.1:${port}`],
        { DATA_SOURCE_NAME: `${PG_BASE_URL}/${h.names.database}?sslmode=disable` },
      ),
      await startExporter("prometheus-redis-exporter", (port) => [
        `-web.listen-address=127.0.0.1:${port}`,
        `-redis.addr=${REDIS_URL}`,
      ]),
      await startExporter("prometheus-node-exporter", (port) => [
        `--web.listen-address=127.0.0.1:${port}`,
      ]),
    );
    const [postgres, redis, node] = exporters as [Exporter, Exporter, Exporter];
    // The job names of observability/prometheus/prometheus.yml.
    prometheus = await startPrometheus(
      [
        { job: "ingest-api", targets: [`127.0.0.1:${apiPort}`] },
        { job: "batch-writer", targets: [`127.0.0.1:${writerPort}`] },
        { job: "result-publisher", targets: [`127.0.0.1:${publisherPort}`] },
        { job: "postgres", targets: [postgres.target] },
        { job: "redis", targets: [redis.target] },
        { job: "node", targets: [node.target] },
      ],
      [RULES],
    );
  });

  after(async () => {
    await prometheus?.close();
    for (const e of exporters) await e.close();
    await publisher?.close();
    await writer?.close();
    await h?.close();
  });

  test("every target is up", async () => {
    await eventually(
      "every target scraped and up",
      async () => {
        const { activeTargets } = await prometheus.api<{
          activeTargets: { labels: { job: string }; health: string; lastError: string }[];
        }>("targets");
        const down = activeTargets.filter((t) => t.health !== "up");
        return activeTargets.length === 6 && down.length === 0 ? true : undefined;
      },
      { timeoutMs: 20_000 },
    );
  });

  test("traffic: votes, refusals, a kiosk with votes waiting, a dead letter", async () => {
    await createPoll(h.app, { id: "lunch" });
    const kiosk = await createKiosk(h.app, "hall");
    const status = JSON.stringify({
      pending: 3,
      oldestPendingAt: new Date(Date.now() - 120_000).toISOString(),
      lastSentAt: new Date().toISOString(),
      refused: 1,
    });
    // Spread over several scrapes: a series born in the middle of a burst (a route's first
    // request) shows its rate only from its second sample on.
    for (let i = 0; i < 5; i++) {
      if (i > 0) await sleep(600);
      await request(h.app)
        .post("/v1/votes/batch")
        .set(kiosk.auth)
        .set("X-Kiosk-Status", status)
        .send({
          votes: [
            { eventId: randomUUID(), pollId: "lunch", optionId: "yes" },
            { eventId: randomUUID(), pollId: "lunch", optionId: "no" },
          ],
        })
        .expect(200);
      await request(h.app)
        .post("/v1/votes")
        .set(kiosk.auth)
        .send({ pollId: "lunch", optionId: "yes" })
        .expect(202);
    }
    // 4xx a dashboard splits: refused votes (an unknown option: 422) and no credentials (401).
    await request(h.app)
      .post("/v1/votes")
      .set(kiosk.auth)
      .send({ pollId: "lunch", optionId: "maybe" })
      .expect(422);
    await request(h.app).post("/v1/votes").send({ pollId: "lunch", optionId: "yes" }).expect(401);
    // A message no writer can read: stored as a dead letter (reason invalid).
    const nc = await connect({ servers: h.config.natsUrl, name: "dashboards-test" });
    try {
      await publishRaw(jetstream(nc), h.names.subjectPrefix, "lunch", "not a vote message");
    } finally {
      await nc.close();
    }
    await eventually("the writer stored the votes and the dead letter", async () => {
      const { rows } = await h.db.pool.query<{ votes: number; dead: number }>(
        "select (select count(*)::int from votes) as votes, (select count(*)::int from dead_letters) as dead",
      );
      return rows[0]!.votes === 15 && rows[0]!.dead === 1 ? true : undefined;
    });
  });

  test("after the traffic, every service's /metrics still passes promtool check metrics", async () => {
    // common/promtool-metrics.test.ts lints them at start; the traffic adds labelled series.
    for (const port of ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const run = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      assert.equal(run.error, undefined);
      assert.equal(`${run.stdout}${run.stderr}`.trim(), "", `port ${port}`);
    }
  });

  test("every dashboard panel's query returns data (a number, not NaN)", async () => {
    const queries = panelQueries();
    assert.ok(queries.length >= 40, `${queries.length} panel queries`);
    const empty: string[] = [];
    // Rates need two scrapes after the traffic: wait for the slowest, then ask each once more.
    await eventually(
      "the traffic's rates are in Prometheus",
      async () =>
        (
          await prometheus.query(
            'sum(increase(tallyflow_writer_votes_total{outcome="inserted"}[1m])) > 0',
          )
        ).length > 0,
      { timeoutMs: 20_000 },
    );
    // A sample is [time, "value"]; NaN is what a quantile or a ratio of nothing gives.
    const numbers = (r: unknown[]) =>
      r
        .map((s) => (s as { value?: [number, string] }).value?.[1] ?? (s as [number, string])[1])
        .filter((v) => v !== "NaN");
    for (const { where, expr } of queries) {
      const result = await eventually(
        `${where}: ${expr}`,
        async () => (numbers(await prometheus.query(expr)).length > 0 ? true : undefined),
        { timeoutMs: 5_000 },
      ).catch(() => undefined);
      if (result === undefined) empty.push(`${where}: ${expr}`);
    }
    assert.deepEqual(empty, [], "panels whose query returns nothing");
  });

  test("the alert rules evaluate on the real series; the dead letter raises its alert", async () => {
    const firing = await eventually(
      "TallyflowDeadLettersRising is active",
      async () => {
        const alerts = await prometheus.query("ALERTS");
        const names = (alerts as { metric: { alertname: string } }[]).map(
          (a) => a.metric.alertname,
        );
        return names.includes("TallyflowDeadLettersRising") ? names : undefined;
      },
      { timeoutMs: 20_000 },
    );
    // Nothing else is wrong with this pipeline. (The host's disk and memory are the test
    // machine's, not the pipeline's: their alerts are left out.)
    const host = new Set(["TallyflowDiskNearlyFull", "TallyflowMemoryNearlyFull"]);
    assert.deepEqual(
      [...new Set(firing)].filter((name) => !host.has(name)),
      ["TallyflowDeadLettersRising"],
    );
    const { groups } = await prometheus.api<{
      groups: { rules: { name: string; health: string; lastError?: string }[] }[];
    }>("rules");
    const rules = groups.flatMap((g) => g.rules);
    assert.ok(rules.length >= 12);
    assert.deepEqual(
      rules.filter((r) => r.health !== "ok").map((r) => `${r.name}: ${r.lastError}`),
      [],
    );
  });
});
