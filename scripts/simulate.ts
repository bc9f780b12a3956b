import { relative } from "node:path";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { CliError, durationFlag, intFlag, numberFlag, percentFlag, readCli } from "./cli.ts";
import {
  attendanceSummaryTable,
  MAX_ATTENDANCE_DAYS,
  simulateAttendance,
} from "./simulator/attendance-simulation.ts";
import { DEFAULT_KIOSK_FILE, DEFAULT_RUN_DIR, readKioskFile } from "./simulator/kiosk-file.ts";
import { DEFAULT_ADMIN_TOKEN, DEFAULT_API_URL, seed } from "./simulator/seeding.ts";
import { Simulation, summaryTable } from "./simulator/simulation.ts";

// `npm run simulate -- --kiosks 500 --rate 2000 --duration 60s [--batch 0|N]
//   [--offline 5%] [--retry 2%] [--voters N] [--unknown-voters 1%] [--json]`
// Simulated kiosks voting in their schools' polls against a running API (see
// scripts/simulator/), naming people of their school's roster. Writes the eventIds that
// got a 202 to .local/runs/ for `npm run verify -- <run file>`.
// `npm run simulate -- --attendance-days N [--rate 1500] [--offline 5%]` plays N past school
// days at the schools' doors instead (scripts/simulator/attendance-*.ts).

const USAGE = `usage: npm run simulate -- [options]
  --kiosks N          simulated kiosks, each with its own token, each voting in its school's
                      polls (default 50; tops up the kiosk file through the admin API when it
                      holds fewer, with the file's schools and rosters; no file: npm run seed's
                      defaults)
  --rate N            votes per second over all kiosks (default 100)
  --duration D        60s, 2m, ... ; 0 = until Ctrl-C (default 60s)
  --votes N           stop after N votes (default: no limit)
  --batch N           0 = one request per vote (default); N = batches of up to N votes
  --linger D          a batch goes out after this long even when not full (default 1s)
  --offline P         share of kiosks offline for a while, sending their queue as batches
                      with the old castAt when back (default 0%)
  --retry P           share of responses "dropped": the kiosk resends the same eventId (0%)
  --voters N          votes on polls open to any voter carry a voterId too (default 0: only
                      roster polls' votes do, always, naming people of the kiosk's school):
                      people of the school's roster, or in a school without one (--schools 0)
                      a population of N ids voter-<i>
  --twice P           on the one-vote poll, the share of votes by a voter who already voted
                      there (409 already_voted: counted as refused; default 3%)
  --unknown-voters P  on roster polls, the share of votes naming no one on the roster (422
                      unknown_person: counted as refused; default 0%)
  --day D             compress a day's activity curve into D (rate = the peak; default off)
  --flat              no local-time-of-day weighting between polls
  --attendance-days N attendance instead of votes: each school of the file with a roster
                      gets a register at the door and lives its last N school days (1 to
                      ${MAX_ATTENDANCE_DAYS}, before today): arrivals around the bell with a late tail,
                      check-outs in the afternoon, ~5 % absent, a few who forget to check
                      out, a few fevers; the mornings then the afternoons at --rate events/s,
                      kiosks offline for the morning (--offline, of the kiosks) sending their
                      queue after the afternoon. --batch is the kiosks' batch (default 50)
  --connections N     keep-alive connections per API URL (default 64)
  --max-in-flight N   open requests at most; beyond, the generator falls behind (5000)
  --max-batch N       the API's MAX_BATCH_ITEMS (default 1000)
  --url URL[,URL]     API base URL(s) (default: API_URL, else the kiosk file's)
  --file PATH         kiosk file (default .local/kiosks.json)
  --runs DIR          where run files go (default .local/runs)
  --seed N            random seed (default: time-based)
  --json              print the summary as JSON on stdout (the table goes to stderr)
  --quiet             no progress output
  --progress-interval D  time between progress lines (default 500ms on a terminal, else 5s)
  -h, --help          this text
env: ADMIN_TOKEN (for topping up kiosks), API_URL`;

