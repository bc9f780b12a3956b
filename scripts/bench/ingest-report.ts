import { availableParallelism, cpus, totalmem } from "node:os";
import { benchCommand } from "./command-line.ts";
import type { ProfileSummary } from "./cpu-profile.ts";
import type { IngestSettings } from "./ingest-settings.ts";
import { medianRun } from "./load.ts";
import {
  ratioText,
  ratioVerdict,
  type Verdict,
  valueVerdict,
  verdictLines,
  verdictWord,
} from "./verdict.ts";

// The Markdown report of `npm run bench:ingest`: the API against the bare reference
// server, the batch endpoint, CPU cost per request, every run, and the CPU profiles.

export type Target = "reference" | "api" | "batch";
export type Kind = "max" | "fixed-rate" | "profiled";

export interface Run {
  target: Target;
  kind: Kind;
  round: number;
  okPerSecond: number;
  /** votes/s: equals okPerSecond for single votes, × batch size for batches. */
  votesPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  ok: number;
  failed: number;
  statusCodes: string;
  /** 2xx answers whose body did not say every vote was accepted. */
  notAccepted: number;
  /** Messages JetStream holds after the run (stream purged before it). */
  streamMessages: number;
  /** Connections of the load: at most this many requests were in flight when it stopped. */
  connections: number;
  cpu: Record<string, number>;
  machineBusyPct: number;
  /** CPU used by everything not watched (kernel threads, other processes), % of one core. */
  restCpuPct: number;
  /** Discarded because something else loaded the machine; repeated. */
  disturbed: boolean;
}

export const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 10 ? n.toFixed(1) : int(n));
const pct = (n: number | undefined) => (n === undefined ? "" : `${int(n)} %`);

/**
 * Why JetStream's count does not show one message per accepted request, or undefined
 * when it does: at least one message per 2xx answer (each vote or batch here is one
 * message), and at most one more per request that got no 2xx (failed, or still in flight
 * when the load stopped, whose publish may still have landed).
 */
export function streamMismatch(r: Run): string | undefined {
  if (r.streamMessages < r.ok)
    return `${int(r.ok - r.streamMessages)} fewer messages than 2xx answers`;
  const unanswered = r.failed + r.connections;
  if (r.streamMessages > r.ok + unanswered)
    return `${int(r.streamMessages - r.ok)} more messages than 2xx answers, of ${int(unanswered)} requests without one`;
  return undefined;
}

export interface Profile {
  target: Target;
  okPerSecond: number;
  summary: ProfileSummary;
}

/** What the report says about the run besides the measurements. */
export interface IngestContext {
  settings: IngestSettings;
  /** Load average (1, 5, 15 min) before the run. */
  loadBefore: readonly number[];
  env: NodeJS.ProcessEnv;
}

