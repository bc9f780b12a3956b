import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { runNode } from "../harness/child-processes.ts";
import { eventually } from "../harness/waiting.ts";
import { type LocalServer, listenLocally } from "../test-support/http-listen.ts";
import {
  type InProcessPublisher,
  startPublisherInProcess,
} from "../test-support/in-process-publisher.ts";
import { type InProcessWriter, startWriterInProcess } from "../test-support/in-process-writer.ts";
import { ADMIN_TOKEN, type IngestHarness, startIngestHarness } from "../test-support/ingest.ts";
import { writerEnv } from "../test-support/service-env.ts";
import { personDaySeed, planPersonDay, SCHOOL_DAY } from "./simulator/attendance-day.ts";
import { pastSchoolDays } from "./simulator/attendance-registers.ts";
import type { AttendanceSimSummary } from "./simulator/attendance-simulation.ts";
import { seed } from "./simulator/seeding.ts";

// The simulator's attendance days: what a school's day looks like (the generator's
// properties over many people), and a small run against the real pipeline that
// `npm run verify` passes: every event stored once, every published day document equal
// to the same day computed from the raw events (migration 022).

describe("attendance days: the generator", () => {
  const N = 20_000;
  const plans = Array.from({ length: N }, (_, n) =>
    planPersonDay(personDaySeed(42, "school-0001", n + 1, 0)),
  );
  const come = plans.filter((p) => !p.absent);
  const MIN = 60_000;
  const bell = SCHOOL_DAY.bell * MIN;

  test("a check-in before every check-out; a few never check out", () => {
    for (const p of come) if (p.outMs !== null) assert.ok(p.outMs > p.inMs, JSON.stringify(p));
    const forgot = come.filter((p) => p.outMs === null).length / come.length;
    assert.ok(forgot > 0.01 && forgot < 0.03, `forgot ${forgot}`);
    // The afternoon: most leave after dismissal, a few at lunch.
    const afterDismissal = come.filter(
      (p) => p.outMs !== null && p.outMs >= SCHOOL_DAY.dismissal * MIN,
    );
    assert.ok(afterDismissal.length / come.length > 0.9);
  });

  test("~5 % absent, with no event at all", () => {
    const absent = (N - come.length) / N;
    assert.ok(absent > 0.04 && absent < 0.06, `absent ${absent}`);
  });

  test("arrivals around the bell, with a late tail", () => {
    const around = come.filter((p) => Math.abs(p.inMs - bell) <= 40 * MIN).length / come.length;
    assert.ok(around > 0.9, `within 40 min of the bell: ${around}`);
    const late = come.filter((p) => p.inMs > bell + 15 * MIN);
    const share = late.length / come.length;
    assert.ok(share > 0.04 && share < 0.08, `late ${share}`);
    assert.ok(late.every((p) => p.late));
    assert.ok(
      late.some((p) => p.inMs > bell + 60 * MIN),
      "a tail beyond an hour late",
    );
    assert.ok(
      late.every((p) => p.inMs <= bell + 195 * MIN + 1000),
      "cut at three hours",
    );
    // Nobody is late by the flag without arriving after bell + 15.
    assert.equal(come.filter((p) => p.late).length, late.length);
  });

  test("a few fevers, temperatures at one decimal", () => {
    const fevers = come.filter((p) => p.fever);
    const share = fevers.length / come.length;
    assert.ok(share > 0.005 && share < 0.015, `fever ${share}`);
    for (const p of fevers) assert.ok(p.temperatureC !== null && p.temperatureC >= 38);
    for (const p of come)
      if (p.temperatureC !== null)
        assert.equal(Math.round(p.temperatureC * 10) / 10, p.temperatureC);
    assert.ok(come.filter((p) => !p.fever).every((p) => (p.temperatureC ?? 0) < 38));
  });

  test("the same seed draws the same day; the days played are past weekdays", () => {
    assert.deepEqual(planPersonDay(personDaySeed(42, "school-0001", 7, 0)), plans[6]);
    const monday = Date.parse("2026-12-07T12:00:00Z");
    assert.deepEqual(pastSchoolDays(monday, "Europe/London", 3), [
      "2026-12-02",
      "2026-12-03",
      "2026-12-04",
    ]);
  });
});

