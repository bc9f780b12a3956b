import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { chartSeries } from "../common/browser/chart-look.js";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase, type Pool } from "../common/postgres.ts";
import { connectRedis, type RedisClient } from "../common/redis.ts";
import { type PublishedResults, resultsChannel, resultsKeys } from "../common/results-contract.ts";
import {
  type NodeChild,
  startNode,
  stopChild,
  waitUntilReady,
} from "../harness/child-processes.ts";
import { launchChromium } from "../harness/chromium.ts";
import { freePorts } from "../harness/ports.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { loadPolls } from "../result-publisher/published-version.ts";
import { visibleResults } from "../result-publisher/results.ts";
import { loadRollups } from "../result-publisher/rollup-store.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { unlinkKeysUnder } from "./bench/run-cleanup.ts";
import {
  ratioText,
  type Verdict,
  valueVerdict,
  verdictLines,
  verdictWord,
  within,
} from "./bench/verdict.ts";
import { intFlag, listFlag, readCli } from "./cli.ts";

// `npm run bench:scale [-- --rounds 3]`: the seeds' scale. The whole system runs
// as separate processes (ingest API, batch writer, two result publishers: leader and
// standby) on a database, stream and Redis prefix of its own, with 10,000 polls registered.
// Each section returns table rows, each row against its reference or target measured in
// the same run. Then it runs `scripts/bench-reads.ts` (results GET against the bare
// reference, registry writes at 10,000 polls, SSE clients held + vote p99) as a process of
// its own, after this system is stopped, and prints its tables after this one.

const USAGE = `usage: npm run bench:scale -- [--rounds N] [--polls N] [--levels A,B,C] [--skip-reads]
  --rounds N      freshness rounds per level (default 3)
  --polls N       registered polls (default 10000)
  --levels A,B    polls changing per interval, one level each (default 100,1000,5000)
  --skip-reads    do not run scripts/bench-reads.ts afterwards`;
const { ROUNDS, POLLS, LEVELS, SKIP_READS } = readCli(
  {
    usage: USAGE,
    options: {
      rounds: { type: "string", default: "3" },
      polls: { type: "string", default: "10000" },
      levels: { type: "string", default: "100,1000,5000" },
      "skip-reads": { type: "boolean", default: false },
    },
  },
  ({ values }) => ({
    ROUNDS: intFlag("rounds", values.rounds, { min: 1 }),
    POLLS: intFlag("polls", values.polls, { min: 100 }),
    LEVELS: listFlag("levels", values.levels, (n, t) => intFlag(n, t, { min: 1 })),
    SKIP_READS: values["skip-reads"],
  }),
);
const READ_POLLS = 20;
const HISTORY_OPTIONS = 100;
const HISTORY_VOTES = 3_000;
const INTERVAL_MS = 5_000;
const DASHBOARD_LOADS = 3;
const BATCH = 1_000;
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DB_URL = `${PG}/tallyflow_bench_scale`;
const PREFIX = "benchscale:";
const STREAM = "BENCH_SCALE";
const ADMIN = "bench-scale-admin";
const logger = createLogger("warn");

/** One line of the table. */
export interface ScaleRow {
  measure: string;
  value: string;
  /** The reference measured in this run, or the target. */
  reference: string;
  /** Against the reference (a ratio), or the verdict on the target: met or MISSED. */
  outcome: string;
}

/** Every section's verdicts, in order: the report ends with them. */
const verdicts: Verdict[] = [];

/** What a section gets: the running system. */
export interface ScaleContext {
  baseUrl: string;
  adminToken: string;
  kioskToken: string;
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  /** poll ids registered (10,000 by default): p00000… */
  pollIds: string[];
}

