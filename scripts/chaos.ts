import { ChaosEnvironment } from "./chaos/environment.ts";
import { FAULTS, selectFaults } from "./chaos/faults.ts";
import { type FaultResult, runSuite } from "./chaos/suite.ts";
import { resultsTable } from "./chaos/table.ts";
import { CliError, durationFlag, intFlag, listFlag, readCli } from "./cli.ts";

// `npm run chaos -- [--faults a,b] [--duration 30s] [--rate 150] [--json]`
// The fault-injection suite (scripts/chaos/): the whole system as separate processes
// against private Postgres, Redis and NATS servers it starts itself, a steady mixed load,
// and one fault after another, each checked for lost and double-counted votes.

const USAGE = `usage: npm run chaos -- [options]
  --faults a,b        faults to run, in this order (default: all):
${FAULTS.map((f) => `                        ${f.name.padEnd(16)} ${f.description}`).join("\n")}
  --duration D        load around each fault: a third before it, the rest after it
                      healed (default 30s)
  --rate N            votes per second, half single votes, half batches of 10 (default 150)
  --kiosks N          kiosks sending them (default 8)
  --heal-timeout D    a fault not healed this long after its end fails (default 60s)
  --postgres-outage D how long Postgres stays stopped (default 10s)
  --leader-down D     how long the killed JetStream leader stays down (default 10s)
  --drain-timeout D   wait for the pipeline to drain after each fault (default 60s)
  --service-log L     LOG_LEVEL of the services (default warn; their logs go to stderr)
  --json              print the results as JSON on stdout (the table goes to stderr)
Exits 1 if any fault lost, double-counted or added a vote, or did not heal in time.
Needs nats-server, redis-server and /usr/lib/postgresql/15/bin (CHAOS_PG_BIN) on this machine.`;

const parsed = readCli(
  {
    usage: USAGE,
    options: {
      faults: { type: "string" },
      duration: { type: "string", default: "30s" },
      rate: { type: "string", default: "150" },
      kiosks: { type: "string", default: "8" },
      "heal-timeout": { type: "string", default: "60s" },
      "postgres-outage": { type: "string", default: "10s" },
      "leader-down": { type: "string", default: "10s" },
      "drain-timeout": { type: "string", default: "60s" },
      "service-log": { type: "string", default: "warn" },
      json: { type: "boolean", default: false },
    },
  },
  ({ values }) => {
    const duration = (name: string, text: string, minMs: number) => {
      const ms = durationFlag(name, text);
      if (!(ms >= minMs))
        throw new CliError(`--${name} must be at least ${minMs / 1000} s, got "${text}"`);
      return ms;
    };
    const durationMs = duration("duration", values.duration, 3_000);
    return {
      json: values.json,
      faults: selectFaults(
        values.faults === undefined ? undefined : listFlag("faults", values.faults, (_n, s) => s),
      ),
      ratePerS: intFlag("rate", values.rate, { min: 1, max: 2_000 }),
      kiosks: intFlag("kiosks", values.kiosks, { min: 1, max: 200 }),
      warmupMs: durationMs / 3,
      afterMs: (durationMs * 2) / 3,
      healTimeoutMs: duration("heal-timeout", values["heal-timeout"], 1_000),
      postgresOutageMs: duration("postgres-outage", values["postgres-outage"], 0),
      leaderDownMs: duration("leader-down", values["leader-down"], 0),
      drainTimeoutMs: duration("drain-timeout", values["drain-timeout"], 1_000),
      serviceLogLevel: values["service-log"],
    };
  },
);

const log = (line: string) => process.stderr.write(`[chaos] ${line}\n`);
log("starting private Postgres, Redis and NATS");
const env = await ChaosEnvironment.create();
// Ctrl-C: stop the private servers before exiting (the service children are killed by
// harness/child-processes.ts's exit hook).
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping the private servers`);
    void env.close().finally(() => process.exit(130));
  });

let results: FaultResult[];
try {
  results = await runSuite(env, { ...parsed, resultsIntervalMs: 1_000, log });
} finally {
  await env.close();
}
const table = resultsTable(results);
const command = `npm run chaos -- ${process.argv.slice(2).join(" ")}`.trim();
if (parsed.json) {
  process.stderr.write(`\n${table}`);
  process.stdout.write(`${JSON.stringify({ command, results }, null, 2)}\n`);
} else process.stdout.write(`\n${table}`);
process.exit(results.every((r) => r.ok) ? 0 : 1);