describe("attendance days: simulate, then verify", () => {
  let h: IngestHarness;
  let server: LocalServer;
  let writer: InProcessWriter;
  let publisher: InProcessPublisher;
  let dir: string;
  let env: Record<string, string>;

  before(async () => {
    h = await startIngestHarness();
    server = await listenLocally(h.app);
    const wEnv = writerEnv(h.names, h.db.url, { BATCH_LINGER_MS: "100" });
    writer = await startWriterInProcess(wEnv);
    publisher = await startPublisherInProcess(
      {
        ...wEnv,
        REDIS_KEY_PREFIX: h.names.redisKeyPrefix,
        RESULTS_INTERVAL_MS: "1000",
        PUBLISHER_METRICS_PORT: "0",
        SHUTDOWN_DEADLINE_MS: "5000",
      },
      { scheduled: true },
    );
    dir = await mkdtemp(join(tmpdir(), "tf-att-sim-"));
    env = {
      ...wEnv,
      REDIS_KEY_PREFIX: h.names.redisKeyPrefix,
      ADMIN_TOKEN,
      API_URL: server.url,
      LOG_LEVEL: "silent",
    };
  });
  after(async () => {
    await publisher?.close();
    await writer?.close();
    await server?.close();
    await h?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("two school days at two schools' doors: every event stored once, the documents equal the events", async () => {
    const file = join(dir, "kiosks.json");
    await seed({
      apiUrl: server.url,
      adminToken: ADMIN_TOKEN,
      kiosks: 6,
      file,
      schools: 2,
      people: 80,
    });
    await eventually("the API knows both rosters", () => h.people.people === 160);
    const run = await runNode(
      "scripts/simulate.ts",
      [
        ...["--file", file, "--runs", join(dir, "runs"), "--kiosks", "6"],
        ...["--attendance-days", "2", "--rate", "400", "--offline", "20%", "--batch", "20"],
        ...["--linger", "200ms", "--seed", "11", "--json"],
      ],
      env,
      60_000,
    );
    assert.equal(run.code, 0, run.stderr);
    const s = JSON.parse(run.stdout) as AttendanceSimSummary;
    assert.equal(s.schools, 2);
    assert.equal(s.refused, 0, JSON.stringify(s.refusedByCode));
    assert.equal(s.uncertain, 0);
    assert.equal(s.accepted, s.eventsSent);
    assert.ok(s.plan.events.late > 0, "an offline kiosk's check-ins sent late");
    assert.ok(s.plan.absent > 0 && s.plan.late > 0);

    const verify = await runNode(
      "scripts/verify.ts",
      [s.runFile, "--drain-timeout", "30s", "--publish-timeout", "30s"],
      env,
      90_000,
    );
    assert.equal(verify.code, 0, `${verify.stdout}\n${verify.stderr}`);
    assert.match(verify.stdout, /VERIFY PASSED/);
    assert.match(verify.stdout, /attendance documents school-0001: ok \(2 days\)/);
    assert.match(verify.stdout, /every published attendance document agrees with the events/);

    // The late check-ins were stored with their morning castAt, hours before they arrived.
    const { rows } = await h.db.pool.query<{ n: number; dup: number }>(
      `select count(*) filter (where received_at - cast_at > interval '3 hours') as n,
              count(*) - count(distinct (poll_id, voter_id, option_id, cast_at)) as dup
       from votes v join polls p on p.id = v.poll_id where p.kind = 'attendance'`,
    );
    assert.ok(rows[0]!.n >= s.plan.events.late);
    assert.equal(rows[0]!.dup, 0);
  });
});