/** A part of the report: a name and a function returning its rows. */
export interface ScaleSection {
  name: string;
  run(ctx: ScaleContext): Promise<ScaleRow[]>;
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
const secs = (ms: number) => `${fmt(ms / 1000, 2)} s`;
const pollId = (i: number) => `p${String(i).padStart(5, "0")}`;
const log = (line: string) => process.stderr.write(`${line}\n`);

async function post(ctx: ScaleContext, path: string, token: string, body: unknown) {
  const res = await fetch(`${ctx.baseUrl}${path}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Record<string, unknown>;
}

/**
 * Votes in batches of BATCH, each with its eventId (a batch answered 503 is sent again:
 * the stream's duplicate window drops what was already taken); resolves with the time
 * each vote's batch was accepted.
 */
async function sendVotes(
  ctx: ScaleContext,
  votes: { pollId: string; optionId: string; castAt?: string }[],
  onAccepted: (batch: { pollId: string }[], atMs: number) => void = () => {},
): Promise<number[]> {
  const batches: { eventId: string; pollId: string; optionId: string; castAt?: string }[][] = [];
  for (let i = 0; i < votes.length; i += BATCH)
    batches.push(votes.slice(i, i + BATCH).map((v) => ({ eventId: randomUUID(), ...v })));
  const times = await Promise.all(
    batches.map(async (b) => {
      for (let attempt = 1; ; attempt++) {
        const res = await fetch(`${ctx.baseUrl}/v1/votes/batch`, {
          method: "POST",
          headers: {
            Authorization: `Bearer ${ctx.kioskToken}`,
            "Content-Type": "application/json",
          },
          body: JSON.stringify({ votes: b }),
        });
        const text = await res.text();
        const body = JSON.parse(text) as { accepted?: number; duplicates?: number };
        const taken = (body.accepted ?? 0) + (body.duplicates ?? 0) === b.length;
        if (res.status === 200 && taken) {
          const at = Date.now();
          onAccepted(b, at);
          return at;
        }
        // 503 (the stream did not confirm in time) or items refused for that reason.
        if (attempt >= 10) throw new Error(`batch: ${res.status} ${text.slice(0, 300)}`);
        await sleep(500);
      }
    }),
  );
  const accepted: number[] = [];
  batches.forEach((b, i) => {
    for (let k = 0; k < b.length; k++) accepted.push(times[i]!);
  });
  return accepted;
}

// --- freshness at 100 / 1,000 / 5,000 polls changing per interval ----------------------

/**
 * Every interval one vote to each of N polls (kiosk batches); the time from a vote's
 * acceptance to the announcement of a version that includes it (totalVotes tells), and
 * for READ_POLLS polls that screens read (GET results.png every second) the time until a
 * PNG of such a version is in Redis.
 */
function freshness(leaderMetricsPort: () => Promise<number>): ScaleSection {
  return {
    name: "freshness",
    async run(ctx) {
      const rows: ScaleRow[] = [];
      const subscriber = await connectRedis(REDIS_URL, logger, "bench-scale-sub");
      const sent = new Map<string, number>(); // votes sent per poll so far
      /** poll → accept times of votes not yet seen published (JSON), and (read polls) PNG. */
      const pendingJson = new Map<string, { n: number; at: number }[]>();
      const pendingPng = new Map<string, { n: number; at: number }[]>();
      /** poll → the highest totalVotes seen announced (JSON) and drawn (PNG). */
      const seenJson = new Map<string, number>();
      const seenPng = new Map<string, number>();
      let jsonLat: number[] = [];
      let pngLat: number[] = [];
      /** JSON freshness of the read polls alone: what their PNG's is compared with. */
      let readJsonLat: number[] = [];
      const readPolls = new Set(ctx.pollIds.slice(0, READ_POLLS));
      const settle = (
        pending: Map<string, { n: number; at: number }[]>,
        seen: Map<string, number>,
        id: string,
        total: number,
        at: number,
        into: number[],
      ) => {
        seen.set(id, Math.max(seen.get(id) ?? 0, total));
        const list = pending.get(id);
        while (list && list.length > 0 && list[0]!.n <= total) {
          const ms = Math.max(0, at - list.shift()!.at);
          into.push(ms);
          if (into === jsonLat && readPolls.has(id)) readJsonLat.push(ms);
        }
      };
      /** A vote accepted: pending until a publication includes it (or one already did). */
      const expect = (
        pending: Map<string, { n: number; at: number }[]>,
        seen: Map<string, number>,
        id: string,
        entry: { n: number; at: number },
        into: number[],
      ) => {
        if ((seen.get(id) ?? 0) >= entry.n) into.push(0);
        else pending.set(id, [...(pending.get(id) ?? []), entry]);
      };
      const watchPng = async (id: string, version: string, total: number) => {
        const keys = resultsKeys(ctx.keyPrefix, id);
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
          const [v, has] = await ctx.redis.multi().get(keys.version).exists(keys.png).execTyped();
          if (v !== version) return; // superseded: the next version's PNG settles these votes
          if (has === 1) return settle(pendingPng, seenPng, id, total, Date.now(), pngLat);
          await sleep(50);
        }
      };
      /** While the section runs: the screens read, and a failed read is worth a line. */
      let reading = true;
      await subscriber.subscribe(resultsChannel(ctx.keyPrefix), (message) => {
        const at = Date.now();
        const { pollId: id, version } = JSON.parse(message) as { pollId: string; version: string };
        // Announcements and PNG watches still under way when the section ends (and the
        // client closes) only fail: they must not end the process.
        const late = (err: unknown) => {
          if (reading) log(`freshness: reading ${id}: ${String(err)}`);
        };
        void ctx.redis
          .get(resultsKeys(ctx.keyPrefix, id).json)
          .then((raw) => {
            if (raw === null) return;
            const doc = JSON.parse(raw) as PublishedResults;
            const total = doc.hidden ? 0 : doc.totalVotes;
            settle(pendingJson, seenJson, id, total, at, jsonLat);
            if (readPolls.has(id)) watchPng(id, version, total).catch(late);
          })
          .catch(late);
      });
      // Screens reading the PNG of the read polls (the demand the publishers follow).
      const readers = (async () => {
        while (reading) {
          await Promise.all(
            [...readPolls].map((id) =>
              fetch(`${ctx.baseUrl}/v1/polls/${id}/results.png`).then((r) => r.arrayBuffer()),
            ),
          );
          await sleep(1_000);
        }
      })();
      try {
        for (const level of LEVELS) {
          jsonLat = [];
          pngLat = [];
          readJsonLat = [];
          const leader = await leaderMetricsPort();
          const runsBefore = await publisherRuns(leader);
          const polls = ctx.pollIds.slice(0, level);
          log(`freshness: ${fmt(level)} polls changing per interval, ${ROUNDS} rounds...`);
          for (let round = 0; round < ROUNDS; round++) {
            const started = Date.now();
            const votes = polls.map((id) => ({ pollId: id, optionId: `o${round % 4}` }));
            await sendVotes(ctx, votes, (batch, at) => {
              for (const v of batch) {
                const n = (sent.get(v.pollId) ?? 0) + 1;
                sent.set(v.pollId, n);
                expect(pendingJson, seenJson, v.pollId, { n, at }, jsonLat);
                if (readPolls.has(v.pollId))
                  expect(pendingPng, seenPng, v.pollId, { n, at }, pngLat);
              }
            });
            await sleep(Math.max(0, INTERVAL_MS - (Date.now() - started)));
          }
          const deadline = Date.now() + 60_000;
          const unseen = (pending: Map<string, { n: number; at: number }[]>) =>
            [...pending.values()].reduce((a, l) => a + l.length, 0);
          while (unseen(pendingJson) + unseen(pendingPng) > 0 && Date.now() < deadline)
            await sleep(200);
          // A vote never seen published has no latency: it is counted apart, and any one
          // of them fails the verdict (the percentiles alone would hide it).
          const unseenJson = unseen(pendingJson);
          const unseenPng = unseen(pendingPng);
          let diagnosis = "";
          if (unseenJson > 0) {
            // Where the missing votes are: not stored yet, or stored and not published.
            const ids = [...pendingJson].filter(([, l]) => l.length > 0).map(([id]) => id);
            const { rows: stored } = await ctx.pool.query<{ n: number }>(
              "select count(*)::int as n from votes where poll_id = any($1)",
              [ids],
            );
            const sentThere = ids.reduce((a, id) => a + (sent.get(id) ?? 0), 0);
            diagnosis = ` (${ids.length} polls: ${fmt(sentThere)} sent, ${fmt(stored[0]!.n)} stored)`;
          }
          for (const l of [...pendingJson.values(), ...pendingPng.values()]) l.length = 0;
          const target = INTERVAL_MS + 1_000;
          const runsAfter = await publisherRuns(leader);
          const runMs =
            ((runsAfter.sum - runsBefore.sum) / Math.max(1, runsAfter.count - runsBefore.count)) *
            1000;
          jsonLat.sort((a, b) => a - b);
          pngLat.sort((a, b) => a - b);
          readJsonLat.sort((a, b) => a - b);
          const spread = (lat: number[]) =>
            `${secs(pct(lat, 50))} / ${secs(pct(lat, 95))} / ${secs(lat.at(-1) ?? Number.NaN)}`;
          const sentJson = jsonLat.length + unseenJson;
          const json: Verdict = {
            what: `freshness JSON, ${fmt(level)} polls changing per interval: p95 of the votes seen published, and the votes never seen published within 60 s`,
            measured: `p95 ${secs(pct(jsonLat, 95))}, ${fmt(unseenJson)} of ${fmt(sentJson)} votes unseen`,
            target: `p95 ≤ ${secs(target)} (interval + 1 s), none unseen`,
            met: within(pct(jsonLat, 95), "≤", target) && unseenJson === 0,
          };
          verdicts.push(json);
          rows.push({
            measure: `freshness JSON, ${fmt(level)} polls changing: p50 / p95 / max of the ${fmt(jsonLat.length)} votes seen published, of ${fmt(sentJson)}`,
            value: `${spread(jsonLat)}${unseenJson > 0 ? `; **${fmt(unseenJson)} votes never seen published in 60 s**${diagnosis}` : ""}`,
            reference: `target p95 ≤ ${secs(target)} (interval + 1 s), every vote seen published`,
            outcome: `${verdictWord(json.met)} (leader's run: ${fmt(runMs)} ms mean over ${runsAfter.count - runsBefore.count} runs)`,
          });
          // PNG: stated, not a target of its own: the JSON's freshness plus the drawing of
          // the queued charts (two publishers, CHART_WORKERS=1 each).
          rows.push({
            measure: `freshness PNG of the ${READ_POLLS} read polls, ${fmt(level)} changing: p50 / p95 / max of the ${fmt(pngLat.length)} votes seen drawn, of ${fmt(pngLat.length + unseenPng)}`,
            value: `${spread(pngLat)}${unseenPng > 0 ? `; **${fmt(unseenPng)} votes never seen in a PNG in 60 s**` : ""}`,
            reference: `their JSON: p50 ${secs(pct(readJsonLat, 50))}, p95 ${secs(pct(readJsonLat, 95))}`,
            outcome: `PNG ${secs(pct(pngLat, 50) - pct(readJsonLat, 50))} after the JSON (p50)`,
          });
        }
      } finally {
        reading = false;
        await readers;
        await subscriber.close();
      }
      return rows;
    },
  };
}

