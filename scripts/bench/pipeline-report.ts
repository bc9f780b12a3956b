import { readFile, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import { fmtInt, fmtMs } from "../simulator/stats.ts";
import type { Individual } from "./individual.ts";
import type { PipelineOptions } from "./pipeline-options.ts";
import { type LoadRun, STALL_MS } from "./pipeline-run.ts";
import type { Resources } from "./resources.ts";
import { MAX_P99_MS, type Step } from "./step-verdict.ts";

// The Markdown of `npm run bench`: its section of BENCHMARKS.md, against the targets of
// the design (5 kiosks × 1,500 single votes/s; a day of 10 million votes in 10 minutes).

const TARGET_SINGLE = 5 * 1_500;
const DAY_VOTES = 10_000_000;
const DAY_SECONDS = 600;
const SECTION = "## Whole pipeline (`npm run bench`)";
const INDIVIDUAL_HEADING = "Individual benchmarks";
const BENCHMARKS_MD = join(REPO_ROOT, "BENCHMARKS.md");

export interface PipelineResults {
  machine: string;
  options: PipelineOptions;
  steps: Step[];
  batchRun: LoadRun | undefined;
  batchError: string | undefined;
  individual: Individual[];
}

const pctCore = (n: number | undefined) => (n === undefined ? "–" : `${n.toFixed(0)} %`);
const mb = (n: number | undefined) =>
  n === undefined || Number.isNaN(n) ? "–" : `${fmtInt(n)} MB`;
const verdict = (ok: boolean) => (ok ? "met" : "missed");
const passed = (run: LoadRun) => (run.verify.ok ? "passed" : "FAILED");

export function duration(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds - m * 60);
  return m > 0 ? `${m} min ${s} s` : `${s} s`;
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

function commandLine(o: PipelineOptions): string {
  const command = `npm run bench -- --steps ${o.stepsText} --step-seconds ${o.stepSeconds} --kiosks ${o.kiosks} --batch-votes ${o.batchVotes} --batch-kiosks ${o.batchKiosks} --writers ${o.writers} --ingest ${o.ingests}`;
  return `Command: \`${o.skipIndividual ? command.replace("--steps", "--skip-individual --steps") : command}\``;
}

function stepRow(s: Step): string {
  const r = s.run;
  const drained = r.stalledBacklog === undefined ? `${r.drainS.toFixed(1)} s` : "stalled";
  return `| ${fmtInt(s.rate)} | ${fmtInt(r.summary.votesPerSecond)} | ${fmtMs(r.summary.latencyMs.p50)} / ${fmtMs(r.summary.latencyMs.p99)} | ${r.summary.errors} | ${fmtInt(s.maxBacklog)} / ${fmtInt(s.endBacklog)} | ${fmtInt(s.slope)}/s | ${drained} | ${passed(r)} | ${s.why} |`;
}

function batchRows(b: LoadRun): string[] {
  const votesPerS = b.summary.accepted / b.pipelineS;
  const daySeconds = DAY_VOTES / votesPerS;
  const measured = b.summary.votesCast >= DAY_VOTES;
  return [
    `| batches (1,000 votes each): votes/s end to end | ${fmtInt(votesPerS)} (ingest alone ${fmtInt(b.summary.votesPerSecond)}) | ≥ ${fmtInt(DAY_VOTES / DAY_SECONDS)} | ${verdict(votesPerS >= DAY_VOTES / DAY_SECONDS)} |`,
    `| ${fmtInt(DAY_VOTES)} votes (a day of the reference design) ingested → stored → published | ${duration(daySeconds)} ${measured ? "(measured)" : `(projected from ${fmtInt(b.summary.votesCast)} votes measured in ${duration(b.pipelineS)})`} | < 10 min | ${verdict(daySeconds < DAY_SECONDS)} |`,
    `| zero loss in the batch run (\`verify\`) | ${passed(b)} (${fmtInt(b.verify.eventIds)} votes) | pass | ${verdict(b.verify.ok)} |`,
  ];
}

function batchParagraph(b: LoadRun, batchKiosks: number): string {
  const drained =
    b.stalledBacklog === undefined
      ? `the writers finished ${b.drainS.toFixed(1)} s after the last batch`
      : `the writers stalled ${b.drainS.toFixed(1)} s after the last batch, holding ${fmtInt(b.stalledBacklog)} messages without progress for ${STALL_MS / 1000} s`;
  const refused =
    Object.entries(b.summary.refusedByCode)
      .map(([c, n]) => `${c} ${fmtInt(n)}`)
      .join(", ") || "none";
  return `Batch run: ${fmtInt(b.summary.votesCast)} votes from ${batchKiosks} kiosks in batches of 1,000 (one batch in flight per kiosk), voter ids on the check-in poll. Ingest took ${duration(b.summary.castingS + b.summary.drainS)} (${fmtInt(b.summary.votesPerSecond)} votes/s, p99 ${fmtMs(b.summary.latencyMs.p99)} ms per batch); the backlog peaked at ${fmtInt(Math.max(0, ...b.samples.map((x) => x.backlog)))} messages; ${drained}; verify (which also waits for the publisher) took ${(b.verify.seconds.publish + b.verify.seconds.check).toFixed(1)} s more. ${fmtInt(b.summary.accepted)} votes accepted, ${fmtInt(b.summary.refused)} refused (${refused}), ${b.summary.errors} errors.`;
}

function endToEnd(r: PipelineResults): string[] {
  const { options: o, steps, batchRun: b } = r;
  const best = [...steps].reverse().find((s) => s.sustained);
  const lines = [
    `Every component runs as its own process on this machine: ingest API (${o.ingests}${o.ingests > 1 ? ", on ports of their own, the simulator spreading its kiosks over them" : ""}), batch writer (${o.writers}), result publisher (1), with NATS, Postgres and Redis, and the kiosk simulator generating the load (also on this machine, its CPU shown below).`,
    "",
    "| measure | result | target | |",
    "| --- | ---: | --- | --- |",
    `| sustained single-vote requests/s, end to end (accepted → stored → published, backlog flat, 0 errors) | ${best ? fmtInt(best.rate) : "none of the steps"} | ≥ ${fmtInt(TARGET_SINGLE)} (5 × 1,500) | ${verdict(best !== undefined && best.rate >= TARGET_SINGLE)} |`,
    ...(best
      ? [
          `| latency at that rate, p50 / p99 | ${fmtMs(best.run.summary.latencyMs.p50)} / ${fmtMs(best.run.summary.latencyMs.p99)} ms | | |`,
          `| zero loss at that rate (\`verify\`: every 202 stored once, nothing extra, published totals = SQL) | ${passed(best.run)} (${fmtInt(best.run.verify.eventIds)} votes) | pass | ${verdict(best.run.verify.ok)} |`,
        ]
      : []),
    ...(b ? batchRows(b) : r.batchError ? [`| batches | failed: ${r.batchError} | | |`] : []),
    "",
    `Single-vote ramp (${o.kiosks} kiosks, ${o.stepSeconds} s per step, 64 keep-alive connections, 1 % of responses "dropped" and resent, voter ids on the check-in poll; backlog = the writer consumer's pending + unacked messages, sampled every second). A step is sustained when it has no errors, the generator stays within 3 % of the target, p99 ≤ ${fmtInt(MAX_P99_MS)} ms, the backlog does not grow (slope over the second half ≤ 2 % of the rate, or less than a second of votes at the end), the writers drain it (a backlog that does not move for ${STALL_MS / 1000} s after the load is a stall, and fails the step), and verify passes. The ramp ends at the first step that is not sustained:`,
    "",
    "| target req/s | achieved | p50 / p99 ms | errors | backlog max / end | backlog slope | drain after | verify | verdict |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ...steps.map(stepRow),
    "",
  ];
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

function individualPart(r: PipelineResults): string[] {
  return [
    `${INDIVIDUAL_HEADING}, run first in the same invocation` +
      (r.options.fullIndividual
        ? ":"
        : " (bench:results and bench:reports with 2 million stored votes instead of their default 10 million, to keep the whole run near half an hour; `--full-individual` runs their defaults):"),
    "",
    "| command | exit | time |",
    "| --- | ---: | ---: |",
    ...r.individual.map((i) => `| \`${i.command}\` | ${i.code} | ${duration(i.seconds)} |`),
    "",
    ...r.individual.flatMap((i) => [`### \`${i.command}\``, "", i.output || "(no output)", ""]),
  ];
}

/** The section `previous` (a BENCHMARKS.md) holds, or "" when it has none. */
function sectionOf(previous: string): string {
  const start = previous.indexOf(SECTION);
  const next = start === -1 ? -1 : previous.indexOf("\n## ", start + SECTION.length);
  return start === -1 ? "" : previous.slice(start, next === -1 ? undefined : next);
}

/** End to end only: the individual benchmarks of the last full run, saying when. */
function keptIndividual(previous: string): string[] {
  const old = sectionOf(previous);
  const from = old.indexOf(INDIVIDUAL_HEADING);
  const when = /^Machine: .*$/m.exec(old)?.[0];
  if (from === -1 || !when) return [];
  const rest = old.slice(from + INDIVIDUAL_HEADING.length);
  const kept = /^ \(kept from the previous full `npm run bench`; ([^)]*)\)/.exec(rest);
  const whenText = kept?.[1] ?? when.replace(/^Machine: /, "");
  const tail = kept ? rest.slice(kept[0].length) : rest;
  return [
    `${INDIVIDUAL_HEADING} (kept from the previous full \`npm run bench\`; ${whenText})${tail}`.trimEnd(),
    "",
  ];
}

/** The section's body (without its heading); reads BENCHMARKS.md for what it keeps. */
export async function pipelineSection(r: PipelineResults): Promise<string> {
  const lines: string[] = [r.machine, commandLine(r.options), ""];
  if (r.steps.length > 0 || r.batchRun) lines.push(...endToEnd(r));
  if (r.individual.length > 0) lines.push(...individualPart(r));
  if (r.individual.length === 0 && !r.options.onlyIndividual)
    lines.push(...keptIndividual(await readFile(BENCHMARKS_MD, "utf8").catch(() => "")));
  return lines.join("\n");
}

/** The section with its heading, as printed on stdout. */
export function sectionText(body: string): string {
  return `${SECTION}\n\n${body}\n`;
}

/** Replaces (or appends) the section in BENCHMARKS.md. */
export async function writeSection(body: string): Promise<void> {
  let text = await readFile(BENCHMARKS_MD, "utf8").catch(() => "# Benchmarks\n");
  const start = text.indexOf(SECTION);
  const section = `${SECTION}\n\n${body.trim()}\n`;
  if (start === -1) text = `${text.trimEnd()}\n\n${section}`;
  else {
    const next = text.indexOf("\n## ", start + SECTION.length);
    text = `${text.slice(0, start)}${section}${next === -1 ? "" : `\n${text.slice(next + 1)}`}`;
  }
  await writeFile(BENCHMARKS_MD, text.endsWith("\n") ? text : `${text}\n`);
}