/** The Markdown report: the medians against the targets, CPU cost, every run, profiles. */
export function ingestReport(
  { settings, loadBefore, env }: IngestContext,
  runs: Run[],
  discarded: Run[],
  profiles: Profile[],
): string {
  const of = (t: Target, kind: Kind = "max") =>
    runs.filter((r) => r.target === t && r.kind === kind);
  const ref = medianRun(of("reference"));
  const api = medianRun(of("api"));
  const batch = medianRun(of("batch"));
  const ratio = api.okPerSecond / ref.okPerSecond;
  const failed = runs.reduce((n, r) => n + r.failed + r.notAccepted, 0);
  const cores = availableParallelism();
  const all = (t: Target) =>
    of(t)
      .map((r) => int(r.okPerSecond))
      .join(" / ");
  const checked = [...runs, ...discarded];
  const mismatched = checked.filter((r) => streamMismatch(r) !== undefined);
  const verdicts: Verdict[] = [
    ratioVerdict(
      `single votes, API / reference req/s (medians of ${settings.rounds} round${settings.rounds === 1 ? "" : "s"})`,
      ratio,
      "≥",
      0.9,
    ),
    valueVerdict(
      "batch votes/s through `POST /v1/votes/batch` (median run)",
      batch.votesPerSecond,
      "≥",
      150_000,
      (n) => `${int(n)} votes/s`,
    ),
    {
      what: 'answers that were not 2xx and "accepted" (errors and timeouts included), every run',
      measured: int(failed),
      target: "0",
      met: failed === 0,
    },
    {
      what: "JetStream holds one message per accepted request, every run",
      measured: `${checked.length - mismatched.length} of ${checked.length} runs match`,
      target: "every run",
      met: mismatched.length === 0,
    },
  ];
  const [ratioV, batchV, failedV, streamV] = verdicts as [Verdict, Verdict, Verdict, Verdict];
  const target = (v: Verdict) => `${v.target}: ${v.met ? "met" : `**${verdictWord(false)}**`}`;
  const disturbed = (r: Run) => r.kind !== "profiled" && r.restCpuPct > settings.maxRestCpuPct;
  const stillDisturbed = runs.filter(disturbed);
  const lines: string[] = [
    "| | |",
    "|---|---|",
    `| Machine | ${cores} cores, ${cpus()[0]?.model.trim() ?? "unknown CPU"}, ${int(totalmem() / 2 ** 30)} GiB RAM; NATS, Redis, Postgres on the same machine |`,
    `| Node | ${process.version} |`,
    `| Date | ${new Date().toISOString()} |`,
    `| Load average before the run | ${loadBefore.map((l) => l.toFixed(2)).join(", ")} (1, 5, 15 min) |`,
    `| Command | \`${benchCommand("bench:ingest", env, [])}\` |`,
    `| Load | autocannon in the bench process; ${settings.connections} connections, pipelining 1, one vote per request (fresh eventId); ${settings.rounds} × ${settings.durationS} s per server, alternating reference/API, after ${settings.warmupS} s warmup; batch: ${settings.batchConnections} connections × ${settings.batchSize} votes, ${settings.batchDurationS} s |`,
    "",
    "| Metric | Result | Target |",
    "|---|---:|---|",
    `| Reference (bare \`node:http\` + JetStream publish) req/s | ${int(ref.okPerSecond)} (median; runs ${all("reference")}) | |`,
    `| Reference p99 latency | ${ms(ref.p99Ms)} ms (p50 ${ms(ref.p50Ms)} ms) | |`,
    `| API \`POST /v1/votes\` req/s | ${int(api.okPerSecond)} (median; runs ${all("api")}) | |`,
    `| API p99 latency | ${ms(api.p99Ms)} ms (p50 ${ms(api.p50Ms)} ms) | |`,
    `| API / reference req/s (medians) | ${ratioText(ratio)} | ${target(ratioV)} |`,
    `| Batch \`POST /v1/votes/batch\` votes/s | ${int(batch.votesPerSecond)} (${batch.okPerSecond.toFixed(1)} req/s, p99 ${ms(batch.p99Ms)} ms) | ${target(batchV)} |`,
    `| Non-2xx, errors, timeouts, bodies not "accepted" | ${failed === 0 ? "0 (every response was 2xx and accepted)" : `**${int(failed)}: this run had errors, see the runs table**`} | ${target(failedV)} |`,
    `| JetStream messages per accepted request (see the runs table) | ${mismatched.length === 0 ? "one per accepted request in every run" : `**${mismatched.length} runs do not match: ${mismatched.map((r) => streamMismatch(r)).join("; ")}**`} | ${target(streamV)} |`,
    `| Runs discarded (other processes used > ${settings.maxRestCpuPct} % CPU) and repeated | ${discarded.length}${stillDisturbed.length > 0 ? `; **${stillDisturbed.length} kept although still disturbed after ${settings.retries} retries: these numbers are unreliable**` : ""} | 0 |`,
  ];

  const fixed = (["reference", "api"] as const).flatMap((t) => of(t, "fixed-rate"));
  if (fixed.length > 0) {
    const perReq = (r: Run, name: string) =>
      r.cpu[name] === undefined ? "" : `${int((r.cpu[name] * 10_000) / r.okPerSecond)} µs`;
    const perVote = (batch.cpu.server ?? 0) * (10_000 / batch.votesPerSecond);
    lines.push(
      "",
      `CPU cost per request at a fixed ${int(settings.fixedRate)} req/s (below saturation, so`,
      "contention does not distort it; CPU time ÷ requests):",
      "",
      "| Server | 2xx/s | p99 ms | server CPU / req | nats-server CPU / req | generator CPU / req |",
      "|---|---:|---:|---:|---:|---:|",
      ...fixed.map(
        (r) =>
          `| ${r.target} | ${int(r.okPerSecond)} | ${ms(r.p99Ms)} | ${perReq(r, "server")} | ${perReq(r, "nats-server")} | ${perReq(r, "autocannon (bench)")} |`,
      ),
      `| API batch (saturated run above) | ${int(batch.votesPerSecond)} votes/s | ${ms(batch.p99Ms)} | ${perVote.toFixed(1)} µs per vote | | |`,
    );
  }

  lines.push(
    "",
    "Every run, with what JetStream holds afterwards (the stream is purged before each run and",
    "counted once it holds still; it must hold at least one message per 2xx answer, and at most",
    "one more per request without one: failed, or in flight when autocannon stopped) and CPU",
    `use in % of one core (${cores} cores = ${cores * 100} %; "rest" is the kernel's own threads`,
    "and any other process):",
    "",
  );
  const table = checked;
  const cpuNames = [...new Set(table.flatMap((r) => Object.keys(r.cpu)))];
  lines.push(
    `| Run | 2xx/s | p99 ms | 2xx | failed | status codes | messages in stream | one per accepted request | ${cpuNames.map((n) => `CPU ${n}`).join(" | ")} | CPU rest | CPU machine |`,
    `|---|---:|---:|---:|---:|---|---:|---|${cpuNames.map(() => "---:|").join("")}---:|---:|`,
  );
  for (const r of table) {
    const name =
      r.kind === "max"
        ? `${r.target} #${r.round}`
        : r.kind === "fixed-rate"
          ? `${r.target} @ ${int(settings.fixedRate)} req/s`
          : `${r.target} (profiled)`;
    const msgs =
      r.target === "batch"
        ? `${int(r.streamMessages)} (× ${settings.batchSize} votes)`
        : int(r.streamMessages);
    lines.push(
      `| ${name}${r.disturbed ? " (discarded: disturbed)" : disturbed(r) ? " (**disturbed, kept**)" : ""} | ${int(r.okPerSecond)} | ${ms(r.p99Ms)} | ${int(r.ok)} | ${r.failed + r.notAccepted} | ${r.statusCodes} | ${msgs} | ${streamMismatch(r) === undefined ? "yes" : `**no: ${streamMismatch(r)}**`} | ${cpuNames.map((n) => pct(r.cpu[n])).join(" | ")} | ${pct(r.restCpuPct)} | ${pct(r.machineBusyPct)} |`,
    );
  }

  for (const p of profiles) {
    lines.push(
      "",
      `CPU profile, ${p.target} workload (\`--cpu-prof\` on a separate server child, file in artifacts/cpu-prof/${p.target}/; ${int(p.okPerSecond)} req/s under the profiler; busy ${int(p.summary.busyMs)} ms of ${int(p.summary.wallMs)} ms wall):`,
      "",
      "| Self time by package | % of busy |",
      "|---|---:|",
      ...p.summary.byPackage.slice(0, 15).map((x) => `| ${x.name} | ${x.pct.toFixed(1)} |`),
      "",
      "| Top self-time functions | % of busy |",
      "|---|---:|",
      ...p.summary.topFunctions.map((x) => `| \`${x.name}\` | ${x.pct.toFixed(1)} |`),
    );
  }
  lines.push("", ...verdictLines(verdicts));
  return `${lines.join("\n")}\n`;
}