// --- the publisher's tick at 10,000 idle polls ------------------------------------------

async function publisherRuns(metricsPort: number): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const sample = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return {
    sum: sample("tallyflow_publisher_run_duration_seconds_sum"),
    count: sample("tallyflow_publisher_run_duration_seconds_count"),
  };
}

function idleTick(leaderMetricsPort: () => Promise<number>, metricsPorts: number[]): ScaleSection {
  return {
    name: "idle tick",
    async run(ctx) {
      log(`idle tick: ${fmt(ctx.pollIds.length)} polls, none changing, 4 intervals...`);
      await sleep(INTERVAL_MS * 2); // the freshness rounds' last publications
      const port = await leaderMetricsPort();
      const before = await publisherRuns(port);
      await sleep(INTERVAL_MS * 4);
      const after = await publisherRuns(port);
      const tickMs = ((after.sum - before.sum) / (after.count - before.count)) * 1000;
      // The reference: what every run read before (every poll's row with its options).
      const refs: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        await loadPolls(ctx.pool);
        refs.push(performance.now() - t);
      }
      refs.sort((a, b) => a - b);
      let renderSum = 0;
      let renderCount = 0;
      for (const p of metricsPorts) {
        const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
        const sample = (name: string) =>
          Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(text)?.[1] ?? 0);
        renderSum += sample("tallyflow_publisher_render_duration_seconds_sum");
        renderCount += sample("tallyflow_publisher_render_duration_seconds_count");
      }
      // One chart per changed poll and round is what a run drew before it followed
      // demand: counted from the rounds sent, not drawn in this run.
      const everyChanged = LEVELS.reduce((a, l) => a + l, 0) * ROUNDS;
      return [
        {
          measure: `charts drawn by both publishers (leader and standby) in the freshness rounds`,
          value: `${fmt(renderCount)} charts, ${fmt((renderSum / renderCount) * 1000)} ms each (mean)`,
          reference: `one per changed poll and round, **an estimate** (polls × rounds sent; not drawn in this run): ${fmt(everyChanged)} charts`,
          outcome: `estimate / drawn: ${ratioText(everyChanged / Math.max(1, renderCount))}`,
        },
        {
          measure: `publisher tick, ${fmt(ctx.pollIds.length)} idle polls (mean of ${after.count - before.count} runs)`,
          value: `${fmt(tickMs, 1)} ms`,
          reference: `full registry read alone (each run before), median of 3: ${fmt(refs[1]!, 1)} ms`,
          outcome: `tick / reference: ${ratioText(tickMs / refs[1]!)}`,
        },
      ];
    },
  };
}

