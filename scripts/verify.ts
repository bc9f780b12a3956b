import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readCommonConfig } from "../common/config.ts";
import { readName } from "../common/env.ts";
import { configOrExit } from "../common/main-guard.ts";
import { DEFAULT_RUN_DIR } from "./simulator/kiosk-file.ts";
import { parseDuration } from "./simulator/pacing.ts";
import { fmtInt } from "./simulator/stats.ts";
import { verifyRun } from "./simulator/verification.ts";

// `npm run verify -- <run file> [--drain-timeout 10m] [--publish-timeout 60s] [--json]`
// Waits for the pipeline to drain, then checks that exactly the votes that got a 202 in
// the simulation are in Postgres and that the published results agree. Exit 1 on any
// difference. Reads DATABASE_URL, NATS_URL, REDIS_URL, STREAM_NAME, CONSUMER_NAME and
// REDIS_KEY_PREFIX like the services. Without a file: the newest run in .local/runs.

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "drain-timeout": { type: "string", default: "10m" },
    "publish-timeout": { type: "string", default: "60s" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(
    "usage: npm run verify -- [.local/runs/<stamp>.json] [--drain-timeout 10m] [--publish-timeout 60s] [--json]\n",
  );
  process.exit(0);
}
const config = configOrExit(() => readCommonConfig(process.env));
const consumerName = configOrExit(() => readName(process.env, "CONSUMER_NAME", "batch-writer"));

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
    databaseUrl: config.databaseUrl,
    natsUrl: config.natsUrl,
    redisUrl: config.redisUrl,
    redisKeyPrefix: config.redisKeyPrefix,
    streamName: config.streamName,
    consumerName,
    drainTimeoutMs: parseDuration(values["drain-timeout"]),
    publishTimeoutMs: parseDuration(values["publish-timeout"]),
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
