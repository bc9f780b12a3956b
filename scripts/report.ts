import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { readCommonConfig } from "../common/config.ts";
import { configOrExit } from "../common/main-guard.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { CliError, choiceFlag, tryCli } from "./cli.ts";

// `npm run report -- <name> [--poll ID | --school ID] [--from TS] [--to TS] [--part P]
//  [--set var=value]... [--format table|csv]`: runs sql/reports/<nn>_<name>.sql through psql
// against DATABASE_URL, mapping the flags to psql variables. --format csv is psql --csv: one
// header line and proper CSV on stdout. Exits with psql's exit code (3: the report stopped on an
// error, e.g. an unknown poll), or 2 on a wrong command line (scripts/cli.ts).
// `npm run report -- --help` lists the reports.

export const REPORTS_DIR = join(REPO_ROOT, "sql", "reports");

export interface ReportFile {
  /** e.g. "totals" */
  name: string;
  /** e.g. "01" */
  number: string;
  path: string;
  /** The question it answers (first line of its header comment). */
  summary: string;
}

export function listReports(dir = REPORTS_DIR): ReportFile[] {
  const reports: ReportFile[] = [];
  for (const file of readdirSync(dir).sort()) {
    const match = /^(\d\d)_([a-z0-9_]+)\.sql$/.exec(file);
    if (!match) continue;
    const path = join(dir, file);
    const firstLine = readFileSync(path, "utf8").split("\n", 1)[0] ?? "";
    reports.push({
      name: match[2]!,
      number: match[1]!,
      path,
      summary: firstLine.replace(/^--\s*Report \d+\s*·\s*[a-z0-9_]+:\s*/, ""),
    });
  }
  return reports;
}

/** "totals", "01_totals", "01", "1" and "01_totals.sql" all name report 01. */
export function findReport(reports: readonly ReportFile[], name: string): ReportFile | undefined {
  const wanted = name.replace(/\.sql$/, "");
  return reports.find(
    (r) =>
      r.name === wanted ||
      `${r.number}_${r.name}` === wanted ||
      (/^\d{1,2}$/.test(wanted) && Number(wanted) === Number(r.number)),
  );
}

export interface ReportRequest {
  report: ReportFile;
  databaseUrl: string;
  format: "table" | "csv";
  /** psql variables (-v name=value), e.g. poll_id, from, to. */
  variables: Record<string, string>;
}

/** psql's arguments and environment: the password goes in PGPASSWORD, not on the command line. */
export function psqlInvocation(request: ReportRequest): { args: string[]; env: NodeJS.ProcessEnv } {
  const url = new URL(request.databaseUrl);
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (url.password !== "") {
    env.PGPASSWORD = decodeURIComponent(url.password);
    url.password = "";
  }
  const args = ["-X", "--no-password", "-v", "ON_ERROR_STOP=1", "--dbname", url.toString()];
  if (request.format === "csv") args.push("--csv");
  for (const [name, value] of Object.entries(request.variables))
    args.push("-v", `${name}=${value}`);
  args.push("-f", request.report.path);
  return { args, env };
}

export function usage(reports: readonly ReportFile[]): string {
  const width = Math.max(...reports.map((r) => r.name.length));
  return [
    "usage: npm run report -- <name> [--poll ID | --school ID] [--from TIMESTAMP]",
    "                         [--to TIMESTAMP] [--part PART] [--set var=value]...",
    "                         [--format table|csv]",
    "",
    "  --poll       the poll of reports 01-10",
    "  --school     the school of the attendance reports (11-15)",
    "  --from/--to  half-open range [from, to); a timestamp without an offset is read in",
    "               the poll's time zone (--from 2026-03-29 = local midnight); for the",
    "               attendance reports, school-local days (YYYY-MM-DD)",
    "  --part       the report's part (see the report's header)",
    "  --set        any other psql variable of the report, e.g. --set gap='2 hours'",
    "  --format     table (default) or csv (proper CSV on stdout, for export)",
    "  -h, --help   this text",
    "",
    "reports (sql/reports/, details in sql/reports/README.md):",
    ...reports.map((r) => `  ${r.name.padEnd(width)}  ${r.number}  ${r.summary}`),
    "",
  ].join("\n");
}

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const OPTIONS = {
  poll: { type: "string" },
  school: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  part: { type: "string" },
  set: { type: "string", multiple: true },
  format: { type: "string", default: "table" },
} as const;

/** Parses the command line; returns the request, or an exit code after printing why. */
export function parseReportArgs(
  argv: string[],
  env: NodeJS.ProcessEnv,
  reports: readonly ReportFile[],
  print: { out: (text: string) => void; err: (text: string) => void },
): ReportRequest | number {
  const outcome = tryCli(
    { usage: usage(reports), options: OPTIONS, allowPositionals: true },
    ({ values, positionals }): ReportRequest => {
      if (positionals.length === 0) throw new CliError("which report? name one");
      if (positionals.length > 1)
        throw new CliError(`one report at a time, got: ${positionals.join(" ")}`);
      const report = findReport(reports, positionals[0]!);
      if (report === undefined) throw new CliError(`unknown report "${positionals[0]}"`);
      const format = choiceFlag("format", values.format, ["table", "csv"]);
      const variables: Record<string, string> = {};
      if (values.poll !== undefined) variables.poll_id = values.poll;
      if (values.school !== undefined) variables.school_id = values.school;
      if (values.from !== undefined) variables.from = values.from;
      if (values.to !== undefined) variables.to = values.to;
      if (values.part !== undefined) variables.part = values.part;
      for (const assignment of values.set ?? []) {
        const eq = assignment.indexOf("=");
        const name = eq < 0 ? assignment : assignment.slice(0, eq);
        if (eq < 0 || !VARIABLE_NAME.test(name))
          throw new CliError(`--set wants var=value, got "${assignment}"`);
        variables[name] = assignment.slice(eq + 1);
      }
      const config = configOrExit(() => readCommonConfig(env));
      return { report, databaseUrl: config.databaseUrl, format, variables };
    },
    argv,
  );
  if (outcome.ok) return outcome.value;
  // print adds the line end.
  print[outcome.stream](outcome.text.trimEnd());
  return outcome.code;
}

/** Runs psql with the report; resolves with psql's exit code. */
export function runPsql(
  request: ReportRequest,
  psql = process.env.PSQL ?? "psql",
): Promise<number> {
  const { args, env } = psqlInvocation(request);
  return new Promise((resolve) => {
    const child = spawn(psql, args, { stdio: "inherit", env });
    child.on("error", (e) => {
      process.stderr.write(`cannot run ${psql}: ${e.message}\n`);
      resolve(127);
    });
    child.on("close", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

if (import.meta.main) {
  const reports = listReports();
  const request = parseReportArgs(process.argv.slice(2), process.env, reports, {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  });
  process.exitCode = typeof request === "number" ? request : await runPsql(request);
}