// --- a back-dated 100-option poll: JSON size and dashboard load in Chromium ------------

/**
 * From navigation until the distribution chart has drawn its `bars` bars: the median of
 * DASHBOARD_LOADS loads, each in a fresh page (nothing cached between them).
 */
async function dashboardLoadMs(baseUrl: string, id: string, bars: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < DASHBOARD_LOADS; i++)
    times.push(await dashboardLoadOnceMs(baseUrl, id, bars));
  return times.sort((a, b) => a - b)[Math.floor(DASHBOARD_LOADS / 2)]!;
}

async function dashboardLoadOnceMs(baseUrl: string, id: string, bars: number): Promise<number> {
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    // Kept for the error: a page that never draws says why (a script error, a refused fetch).
    const problems: string[] = [];
    page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
    page.on("console", (m) => {
      if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    const started = performance.now();
    await page.goto(`${baseUrl}/dashboard/${id}`);
    // Polled with page.evaluate: waitForFunction compiles its predicate in the page, which
    // the page's CSP forbids.
    const drawn = `(() => { const c = document.getElementById("distribution-chart");
         const chart = globalThis.Chart?.getChart(c);
         return chart !== undefined && chart.data.labels.length === ${bars}; })()`;
    const deadline = Date.now() + 120_000;
    while (!(await page.evaluate<boolean>(drawn))) {
      if (Date.now() > deadline) {
        const labels = await page.evaluate<number | null>(
          `globalThis.Chart?.getChart(document.getElementById("distribution-chart"))?.data.labels.length ?? null`,
        );
        throw new Error(
          `the dashboard did not draw its chart of ${bars} bars in 120 s (chart labels: ${labels}); ${problems.slice(0, 5).join("; ") || "no page errors"}`,
        );
      }
      await sleep(20);
    }
    // One more frame: the chart's draw of that data has happened.
    await page.evaluate("new Promise((r) => requestAnimationFrame(() => r(undefined)))");
    const ms = performance.now() - started;
    await page.close();
    return ms;
  } finally {
    await browser.close();
  }
}

/**
 * Puts `json` in the poll's JSON key, its version key untouched (so the publishers, which
 * compare versions, leave it), and waits until the API serves exactly those bytes. The API
 * answers from its in-process copy: an announcement with a version other than the one it
 * holds makes it fetch the key again.
 */
async function serveJson(ctx: ScaleContext, id: string, json: string): Promise<void> {
  const keys = resultsKeys(ctx.keyPrefix, id);
  await ctx.redis.set(keys.json, json);
  await ctx.redis.publish(
    resultsChannel(ctx.keyPrefix),
    JSON.stringify({ pollId: id, version: `bench-swap-${randomUUID()}` }),
  );
  const expected = Buffer.byteLength(json);
  const deadline = Date.now() + 10_000;
  for (;;) {
    const served = await (await fetch(`${ctx.baseUrl}/v1/polls/${id}/results`)).arrayBuffer();
    if (served.byteLength === expected) return;
    if (Date.now() > deadline)
      throw new Error(
        `the API still serves ${served.byteLength} bytes, not the ${expected} put in Redis`,
      );
    await sleep(50);
  }
}

const backDated: ScaleSection = {
  name: "back-dated poll",
  async run(ctx) {
    const id = "history";
    log(`back-dated poll: ${HISTORY_OPTIONS} options, ${fmt(HISTORY_VOTES)} votes over 29 days...`);
    await post(ctx, "/v1/polls", ctx.adminToken, {
      id,
      title: "A month of votes",
      options: Array.from({ length: HISTORY_OPTIONS }, (_, i) => ({
        id: `o${i}`,
        label: `Option ${i}`,
      })),
    });
    const now = Date.now();
    const votes = Array.from({ length: HISTORY_VOTES }, (_, i) => ({
      pollId: id,
      optionId: `o${i % HISTORY_OPTIONS}`,
      // Spread over 29 days, the oldest first; the last 100 are cast now.
      castAt: new Date(
        i >= HISTORY_VOTES - 100 ? now : now - 29 * 86_400_000 * (1 - i / HISTORY_VOTES),
      ).toISOString(),
    }));
    await sendVotes(ctx, votes);
    const keys = resultsKeys(ctx.keyPrefix, id);
    let doc: PublishedResults | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const raw = await ctx.redis.get(keys.json);
      doc = raw === null ? undefined : (JSON.parse(raw) as PublishedResults);
      if (doc && !doc.hidden && doc.totalVotes === HISTORY_VOTES) break;
      await sleep(200);
    }
    if (!doc || doc.hidden || doc.totalVotes !== HISTORY_VOTES)
      throw new Error("the back-dated poll was not published");
    const bounded = (await ctx.redis.get(keys.json))!;
    // The reference: the same version without the window (what was published before).
    const poll = (await loadPolls(ctx.pool)).find((p) => p.id === id)!;
    const unboundedDoc = visibleResults(
      poll,
      await loadRollups(ctx.pool, id),
      Date.parse(doc.publishedAt),
      doc.chart,
      24 * 31,
    );
    const unbounded = JSON.stringify({ ...unboundedDoc, version: doc.version });
    const bars = (d: PublishedResults) =>
      d.hidden ? 0 : chartSeries(d.distribution, d.options).bars;
    const boundedMs = await dashboardLoadMs(ctx.baseUrl, id, bars(doc));
    // A 4-option poll with a few buckets: what any dashboard costs on this machine.
    const small = JSON.parse(
      (await ctx.redis.get(resultsKeys(ctx.keyPrefix, ctx.pollIds[0]!).json))!,
    );
    const smallMs = await dashboardLoadMs(ctx.baseUrl, ctx.pollIds[0]!, bars(small));
    // The unbounded document served under the same version for one load, then put back.
    await serveJson(ctx, id, unbounded);
    let unboundedMs: number;
    try {
      unboundedMs = await dashboardLoadMs(ctx.baseUrl, id, bars(unboundedDoc));
    } finally {
      await serveJson(ctx, id, bounded);
    }
    const load = valueVerdict(
      `back-dated ${HISTORY_OPTIONS}-option poll: dashboard load in Chromium (median of ${DASHBOARD_LOADS})`,
      boundedMs,
      "<",
      1_000,
      secs,
    );
    verdicts.push(load);
    return [
      {
        measure: `back-dated ${HISTORY_OPTIONS}-option poll: results JSON (${fmt(doc.distribution.buckets)} buckets)`,
        value: `${fmt(Buffer.byteLength(bounded) / 1024)} KB`,
        reference: `unbounded (${fmt(unboundedDoc.distribution.buckets)} buckets): ${fmt(Buffer.byteLength(unbounded) / 1024)} KB`,
        outcome: `bounded / unbounded bytes: ${ratioText(Buffer.byteLength(bounded) / Buffer.byteLength(unbounded))}`,
      },
      {
        measure: load.what,
        value: secs(boundedMs),
        reference: `target < ${secs(1_000)}; a 4-option poll: ${secs(smallMs)}; the unbounded document: ${secs(unboundedMs)}`,
        outcome: verdictWord(load.met),
      },
    ];
  },
};

