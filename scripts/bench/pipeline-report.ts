import { cpus } from "node:os";
import { fmtInt, fmtMs } from "../simulator/stats.ts";
import type { Individual } from "./individual.ts";
import type { PipelineOptions } from "./pipeline-options.ts";
import { type LoadRun, STALL_MS } from "./pipeline-run.ts";
import type { Resources } from "./resources.ts";
import { MAX_P99_MS, type Step } from "./step-verdict.ts";
import { type Verdict, valueVerdict, verdictLines, verdictText, verdictWord } from "./verdict.ts";

// The Markdown of `npm run bench`: the whole pipeline against the targets of the design
// (5 kiosks × 1,500 single votes/s; a day of 10 million votes stored and published in 4 minutes by 2 writers, issue #29),
// and the list
// of every bench the invocation ran. Every time in it is measured wall time.

const TARGET_SINGLE = 5 * 1_500;
const DAY_VOTES = 10_000_000;
const DAY_SECONDS = 240;

export interface PipelineResults {
  machine: string;
  /** The invocation as typed. */
  command: string;
  options: PipelineOptions;
  steps: Step[];
  batchRun: LoadRun | undefined;
  batchError: string | undefined;
  individual: Individual[];
  /** Wall time of the whole invocation so far, measured. */
  seconds: number;
}

const pctCore = (n: number | undefined) => (n === undefined ? "–" : `${n.toFixed(0)} %`);
const mb = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "–" : `${fmtInt(n)} MB`;
const passed = (run: LoadRun) => (run.verify.ok ? "passed" : "FAILED");

export function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
}

/** A run that did not do what it must (not a target missed): `npm run bench` exits 1. */
export function failures(r: PipelineResults): string[] {
  const found = r.individual
    .filter((i) => i.code !== 0)
    .map((i) => `\`${i.command}\` exited ${i.code}`);
  for (const s of r.steps) {
    if (s.run.stalledBacklog !== undefined) found.push(`${fmtInt(s.rate)} req/s: writers stalled`);
    if (!s.run.verify.ok) found.push(`${fmtInt(s.rate)} req/s: verify failed`);
  }
  if (r.batchError) found.push(`batch run: ${r.batchError}`);
  if (r.batchRun?.stalledBacklog !== undefined) found.push("batch run: writers stalled");
  if (r.batchRun && !r.batchRun.verify.ok) found.push("batch run: verify failed");
  return found;
}

function resourceTable(r: Resources, title: string): string[] {
  const rows = Object.keys(r.cpu).sort((a, b) => (r.cpu[b] ?? 0) - (r.cpu[a] ?? 0));
  return [
    title,
    "",
    "| process | CPU (% of one core) | share of the machine | peak RSS |",
    "| --- | ---: | ---: | ---: |",
    ...rows.map(
      (name) =>
        `| ${name} | ${pctCore(r.cpu[name])} | ${((r.cpu[name] ?? 0) / cpus().length).toFixed(0)} % | ${mb(r.peakRssMb[name])}${name === "postgres" ? " (largest backend)" : ""} |`,
    ),
    `| whole machine (busy) | ${pctCore(r.machineBusyPct)} | ${(r.machineBusyPct / cpus().length).toFixed(0)} % | |`,
  ];
}

function stepRow(s: Step): string {
  const r = s.run;
  const drained = r.stalledBacklog === undefined ? `${r.drainS.toFixed(1)} s` : "**stalled**";
  return `| ${fmtInt(s.rate)} | ${fmtInt(r.summary.votesPerSecond)} | ${fmtMs(r.summary.latencyMs.p50)} / ${fmtMs(r.summary.latencyMs.p99)} | ${r.summary.errors} | ${fmtInt(s.maxBacklog)} / ${fmtInt(s.endBacklog)} | ${fmtInt(s.slope)}/s | ${drained} | ${passed(r)} | ${duration(r.wallS)} | ${s.why} |`;
}

