import { spawn } from "node:child_process";
import { findReport, listReports } from "../report.ts";

// The analyst reports (sql/reports) as the benchmarks time them: the cases each runs on a
// database of bench:reports' shape (poll-01 in Europe/London, poll-02 in Asia/Kathmandu,
// the last polls check-ins), each run through psql the way an analyst runs it, one warm-up
// then the median of the timed runs. Shared by bench:reports and bench:history.

/** The polls' time zones, in turn (poll-01 Europe/London, poll-02 Asia/Kathmandu, …). */
export const REPORT_ZONES = [
  "Europe/London",
  "Asia/Kathmandu",
  "America/New_York",
  "Asia/Kolkata",
  "Australia/Sydney",
];

const PSQL = process.env.PSQL ?? "psql";
const pollId = (n: number) => `poll-${String(n).padStart(2, "0")}`;

export interface Case {
  report: string;
  label: string;
  vars: Record<string, string>;
  reads: string;
  targetMs: number;
}

/** Every report case at a shape of `polls` polls (the last ones check-in polls). */
export function reportCases(polls: number, nowMs = Date.now()): Case[] {
  const p = pollId(1); // Europe/London
  const nepal = pollId(2); // Asia/Kathmandu, +05:45
  const checkin = pollId(polls);
  const rollups = 100;
  const raw = 5_000;
  const day = new Date(nowMs - 10 * 86_400_000).toISOString().slice(0, 10);
  const next = new Date(Date.parse(day) + 86_400_000).toISOString().slice(0, 10);
  return [
    {
      report: "totals",
      label: "whole poll",
      vars: { poll_id: p },
      reads: "rollups",
      targetMs: rollups,
    },
    {
      report: "totals",
      label: "one local day",
      vars: { poll_id: p, from: day, to: next },
      reads: "rollups",
      targetMs: rollups,
    },
    {
      report: "totals",
      label: "range cutting 2 buckets",
      vars: { poll_id: p, from: `${day} 09:03`, to: `${next} 17:47` },
      reads: "rollups + raw (2 buckets)",
      targetMs: rollups,
    },
    {
      report: "distribution",
      label: "",
      vars: { poll_id: p },
      reads: "rollups",
      targetMs: rollups,
    },
    {
      report: "calendar",
      label: "day, week, month",
      vars: { poll_id: p },
      reads: "rollups",
      targetMs: rollups,
    },
    {
      report: "calendar",
      label: "Asia/Kathmandu (+05:45)",
      vars: { poll_id: nepal },
      reads: "rollups + raw (midnight buckets)",
      targetMs: rollups,
    },
    {
      report: "turnout",
      label: "turnout",
      vars: { poll_id: p },
      reads: "rollups",
      targetMs: rollups,
    },
    {
      report: "turnout",
      label: "turnout, Asia/Kathmandu",
      vars: { poll_id: nepal },
      reads: "rollups + raw (every :45 bucket)",
      targetMs: rollups,
    },
    {
      report: "turnout",
      label: "peak",
      vars: { poll_id: p, part: "peak" },
      reads: "rollups",
      targetMs: rollups,
    },
    { report: "kiosks", label: "activity", vars: { poll_id: p }, reads: "raw", targetMs: raw },
    {
      report: "kiosks",
      label: "silences (gap 1 h, the default)",
      vars: { poll_id: p, part: "silences" },
      reads: "raw",
      targetMs: raw,
    },
    {
      report: "kiosks",
      label: "silences (gap 6 h)",
      vars: { poll_id: p, part: "silences", gap: "6 hours" },
      reads: "raw",
      targetMs: raw,
    },
    { report: "bursts", label: "", vars: { poll_id: p }, reads: "raw", targetMs: raw },
    { report: "late_arrivals", label: "delays", vars: { poll_id: p }, reads: "raw", targetMs: raw },
    {
      report: "late_arrivals",
      label: "kiosks",
      vars: { poll_id: p, part: "kiosks" },
      reads: "raw",
      targetMs: raw,
    },
    {
      report: "late_arrivals",
      label: "after_publish",
      vars: { poll_id: p, part: "after_publish" },
      reads: "raw",
      targetMs: raw,
    },
    {
      report: "refusals",
      label: "all polls",
      vars: {},
      reads: "refusal tables",
      targetMs: rollups,
    },
    {
      report: "consistency",
      label: "one poll",
      vars: { poll_id: p },
      reads: "rollups + raw",
      targetMs: raw,
    },
    { report: "consistency", label: "all polls", vars: {}, reads: "rollups + raw", targetMs: raw },
    {
      report: "attendance",
      label: "days",
      vars: { poll_id: checkin },
      reads: "raw",
      targetMs: raw,
    },
    {
      report: "attendance",
      label: "voters",
      vars: { poll_id: checkin, part: "voters" },
      reads: "raw",
      targetMs: raw,
    },
  ];
}