// --- the system -------------------------------------------------------------------------

async function registerPolls(pool: Pool, n: number): Promise<string[]> {
  await pool.query(
    `insert into polls (id, slug, title)
     select 'p' || lpad(i::text, 5, '0'), 'p' || lpad(i::text, 5, '0'), 'Poll ' || i
     from generate_series(0, $1::int - 1) i`,
    [n],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p.id, 'o' || k, 'Option ' || k, k from polls p, generate_series(0, 3) k`,
  );
  return Array.from({ length: n }, (_, i) => pollId(i));
}

/** Runs the sections and prints the report; false when a section failed. */
async function main(): Promise<boolean> {
  const started = new Date();
  let complete = true;
  await dropDatabase(DB_URL);
  await ensureDatabase(DB_URL);
  const pool = createPool(DB_URL, logger, { max: 2 });
  await migrate(pool, logger);
  const redis = await connectRedis(REDIS_URL, logger, "bench-scale");
  const children: NodeChild[] = [];
  const [port, ...metricsPorts] = await freePorts(3);
  const env = {
    ...process.env,
    DATABASE_URL: DB_URL,
    NATS_URL,
    REDIS_URL,
    STREAM_NAME: STREAM,
    SUBJECT_PREFIX: "benchscale",
    CONSUMER_NAME: "bench_scale",
    REDIS_KEY_PREFIX: PREFIX,
    RESULTS_INTERVAL_MS: String(INTERVAL_MS),
    ADMIN_TOKEN: ADMIN,
    LOG_LEVEL: "warn",
    API_METRICS_PORT: "0",
    WRITER_METRICS_PORT: "0",
  };
  try {
    log(`registering ${fmt(POLLS)} polls...`);
    const pollIds = await registerPolls(pool, POLLS);
    const api = startNode("api", ["ingest-api/main.ts"], { ...env, PORT: String(port) });
    children.push(api, startNode("writer", ["batch-writer/main.ts"], env));
    for (const [i, metricsPort] of metricsPorts.entries())
      children.push(
        startNode(`publisher-${i}`, ["result-publisher/main.ts"], {
          ...env,
          PUBLISHER_METRICS_PORT: String(metricsPort),
        }),
      );
    const baseUrl = `http://127.0.0.1:${port}`;
    await waitUntilReady(api, `${baseUrl}/readyz`);
    const kiosk = (await (
      await fetch(`${baseUrl}/v1/kiosks`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ADMIN}`, "Content-Type": "application/json" },
        body: JSON.stringify({ id: "bench", name: "Bench" }),
      })
    ).json()) as { token: string };
    const ctx: ScaleContext = {
      baseUrl,
      adminToken: ADMIN,
      kioskToken: kiosk.token,
      pool,
      redis,
      keyPrefix: PREFIX,
      pollIds,
    };
    // The first run publishes every poll once; the sections start from there.
    log("waiting for the first publication of every poll...");
    const deadline = Date.now() + 120_000;
    for (;;) {
      const versions = await redis.mGet(
        pollIds.filter((_, i) => i % 97 === 0).map((id) => resultsKeys(PREFIX, id).version),
      );
      if (versions.every((v) => v !== null)) break;
      if (Date.now() > deadline) throw new Error("the polls were never published");
      await sleep(500);
    }
    const leaderPort = async () => {
      for (const p of metricsPorts) {
        const text = await (await fetch(`http://127.0.0.1:${p}/metrics`)).text();
        if (/^tallyflow_publisher_is_leader(?:\{[^}]*\})? 1$/m.test(text)) return p;
      }
      throw new Error("no publisher is the leader");
    };
    const sections: ScaleSection[] = [
      freshness(leaderPort),
      idleTick(leaderPort, metricsPorts),
      backDated,
    ];
    const rows: ScaleRow[] = [];
    for (const section of sections) {
      try {
        rows.push(...(await section.run(ctx)));
      } catch (err) {
        complete = false;
        rows.push({ measure: section.name, value: "failed", reference: "", outcome: String(err) });
        verdicts.push({
          what: `section "${section.name}"`,
          measured: `failed: ${err instanceof Error ? err.message : String(err)}`,
          target: "runs to its end",
          met: false,
        });
      }
    }
    const report = [
      machineLine(started),
      `Command: \`${benchCommand("bench:scale")}\``,
      "",
      "| measure | value | reference / target (same run) | outcome |",
      "| --- | --- | --- | --- |",
      ...rows.map((r) => `| ${r.measure} | ${r.value} | ${r.reference} | ${r.outcome} |`),
      "",
      ...verdictLines(verdicts),
    ];
    process.stdout.write(`${report.join("\n")}\n`);
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await unlinkKeysUnder(redis, PREFIX);
    await redis.close();
    await pool.end();
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for (const s of [STREAM, `${STREAM}_MAXDELIVER`])
      await jsm.streams.delete(s).catch(() => false);
    await nc.close();
    await dropDatabase(DB_URL);
  }
  return complete;
}

/** `scripts/bench-reads.ts` as a process of its own; its tables (stdout) follow ours. */
function runReadsBench(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["scripts/bench-reads.ts"], {
      cwd: REPO_ROOT,
      env: process.env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

// A section that failed is a failed run (exit 1), and so is a failed bench:reads.
let failed = !(await main());
if (!SKIP_READS) {
  process.stderr.write("[bench:scale] the read side: scripts/bench-reads.ts\n");
  failed = (await runReadsBench()) !== 0 || failed;
}
process.exitCode = failed ? 1 : 0;