/** The verdicts of the pipeline's own runs. */
function pipelineVerdicts(r: PipelineResults): Verdict[] {
  const { steps, batchRun: b } = r;
  const verdicts: Verdict[] = [];
  if (steps.length > 0) {
    const best = [...steps].reverse().find((s) => s.sustained);
    verdicts.push(
      valueVerdict(
        "single votes sustained end to end (accepted → stored → published, backlog flat, no error, verify passed)",
        best?.rate ?? 0,
        "≥",
        TARGET_SINGLE,
        (n) => `${fmtInt(n)} req/s`,
      ),
      {
        what: "zero loss in every step of the ramp (verify: every 202 stored once, nothing extra, published totals = SQL)",
        measured: `${steps.filter((s) => s.run.verify.ok).length} of ${steps.length} steps passed`,
        target: "every step",
        met: steps.every((s) => s.run.verify.ok),
      },
    );
  }
  if (b) {
    const stalled = b.stalledBacklog !== undefined;
    if (b.summary.votesCast >= DAY_VOTES) {
      const day = valueVerdict(
        `${fmtInt(b.summary.votesCast)} votes in batches ingested → stored → published, elapsed wall time`,
        b.pipelineS,
        "<",
        DAY_SECONDS,
        duration,
      );
      verdicts.push(
        stalled || !b.verify.ok
          ? {
              ...day,
              measured: `${day.measured}, not all stored (${stalled ? "writers stalled" : "verify failed"})`,
              met: false,
            }
          : day,
      );
    }
    verdicts.push({
      what: "zero loss in the batch run (verify)",
      measured: `${passed(b)} (${fmtInt(b.verify.eventIds)} votes)`,
      target: "pass",
      met: b.verify.ok,
    });
  } else if (r.batchError)
    verdicts.push({
      what: "the batch run",
      measured: `failed: ${r.batchError}`,
      target: "runs to its end",
      met: false,
    });
  return verdicts;
}

