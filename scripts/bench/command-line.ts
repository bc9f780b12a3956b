// The command a benchmark report prints, so that it reproduces the run: the BENCH_*
// variables that were set, the npm script, and the flags it was given.

/** `BENCH_DURATION=8 npm run bench:reads -- --flag value` */
export function benchCommand(
  script: string,
  env: NodeJS.ProcessEnv = process.env,
  args: readonly string[] = process.argv.slice(2),
): string {
  const vars = Object.entries(env)
    .filter(([k, v]) => k.startsWith("BENCH_") && v !== undefined)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v} `)
    .join("");
  return `${vars}npm run ${script}${args.length > 0 ? ` -- ${args.join(" ")}` : ""}`;
}
