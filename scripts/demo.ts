import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { configOrExit } from "../common/main-guard.ts";
import { REPO_ROOT } from "../harness/repo-root.ts";
import { intFlag, numberFlag, readCli } from "./cli.ts";
import { DEFAULT_KIOSK_FILE } from "./simulator/kiosk-file.ts";
import { DEFAULT_ADMIN_TOKEN, seed } from "./simulator/seeding.ts";
import { verifyRun, verifyTargetFromEnv } from "./simulator/verification.ts";

// `npm run demo [-- --rate 20 --kiosks 20]`: `npm start`, the demo seed (the seed's
// default schools and rosters, or what .local/kiosks.json was seeded with) and a gentle
// simulated load (offline kiosks, dropped responses, voters trying twice, a few unknown
// badges), then prints where to look. Ctrl-C stops the load, waits for the pipeline to drain, verifies the
// run, and stops the system.

const USAGE = `usage: npm run demo -- [--rate N] [--kiosks N]
  --rate N     votes per second of the simulated load at the day's peak (default 20)
  --kiosks N   simulated kiosks (default 20)
env: the services' (DATABASE_URL, NATS_URL, REDIS_URL, PORT, ADMIN_TOKEN, ...), API_URL`;

const { rate, kiosks } = readCli(
  {
    usage: USAGE,
    options: {
      rate: { type: "string", default: "20" },
      kiosks: { type: "string", default: "20" },
    },
  },
  ({ values }) => ({
    rate: numberFlag("rate", values.rate, { above: 0 }),
    kiosks: intFlag("kiosks", values.kiosks, { min: 1 }),
  }),
);
const target = configOrExit(() => verifyTargetFromEnv(process.env));
const port = process.env.PORT ?? "3000";
const apiUrl = process.env.API_URL ?? `http://127.0.0.1:${port}`;
const adminToken = process.env.ADMIN_TOKEN ?? DEFAULT_ADMIN_TOKEN;
const out = (line = "") => process.stdout.write(`${line}\n`);

// Children in process groups of their own: Ctrl-C reaches this process only, which then
// stops them in order (load first, the system last).
function start(args: string[], env: NodeJS.ProcessEnv, pipeStdout: boolean): ChildProcess {
  return spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", pipeStdout ? "pipe" : "inherit", "inherit"],
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once("exit", (code) => resolve(code)));
}

const system = start(
  ["scripts/start.ts"],
  { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? "warn", PORT: port },
  false,
);
let simulator: ChildProcess | undefined;
let stopping = 0;

async function stopSystem(): Promise<void> {
  if (system.exitCode === null && system.signalCode === null) system.kill("SIGTERM");
  await exited(system);
}

process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
process.once("exit", () => {
  for (const child of [simulator, system])
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
});

async function shutdown(): Promise<void> {
  stopping++;
  if (stopping > 1) {
    out("\nquitting now");
    process.exit(130);
  }
  if (simulator && simulator.exitCode === null) simulator.kill("SIGINT");
  else await stopSystem().then(() => process.exit(0));
}

try {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (system.exitCode !== null) throw new Error(`npm start exited with code ${system.exitCode}`);
    const ready = await fetch(`${apiUrl}/readyz`, { signal: AbortSignal.timeout(1_000) })
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) break;
    if (Date.now() > deadline) throw new Error(`${apiUrl}/readyz did not answer 200 within 60 s`);
    await sleep(200);
  }
  const report = await seed({
    apiUrl,
    adminToken,
    kiosks,
    file: DEFAULT_KIOSK_FILE,
    log: (line) => out(`seed: ${line}`),
  });
  out();
  out(`tallyflow demo on ${apiUrl}`);
  const { schools, polls } = report.content;
  const rostered = schools.filter((s) => s.people !== null);
  for (const school of schools)
    out(
      `  ${school.name} (${school.id}, ${school.timeZone}): ${apiUrl}/s/${school.id}` +
        (school.people ? `, ${school.people.count} people on its roster` : ""),
    );
  // Every school has the same four polls: their URLs once, for the first school.
  const first = schools[0]!;
  out(`  the polls of ${first.name} (each school has its own four):`);
  for (const poll of polls.filter((p) => p.schoolId === first.id)) {
    const base = `${apiUrl}/v1/polls/${poll.id}`;
    const kind = [
      poll.voters === "roster" ? "its roster's people only" : undefined,
      poll.checkIn ? "check-in" : poll.oneVotePerVoter ? "one vote per voter" : undefined,
      poll.resultsVisibility === "after_close"
        ? `results hidden (403) until ${poll.closesAt}`
        : "live results",
    ]
      .filter((k) => k !== undefined)
      .join(", ");
    out(`    ${poll.title} (${poll.timeZone}; ${kind})`);
    out(`      results: ${base}/results   chart: ${base}/results.png   live: ${base}/events`);
    if (poll.checkIn) out(`      attendance: npm run report -- attendance --poll ${poll.id}`);
  }
  if (rostered.length > 0)
    out(
      `  people: GET ${apiUrl}/v1/schools/${first.id}/people (ADMIN_TOKEN; names only for the school's own admins)`,
    );
  out(`  readiness: ${apiUrl}/readyz   metrics: 127.0.0.1:<API_METRICS_PORT, 9100>/metrics`);
  out("  published totals against SQL: npm run reconcile");
  out(`  kiosk tokens: .local/kiosks.json (${report.content.kiosks.length} kiosks)`);
  out();
  out(
    `Simulating ${kiosks} kiosks at ${rate} votes/s (a day compressed into 10 minutes). Ctrl-C stops the load, verifies and stops.`,
  );
  out();

  simulator = start(
    [
      "scripts/simulate.ts",
      ...["--kiosks", String(kiosks), "--rate", String(rate), "--duration", "0", "--day", "10m"],
      ...["--offline", "10%", "--retry", "2%", "--voters", "100000", "--twice", "5%"],
      ...["--unknown-voters", "1%"],
      ...["--url", apiUrl, "--json"],
    ],
    { ...process.env, ADMIN_TOKEN: adminToken },
    true,
  );
  let json = "";
  simulator.stdout?.on("data", (c: Buffer) => {
    json += c.toString("utf8");
  });
  const code = await exited(simulator);
  if (code !== 0) throw new Error(`the simulator exited with code ${code}`);
  const runFile = (JSON.parse(json) as { runFile: string }).runFile;
  out();
  out(`load stopped; verifying ${runFile} (waits for the pipeline to drain)...`);
  const result = await verifyRun({
    runFile,
    ...target,
    drainTimeoutMs: 120_000,
    publishTimeoutMs: 30_000,
    log: (line) => out(`  ${line}`),
  });
  out(result.ok ? "VERIFY PASSED" : `VERIFY FAILED:\n  ${result.problems.join("\n  ")}`);
  out(`again later: npm run verify -- ${runFile}`);
  process.exitCode = result.ok ? 0 : 1;
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  out("stopping tallyflow...");
  await stopSystem();
}
