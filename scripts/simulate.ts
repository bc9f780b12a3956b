import { relative } from "node:path";
import { parseArgs } from "node:util";
import {
  DEFAULT_KIOSK_FILE,
  DEFAULT_RUN_DIR,
  REPO_ROOT,
  readKioskFile,
} from "./simulator/kiosk-file.ts";
import { parseDuration, parsePercent } from "./simulator/pacing.ts";
import { DEFAULT_ADMIN_TOKEN, DEFAULT_API_URL, seed } from "./simulator/seeding.ts";
import { Simulation, summaryTable } from "./simulator/simulation.ts";

// `npm run simulate -- --kiosks 500 --rate 2000 --duration 60s [--batch 0|N]
//   [--offline 5%] [--retry 2%] [--voters N] [--json]`
// Simulated kiosks voting against a running API (see scripts/simulator/). Writes the
// eventIds that got a 202 to .local/runs/ for `npm run verify -- <run file>`.

const USAGE = `usage: npm run simulate -- [options]
  --kiosks N          simulated kiosks, each with its own token (default 50; tops up the
                      kiosk file through the admin API when it holds fewer)
  --rate N            votes per second over all kiosks (default 100)
  --duration D        60s, 2m, ... ; 0 = until Ctrl-C (default 60s)
  --votes N           stop after N votes (default: no limit)
  --batch N           0 = one request per vote (default); N = batches of up to N votes
  --linger D          a batch goes out after this long even when not full (default 1s)
  --offline P         share of kiosks offline for a while, sending their queue as batches
                      with the old castAt when back (default 0%)
  --retry P           share of responses "dropped": the kiosk resends the same eventId (0%)
  --voters N          voter population (default 0 = no voterId); voters on the one-vote
                      poll sometimes try twice (409 already_voted: counted as refused)
  --twice P           of those votes, the share by a voter who already voted (default 3%)
  --day D             compress a day's activity curve into D (rate = the peak; default off)
  --flat              no local-time-of-day weighting between polls
  --connections N     keep-alive connections per API URL (default 64)
  --max-in-flight N   open requests at most; beyond, the generator falls behind (5000)
  --max-batch N       the API's MAX_BATCH_ITEMS (default 1000)
  --url URL[,URL]     API base URL(s) (default: API_URL, else the kiosk file's)
  --file PATH         kiosk file (default .local/kiosks.json)
  --runs DIR          where run files go (default .local/runs)
  --seed N            random seed (default: time-based)
  --json              print the summary as JSON on stdout (the table goes to stderr)
  --quiet             no progress output
env: ADMIN_TOKEN (for topping up kiosks), API_URL`;

const { values } = parseArgs({
  options: {
    kiosks: { type: "string", default: "50" },
    rate: { type: "string", default: "100" },
    duration: { type: "string", default: "60s" },
    votes: { type: "string", default: "0" },
    batch: { type: "string", default: "0" },
    linger: { type: "string", default: "1s" },
    offline: { type: "string", default: "0%" },
    retry: { type: "string", default: "0%" },
    voters: { type: "string", default: "0" },
    twice: { type: "string", default: "3%" },
    day: { type: "string", default: "0" },
    flat: { type: "boolean", default: false },
    connections: { type: "string", default: "64" },
    "max-in-flight": { type: "string", default: "5000" },
    "max-batch": { type: "string", default: "1000" },
    url: { type: "string" },
    file: { type: "string", default: DEFAULT_KIOSK_FILE },
    runs: { type: "string", default: DEFAULT_RUN_DIR },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    "progress-interval": { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function int(name: string, text: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got "${text}"\n`);
    process.exit(2);
  }
  return n;
}

function parsed<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (err) {
    process.stderr.write(`--${name}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

const kioskCount = int("kiosks", values.kiosks, 1);
const rate = Number(values.rate);
if (!(rate > 0)) {
  process.stderr.write(`--rate must be a positive number, got "${values.rate}"\n`);
  process.exit(2);
}
const durationMs = parsed("duration", () => parseDuration(values.duration));
const votes = int("votes", values.votes, 0);
const maxBatchItems = int("max-batch", values["max-batch"], 1);
const batch = int("batch", values.batch, 0);
if (batch > maxBatchItems) {
  process.stderr.write(`--batch ${batch} is more than --max-batch ${maxBatchItems}\n`);
  process.exit(2);
}

let file = await readKioskFile(values.file);
const apiUrl = values.url ?? process.env.API_URL ?? file?.apiUrl ?? DEFAULT_API_URL;
const urls = apiUrl.split(",").map((u) => u.trim().replace(/\/+$/, ""));
if (!file || file.kiosks.length < kioskCount) {
  process.stderr.write(
    `${relative(REPO_ROOT, values.file)} holds ${file?.kiosks.length ?? 0} kiosks, ${kioskCount} wanted: seeding through ${urls[0]}...\n`,
  );
  file = (
    await seed({
      apiUrl: urls[0]!,
      adminToken: process.env.ADMIN_TOKEN ?? DEFAULT_ADMIN_TOKEN,
      kiosks: kioskCount,
      file: values.file,
    })
  ).content;
}

const progressInterval = values["progress-interval"]
  ? parsed("progress-interval", () => parseDuration(values["progress-interval"]!))
  : undefined;
const tty = process.stderr.isTTY === true;
const simulation = new Simulation({
  urls,
  kioskFile: values.file,
  kiosks: file.kiosks.slice(0, kioskCount),
  polls: file.polls,
  rate,
  durationMs,
  votes,
  batch,
  lingerMs: parsed("linger", () => parseDuration(values.linger)),
  offline: parsed("offline", () => parsePercent(values.offline)),
  retry: parsed("retry", () => parsePercent(values.retry)),
  voters: int("voters", values.voters, 0),
  twice: parsed("twice", () => parsePercent(values.twice)),
  connections: int("connections", values.connections, 1),
  maxInFlight: int("max-in-flight", values["max-in-flight"], 1),
  maxBatchItems,
  dayMs: parsed("day", () => parseDuration(values.day)),
  timeOfDay: !values.flat,
  runDir: values.runs,
  seed: values.seed === undefined ? Date.now() % 2 ** 31 : int("seed", values.seed, 0),
  progress: values.quiet ? "none" : tty ? "tty" : "plain",
  progressIntervalMs: progressInterval ?? (tty ? 500 : 5_000),
  command: `npm run simulate -- ${process.argv.slice(2).join(" ")}`.trim(),
});

let signals = 0;
const onSignal = () => {
  signals++;
  if (signals > 1) process.exit(130);
  process.stderr.write("\nstopping: draining queues and in-flight requests (again to quit now)\n");
  simulation.stop();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

try {
  const summary = await simulation.run();
  const table = summaryTable(summary);
  const runFile = relative(REPO_ROOT, summary.runFile).startsWith("..")
    ? summary.runFile
    : relative(REPO_ROOT, summary.runFile);
  const hint = `\nverify once the pipeline drained: npm run verify -- ${runFile}\n`;
  if (values.json) {
    process.stderr.write(table + hint);
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  } else process.stdout.write(table + hint);
} catch (err) {
  process.stderr.write(`simulation failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}