function batchRows(b: LoadRun): string[] {
  const judged = b.summary.votesCast >= DAY_VOTES;
  const stalled = b.stalledBacklog !== undefined;
  return [
    `| batches (1,000 votes each): votes accepted ÷ the elapsed time below | ${fmtInt(b.summary.accepted / b.pipelineS)} votes/s (ingest alone ${fmtInt(b.summary.votesPerSecond)}) | | |`,
    `| ${fmtInt(b.summary.votesCast)} votes in batches ingested → stored → published: elapsed wall time from the simulator's start until the writers' backlog was empty, plus verify's wait for the publisher | ${duration(b.pipelineS)}${stalled ? " (**writers stalled**: not all stored)" : ""} | < ${duration(DAY_SECONDS)} for ${fmtInt(DAY_VOTES)} votes | ${judged ? verdictWord(!stalled && b.verify.ok && b.pipelineS < DAY_SECONDS) : `not judged: fewer than ${fmtInt(DAY_VOTES)} votes (\`--batch-votes ${DAY_VOTES}\`)`} |`,
    `| zero loss in the batch run (\`verify\`) | ${passed(b)} (${fmtInt(b.verify.eventIds)} votes) | pass | ${verdictWord(b.verify.ok)} |`,
  ];
}

function batchParagraph(b: LoadRun, batchKiosks: number): string {
  const drained =
    b.stalledBacklog === undefined
      ? `the writers finished ${b.drainS.toFixed(1)} s after the last batch`
      : `**the writers stalled** ${b.drainS.toFixed(1)} s after the last batch, holding ${fmtInt(b.stalledBacklog)} messages without progress for ${STALL_MS / 1000} s (a failed run)`;
  const refused =
    Object.entries(b.summary.refusedByCode)
      .map(([c, n]) => `${c} ${fmtInt(n)}`)
      .join(", ") || "none";
  return `Batch run: ${fmtInt(b.summary.votesCast)} votes from ${batchKiosks} kiosks in batches of 1,000 (one batch in flight per kiosk), voter ids on the check-in poll. Ingest took ${duration(b.summary.castingS + b.summary.drainS)} (${fmtInt(b.summary.votesPerSecond)} votes/s, p99 ${fmtMs(b.summary.latencyMs.p99)} ms per batch); the backlog peaked at ${fmtInt(Math.max(0, ...b.samples.map((x) => x.backlog)))} messages; ${drained}; verify waited ${b.verify.seconds.publish.toFixed(1)} s for the publisher and checked for ${b.verify.seconds.check.toFixed(1)} s. ${fmtInt(b.summary.accepted)} votes accepted, ${fmtInt(b.summary.refused)} refused (${refused}), ${b.summary.errors} errors. The whole run took ${duration(b.wallS)} of wall time, verify included.`;
}

function endToEnd(r: PipelineResults, verdicts: readonly Verdict[]): string[] {
  const { options: o, steps, batchRun: b } = r;
  const best = [...steps].reverse().find((s) => s.sustained);
  const single = steps.length > 0 ? verdicts[0] : undefined;
  const lines = [
    `Every component runs as its own process on this machine: ingest API (${o.ingests}${o.ingests > 1 ? ", on ports of their own, the simulator spreading its kiosks over them" : ""}), batch writer (${o.writers}), result publisher (1), with NATS, Postgres and Redis, and the kiosk simulator generating the load (also on this machine, its CPU shown below).`,
    "",
    "| measure | result | target | |",
    "| --- | ---: | --- | --- |",
    ...(single
      ? [
          `| sustained single-vote requests/s, end to end (accepted → stored → published, backlog flat, 0 errors) | ${best ? fmtInt(best.rate) : "none of the steps"} | ≥ ${fmtInt(TARGET_SINGLE)} (5 × 1,500) | ${verdictWord(single.met)} |`,
        ]
      : []),
    ...(best
      ? [
          `| latency at that rate, p50 / p99 | ${fmtMs(best.run.summary.latencyMs.p50)} / ${fmtMs(best.run.summary.latencyMs.p99)} ms | | |`,
          `| zero loss at that rate (\`verify\`: every 202 stored once, nothing extra, published totals = SQL) | ${passed(best.run)} (${fmtInt(best.run.verify.eventIds)} votes) | pass | ${verdictWord(best.run.verify.ok)} |`,
        ]
      : []),
    ...(b
      ? batchRows(b)
      : r.batchError
        ? [`| batches | failed: ${r.batchError} | | MISSED |`]
        : []),
    "",
  ];
  if (steps.length > 0)
    lines.push(
      `Single-vote ramp (${o.kiosks} kiosks, ${o.stepSeconds} s per step, 64 keep-alive connections, 1 % of responses "dropped" and resent, voter ids on the check-in poll; backlog = the writer consumer's pending + unacked messages, sampled every second). A step is sustained when it has no errors, the generator stays within 3 % of the target, p99 ≤ ${fmtInt(MAX_P99_MS)} ms, the backlog does not grow (slope over the second half ≤ 2 % of the rate, or less than a second of votes at the end), the writers drain it (a backlog that does not move for ${STALL_MS / 1000} s after the load is a stall: it fails the step and the run), and verify passes. The ramp ends at the first step that is not sustained. "Wall time" is the step's, measured, verify included:`,
      "",
      "| target req/s | achieved | p50 / p99 ms | errors | backlog max / end | backlog slope | drain after | verify | wall time | verdict |",
      "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |",
      ...steps.map(stepRow),
      "",
    );
  if (best)
    lines.push(
      ...resourceTable(
        best.run.resources,
        `Resource use at ${fmtInt(best.rate)} req/s (CPU over the step; peak RSS = VmHWM since start):`,
      ),
      "",
    );
  if (b)
    lines.push(
      batchParagraph(b, o.batchKiosks),
      "",
      ...resourceTable(b.resources, "Resource use during the batch run:"),
      "",
    );
  return lines;
}

/** Every bench of the invocation: command, exit code, wall time, and each verdict. */
export function invocationSummary(r: PipelineResults, ownVerdicts: readonly Verdict[]): string[] {
  const failed = failures(r);
  return [
    `\`${r.command}\` ran for ${duration(r.seconds)} of wall time (measured)${failed.length > 0 ? `; **failed: ${failed.join("; ")}**` : ""}.`,
    "",
    ...(r.individual.length > 0
      ? [
          "| bench | exit | wall time (measured) |",
          "| --- | ---: | ---: |",
          ...r.individual.map(
            (i) =>
              `| \`${i.command}\` | ${i.code}${i.code === 0 ? "" : " (**failed**)"} | ${duration(i.seconds)} |`,
          ),
          "",
        ]
      : []),
    "Every verdict of this invocation, as each report printed it (each bench's report is its section's latest run):",
    "",
    ...r.individual.flatMap((i) =>
      i.verdicts.length > 0
        ? i.verdicts.map((v) => `- \`${i.script}\`: ${v}`)
        : [`- \`${i.script}\`: no verdict printed${i.code === 0 ? " (no target)" : ""}`],
    ),
    ...ownVerdicts.map((v) => `- \`bench\` (whole pipeline): ${v.what}: ${verdictText(v)}`),
  ];
}

/** The whole pipeline's report: its runs, this invocation's benches, and its verdicts. */
export function pipelineReport(r: PipelineResults): string {
  const verdicts = pipelineVerdicts(r);
  const ran = r.steps.length > 0 || r.batchRun !== undefined || r.batchError !== undefined;
  return [
    r.machine,
    `Command: \`${r.command}\``,
    "",
    ...(ran ? endToEnd(r, verdicts) : []),
    ...invocationSummary(r, verdicts),
    ...(verdicts.length > 0 ? ["", ...verdictLines(verdicts)] : []),
  ].join("\n");
}

/** What `npm run bench` records as a bench's latest run: how it was run, then its report. */
export function individualReport(i: Individual, invocation: string, when: string): string {
  return [
    `Run by \`${invocation}\` on ${when}: \`${i.command}\`, exit ${i.code}, ${duration(i.seconds)} of wall time (measured).`,
    "",
    i.output || "(no output)",
  ].join("\n");
}
