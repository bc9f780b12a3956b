import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import { benchLog } from "./progress.ts";
import { parseVerdicts } from "./verdict.ts";

// The individual benchmarks (every bench:* npm script), run one after the other as child
// processes; their Markdown reports and verdicts are kept for BENCHMARKS.md.

export interface Individual {
  /** The npm script, e.g. "bench:ingest". */
  script: string;
  /** The command as a user would type it, flags included. */
  command: string;
  code: number | null;
  /** Wall time of the child process, measured. */
  seconds: number;
  output: string;
  /** Its report's verdict lines (scripts/bench/verdict.ts). */
  verdicts: string[];
}

interface Bench {
  script: string;
  /** Flags it is always given here. */
  args?: string[];
  /** Flags of the default `npm run bench` (without --full-individual): a smaller run. */
  smaller?: string[];
}

/** Every individual benchmark, in the order `npm run bench` runs them. */
const BENCHES: readonly Bench[] = [
  { script: "bench:ingest" },
  { script: "bench:voters" },
  { script: "bench:voter-rebuild" },
  { script: "bench:writer" },
  // Ten schools' day (200,000 events) by default; the full run is fifty (a million).
  { script: "bench:attendance-writer", smaller: ["--schools", "10"] },
  // Smaller than their defaults so that the whole bench fits in about an hour.
  { script: "bench:results", smaller: ["--history", "2000000", "--seconds", "20"] },
  { script: "bench:reads" },
  // bench:reads runs above, once: not again inside bench:scale.
  { script: "bench:scale", args: ["--skip-reads"] },
  { script: "bench:reports", smaller: ["--votes", "2000000"] },
  // A year for 1,000 polls, votes in the reference day's two one-hour peaks.
  { script: "bench:publisher-memory", args: ["--peaks", "8,15"], smaller: ["--months", "6"] },
  // 1,000 schools × 10,000 people, the reference deployment's roster.
  { script: "bench:roster-memory" },
  // 10 million people in the deployment take minutes to generate: a million by default.
  { script: "bench:people", smaller: ["--people", "1000000"] },
  // 100 schools × 10,000 people with today's attendance: what a run costs per school-day.
  { script: "bench:attendance-publish" },
  // Every person of 1,000 schools × 10,000 checked in, in a redis-server of its own.
  { script: "bench:attendance-state" },
  // One school of 10,000 people and a month of its attendance, among 9 more schools.
  { script: "bench:attendance-reads" },
  // The API's event loop per day-document version at 10,000 people: spliced against parsed.
  { script: "bench:attendance-answers" },
  // Every console list page at the reference scale; 10 million people take minutes to
  // generate: a million by default.
  { script: "bench:console", smaller: ["--people", "1000000"] },
];

/** The names `--only` takes: "ingest" for bench:ingest, and so on. */
export const INDIVIDUAL_NAMES: readonly string[] = BENCHES.map((b) =>
  b.script.replace(/^bench:/, ""),
);

async function runIndividual(bench: Bench, command: string, full: boolean): Promise<Individual> {
  const [bin, ...rest] = command.split(/\s+/);
  if (bin !== "node") throw new Error(`${bench.script}: expected "node …", got "${command}"`);
  const flags = [...(bench.args ?? []), ...(full ? [] : (bench.smaller ?? []))];
  const shown = `npm run ${bench.script}${flags.length > 0 ? ` -- ${flags.join(" ")}` : ""}`;
  benchLog(`${shown} ...`);
  const started = performance.now();
  const child = spawn(process.execPath, [...rest, ...flags], {
    cwd: REPO_ROOT,
    env: process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString("utf8");
    process.stderr.write(c);
  });
  child.stderr.on("data", (c: Buffer) => {
    for (const line of c.toString("utf8").split("\n"))
      if (line.trim() !== "") process.stderr.write(`[${bench.script}] ${line}\n`);
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const seconds = (performance.now() - started) / 1000;
  benchLog(`${shown}: exit ${code}, ${seconds.toFixed(0)} s`);
  return {
    script: bench.script,
    command: shown,
    code,
    seconds,
    output: output.trim(),
    verdicts: parseVerdicts(output),
  };
}

/** Runs the benches named (`INDIVIDUAL_NAMES`), in order; `full`: with their own default sizes. */
export async function runIndividuals(
  names: readonly string[],
  full: boolean,
): Promise<Individual[]> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const results: Individual[] = [];
  for (const bench of BENCHES) {
    if (!names.includes(bench.script.replace(/^bench:/, ""))) continue;
    const command = pkg.scripts[bench.script];
    if (!command) throw new Error(`package.json has no "${bench.script}" script`);
    results.push(await runIndividual(bench, command, full));
  }
  return results;
}
