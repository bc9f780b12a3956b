import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { configOrExit } from "../common/main-guard.ts";
import { CliError, durationFlag, readCli } from "./cli.ts";
import { DEFAULT_RUN_DIR } from "./simulator/kiosk-file.ts";
import { fmtInt } from "./simulator/stats.ts";
import { verifyRun, verifyTargetFromEnv } from "./simulator/verification.ts";

// `npm run verify -- <run file> [--drain-timeout 10m] [--publish-timeout 60s] [--json]`
// Waits for the pipeline to drain, then checks that exactly the votes that got a 202 in
// the simulation are in Postgres and that the published results agree. Exit 1 on any
// difference. Reads DATABASE_URL, NATS_URL, REDIS_URL, STREAM_NAME, CONSUMER_NAME and
// REDIS_KEY_PREFIX like the services. Without a file: the newest run in .local/runs.

const USAGE = `usage: npm run verify -- [RUN_FILE] [--drain-timeout D] [--publish-timeout D] [--json]
  RUN_FILE             a run file of npm run simulate (default: the newest in .local/runs)
  --drain-timeout D    how long to wait for the writers to drain the stream (default 10m)
  --publish-timeout D  then, how long to wait for the publisher (default 60s)
  --json               the result as JSON on stdout (the log goes to stderr)
env: DATABASE_URL, NATS_URL, REDIS_URL, STREAM_NAME, CONSUMER_NAME, REDIS_KEY_PREFIX`;

const { values, positionals, drainTimeoutMs, publishTimeoutMs } = readCli(
  {
    usage: USAGE,
    allowPositionals: true,
    options: {
      "drain-timeout": { type: "string", default: "10m" },
      "publish-timeout": { type: "string", default: "60s" },
      json: { type: "boolean", default: false },
    },
  },
  ({ values, positionals }) => {
    if (positionals.length > 1)
      throw new CliError(`one run file at a time, got: ${positionals.join(" ")}`);
    return {
      values,
      positionals,
      drainTimeoutMs: durationFlag("drain-timeout", values["drain-timeout"]),
      publishTimeoutMs: durationFlag("publish-timeout", values["publish-timeout"]),
    };
  },
);
const target = configOrExit(() => verifyTargetFromEnv(process.env));

async function latestRun(): Promise<string | undefined> {
  const names = await readdir(DEFAULT_RUN_DIR).catch(() => [] as string[]);
  const runs = names.filter((n) => /^\d{4}-.*Z\.json$/.test(n)).sort();
  const last = runs.at(-1);
  return last === undefined ? undefined : join(DEFAULT_RUN_DIR, last);
}

const runFile = positionals[0] ? resolve(positionals[0]) : await latestRun();
if (runFile === undefined) {
  process.stderr.write("no run file given and none in .local/runs (run npm run simulate first)\n");
  process.exit(2);
}
const log = (line: string) => (values.json ? process.stderr : process.stdout).write(`${line}\n`);
try {
  const result = await verifyRun({
    runFile,
    ...target,
    drainTimeoutMs,
    publishTimeoutMs,
    log,
  });
  if (result.ok)
    log(
      `VERIFY PASSED: all ${fmtInt(result.eventIds)} votes that got a 202 are stored exactly once, nothing extra, published results agree`,
    );
  else log(`VERIFY FAILED:\n${result.problems.map((p) => `  - ${p}`).join("\n")}`);
  if (values.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  process.exitCode = result.ok ? 0 : 1;
} catch (err) {
  process.stderr.write(
    `verify failed to run: ${err instanceof Error ? err.message : String(err)}\n`,
  );
  process.exitCode = 1;
}
