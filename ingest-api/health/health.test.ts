import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import request from "supertest";
import { freePort } from "../../harness/ports.ts";
import { createKiosk, createPoll, type TestKiosk } from "../../test-support/api.ts";
import { ADMIN, type IngestHarness, startIngestHarness } from "../../test-support/ingest.ts";
import { metricSample } from "../../test-support/metrics-scrape.ts";
import { readIngestConfig } from "../config.ts";

describe("health and metrics", () => {
  let h: IngestHarness;
  let kiosk: TestKiosk;
  let metricsPort: number;

  const metrics = async () => {
    const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get("content-type")), /^text\/plain; version=0\.0\.4/);
    return res.text();
  };
  const sample = (text: string, name: string, labels: Record<string, string>) =>
    metricSample(text, name, labels) ?? 0;

  before(async () => {
    metricsPort = await freePort();
    h = await startIngestHarness({ API_METRICS_PORT: String(metricsPort) });
    await createPoll(h.app, { id: "metered" });
    kiosk = await createKiosk(h.app, "meter-kiosk");
  });
  after(() => h?.close());

  test("GET /healthz is 200", async () => {
    const res = await request(h.app).get("/healthz");
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { status: "ok" });
  });

  test("GET /readyz is 200 with every check ok", async () => {
    const res = await request(h.app).get("/readyz");
    assert.equal(res.status, 200, res.text);
    const { registryCacheAgeMs, ...rest } = res.body;
    assert.deepEqual(rest, {
      status: "ready",
      checks: { postgres: { ok: true }, nats: { ok: true }, redis: { ok: true } },
    });
    assert.equal(typeof registryCacheAgeMs, "number");
    assert.ok(registryCacheAgeMs >= 0);
  });

  test("/metrics is on a port of its own, on 127.0.0.1 unless configured, never the API's", async () => {
    assert.equal(h.metricsPort, metricsPort);
    const defaults = readIngestConfig({});
    assert.equal(defaults.metricsHost, "127.0.0.1");
    assert.equal(defaults.metricsPort, 9100);
    assert.notEqual(defaults.metricsPort, defaults.port);
    assert.equal((await request(h.app).get("/metrics")).status, 404);
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    assert.equal(health.status, 200, "the metrics port has a /healthz of its own");
  });

  test("GET /metrics is Prometheus text with the service's metrics", async () => {
    const text = await metrics();
    for (const name of [
      "tallyflow_votes_total",
      "tallyflow_http_requests_total",
      "tallyflow_http_request_duration_seconds",
      "tallyflow_publish_duration_seconds",
      "tallyflow_registry_cache_age_seconds",
    ])
      assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
    assert.match(text, /^# TYPE tallyflow_votes_total counter$/m);
    assert.match(text, /^# TYPE tallyflow_http_requests_total counter$/m);
    assert.notEqual(
      metricSample(text, "tallyflow_registry_cache_age_seconds", { service: "ingest-api" }),
      undefined,
    );
  });

  test("votes are counted by outcome and requests by route pattern and status", async () => {
    const before = await metrics();
    const post = (path: string, body: object, auth: Record<string, string> = kiosk.auth) =>
      request(h.app).post(path).set(auth).send(body);
    const eventId = "0190a5b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b";
    assert.equal(
      (await post("/v1/votes", { pollId: "metered", optionId: "yes", eventId })).status,
      202,
    );
    assert.equal(
      (await post("/v1/votes", { pollId: "metered", optionId: "yes", eventId })).status,
      202,
    );
    assert.equal((await post("/v1/votes", { pollId: "missing", optionId: "yes" })).status, 404);
    assert.equal((await post("/v1/votes", { pollId: "metered", optionId: "yes" }, {})).status, 401);
    const batch = await post("/v1/votes/batch", {
      votes: [
        { pollId: "metered", optionId: "yes" },
        { pollId: "metered", optionId: "no" },
        { pollId: "metered", optionId: "maybe" },
      ],
    });
    assert.equal(batch.status, 200);
    assert.equal((await request(h.app).get("/v1/polls/metered").set(ADMIN)).status, 200);
    assert.equal((await request(h.app).get("/v1/nothing-here")).status, 404);
    const after = await metrics();

    const delta = (name: string, labels: Record<string, string>) =>
      sample(after, name, labels) - sample(before, name, labels);
    const votes = (status: string) =>
      delta("tallyflow_votes_total", { status, service: "ingest-api" });
    assert.equal(votes("accepted"), 3);
    assert.equal(votes("duplicate"), 1);
    assert.equal(votes("refused"), 2);

    const requests = (method: string, route: string, status: string) =>
      delta("tallyflow_http_requests_total", { method, route, status });
    assert.equal(requests("POST", "/v1/votes", "202"), 2);
    assert.equal(requests("POST", "/v1/votes", "404"), 1);
    assert.equal(requests("POST", "/v1/votes", "401"), 1);
    assert.equal(requests("POST", "/v1/votes/batch", "200"), 1);
    // The route label is the pattern, never the raw path (bounded label values).
    assert.equal(requests("GET", "/v1/polls/:id", "200"), 1);
    assert.equal(
      metricSample(after, "tallyflow_http_requests_total", { route: "/v1/polls/metered" }),
      undefined,
    );
    assert.equal(requests("GET", "unmatched", "404"), 1);
    assert.ok(
      delta("tallyflow_http_request_duration_seconds_count", { route: "/v1/votes" }) >= 4,
      "request durations are observed",
    );
  });
});
