import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import { benchLog } from "./progress.ts";

// The individual benchmarks (the bench:* npm scripts that exist), run one after the
// other as child processes; their Markdown reports are kept for BENCHMARKS.md.

export interface Individual {
  script: string;
  /** The command as a user would type it, flags included. */
  command: string;
  code: number | null;
  seconds: number;
  output: string;
}

const INDIVIDUAL = [
  "bench:ingest",
  "bench:voters",
  // On main since this branch started (wt-redis); skipped while package.json lacks it.
  "bench:voter-rebuild",
  "bench:writer",
  "bench:results",
  "bench:reports",
];
// Smaller than their defaults so that the whole bench fits in about half an hour.
const SMALLER: Record<string, string[]> = {
  "bench:results": ["--history", "2000000", "--seconds", "20"],
  "bench:reports": ["--votes", "2000000"],
};

async function runIndividual(script: string, command: string, full: boolean): Promise<Individual> {
  const [bin, ...rest] = command.split(/\s+/);
  if (bin !== "node") throw new Error(`${script}: expected "node …", got "${command}"`);
  const args = [...rest, ...(full ? [] : (SMALLER[script] ?? []))];
  const shown = `npm run ${script}${args.length > rest.length ? ` -- ${args.slice(rest.length).join(" ")}` : ""}`;
  benchLog(`${shown} ...`);
  const started = performance.now();
  const child = spawn(process.execPath, args, {
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
      if (line.trim() !== "") process.stderr.write(`[${script}] ${line}\n`);
  });
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  return {
    script,
    command: shown,
    code,
    seconds: (performance.now() - started) / 1000,
    output: output.trim(),
  };
}

/** Runs every bench:* script of INDIVIDUAL that package.json has; `full`: with their own default sizes. */
export async function runIndividuals(full: boolean): Promise<Individual[]> {
  const pkg = JSON.parse(await readFile(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  const results: Individual[] = [];
  for (const script of INDIVIDUAL) {
    const command = pkg.scripts[script];
    if (command) results.push(await runIndividual(script, command, full));
  }
  return results;
}