const { values, flags } = readCli(
  {
    usage: USAGE,
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
      "unknown-voters": { type: "string", default: "0%" },
      day: { type: "string", default: "0" },
      flat: { type: "boolean", default: false },
      "attendance-days": { type: "string", default: "0" },
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
    },
  },
  ({ values }) => {
    const maxBatchItems = intFlag("max-batch", values["max-batch"], { min: 1 });
    const batch = intFlag("batch", values.batch, { min: 0 });
    if (batch > maxBatchItems)
      throw new CliError(`--batch ${batch} is more than --max-batch ${maxBatchItems}`);
    const interval = values["progress-interval"];
    return {
      values,
      flags: {
        kioskCount: intFlag("kiosks", values.kiosks, { min: 1 }),
        rate: numberFlag("rate", values.rate, { above: 0 }),
        durationMs: durationFlag("duration", values.duration),
        votes: intFlag("votes", values.votes, { min: 0 }),
        maxBatchItems,
        batch,
        lingerMs: durationFlag("linger", values.linger),
        offline: percentFlag("offline", values.offline),
        retry: percentFlag("retry", values.retry),
        voters: intFlag("voters", values.voters, { min: 0 }),
        twice: percentFlag("twice", values.twice),
        unknownVoters: percentFlag("unknown-voters", values["unknown-voters"]),
        connections: intFlag("connections", values.connections, { min: 1 }),
        maxInFlight: intFlag("max-in-flight", values["max-in-flight"], { min: 1 }),
        dayMs: durationFlag("day", values.day),
        attendanceDays: intFlag("attendance-days", values["attendance-days"], {
          min: 0,
          max: MAX_ATTENDANCE_DAYS,
        }),
        seed: values.seed === undefined ? undefined : intFlag("seed", values.seed, { min: 0 }),
        progressIntervalMs:
          interval === undefined ? undefined : durationFlag("progress-interval", interval),
      },
    };
  },
);
const { kioskCount } = flags;

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

const tty = process.stderr.isTTY === true;
if (flags.attendanceDays > 0) {
  let stop = false;
  process.on("SIGINT", () => {
    if (stop) process.exit(130);
    stop = true;
  });
  try {
    const summary = await simulateAttendance({
      urls,
      adminToken: process.env.ADMIN_TOKEN ?? DEFAULT_ADMIN_TOKEN,
      kioskFile: values.file,
      kiosks: file.kiosks.slice(0, kioskCount),
      schools: file.schools,
      days: flags.attendanceDays,
      rate: flags.rate,
      batch: flags.batch || 50,
      lingerMs: flags.lingerMs,
      offline: flags.offline,
      connections: flags.connections,
      maxInFlight: flags.maxInFlight,
      runDir: values.runs,
      seed: flags.seed ?? Date.now() % 2 ** 31,
      command: `npm run simulate -- ${process.argv.slice(2).join(" ")}`.trim(),
      log: values.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
      progressIntervalMs: flags.progressIntervalMs ?? (tty ? 1_000 : 5_000),
      shouldStop: () => stop,
    });
    const runFile = relative(REPO_ROOT, summary.runFile);
    const out = `${attendanceSummaryTable(summary)}\nverify once the pipeline drained: npm run verify -- ${runFile}\n`;
    if (values.json) {
      process.stderr.write(out);
      process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    } else process.stdout.write(out);
  } catch (err) {
    process.stderr.write(
      `simulation failed: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    process.exitCode = 1;
  }
  process.exit();
}
const simulation = new Simulation({
  urls,
  kioskFile: values.file,
  kiosks: file.kiosks.slice(0, kioskCount),
  schools: file.schools,
  polls: file.polls,
  rate: flags.rate,
  durationMs: flags.durationMs,
  votes: flags.votes,
  batch: flags.batch,
  lingerMs: flags.lingerMs,
  offline: flags.offline,
  retry: flags.retry,
  voters: flags.voters,
  twice: flags.twice,
  unknownVoters: flags.unknownVoters,
  connections: flags.connections,
  maxInFlight: flags.maxInFlight,
  maxBatchItems: flags.maxBatchItems,
  dayMs: flags.dayMs,
  timeOfDay: !values.flat,
  runDir: values.runs,
  seed: flags.seed ?? Date.now() % 2 ** 31,
  progress: values.quiet ? "none" : tty ? "tty" : "plain",
  progressIntervalMs: flags.progressIntervalMs ?? (tty ? 500 : 5_000),
  command: `npm run simulate -- ${process.argv.slice(2).join(" ")}`.trim(),
  warn: (line) => process.stderr.write(`${line}\n`),
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