export interface Timing {
  wallMs: number;
  sqlMs: number;
}

/** One psql run: wall time of the process, and the statements' time from \timing. */
export function runReport(
  dbUrl: string,
  path: string,
  vars: Record<string, string>,
): Promise<Timing> {
  const args = ["-X", "-v", "ON_ERROR_STOP=1", "--dbname", dbUrl, "--csv", "-o", "/dev/null"];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  args.push("-c", "\\timing on", "-f", path);
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(PSQL, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      out += c;
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const wallMs = performance.now() - start;
      if (code !== 0) return reject(new Error(`psql ${path} exited ${code}: ${err}`));
      const sqlMs = [...out.matchAll(/^Time: ([\d.]+) ms/gm)].reduce((s, m) => s + Number(m[1]), 0);
      resolve({ wallMs, sqlMs });
    });
  });
}

/** The number of rows a report prints (psql --csv, counted here). */
export function countReportRows(
  dbUrl: string,
  path: string,
  vars: Record<string, string>,
): Promise<number> {
  const args = ["-X", "-v", "ON_ERROR_STOP=1", "--dbname", dbUrl, "--csv"];
  for (const [k, v] of Object.entries(vars)) args.push("-v", `${k}=${v}`);
  args.push("-f", path);
  return new Promise((resolve, reject) => {
    const child = spawn(PSQL, args, { stdio: ["ignore", "pipe", "inherit"] });
    let lines = 0;
    child.stdout.on("data", (c: Buffer) => {
      for (const byte of c) if (byte === 10) lines++;
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(Math.max(0, lines - 1)) : reject(new Error(`psql exited ${code}`)),
    );
  });
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export interface CaseResult {
  c: Case;
  t: Timing;
  rows: number;
  /** Cancelled by the connection's statement_timeout (its wall ms is then NaN). */
  timedOut?: boolean;
}

const TIMED_OUT = /canceling statement due to statement timeout/;

/**
 * Every case: one warm-up, the median of `runs`, and the rows it prints. A case whose
 * warm-up is cancelled by a statement_timeout in `dbUrl` (bench:history bounds each report
 * so that a year of rows fits its run: `?options=-c%20statement_timeout%3D…`) is recorded as
 * timed out, its times NaN, and not run again.
 */
export async function timeReports(
  dbUrl: string,
  cases: readonly Case[],
  runs: number,
  progress: (line: string) => void,
): Promise<CaseResult[]> {
  const reports = listReports();
  const results: CaseResult[] = [];
  for (const c of cases) {
    const report = findReport(reports, c.report);
    if (!report) throw new Error(`no report ${c.report}`);
    try {
      await runReport(dbUrl, report.path, c.vars); // warm-up
    } catch (err) {
      if (!(err instanceof Error && TIMED_OUT.test(err.message))) throw err;
      results.push({
        c,
        t: { wallMs: Number.NaN, sqlMs: Number.NaN },
        rows: Number.NaN,
        timedOut: true,
      });
      progress(`${report.number} ${c.report} ${c.label}: statement timeout`);
      continue;
    }
    const timings: Timing[] = [];
    for (let r = 0; r < runs; r++) timings.push(await runReport(dbUrl, report.path, c.vars));
    const t = {
      wallMs: median(timings.map((x) => x.wallMs)),
      sqlMs: median(timings.map((x) => x.sqlMs)),
    };
    const rows = await countReportRows(dbUrl, report.path, c.vars);
    results.push({ c, t, rows });
    progress(`${report.number} ${c.report} ${c.label}: ${Math.round(t.wallMs)} ms`);
  }
  return results;
}
