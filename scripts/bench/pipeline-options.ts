import { join } from "node:path";
import { REPO_ROOT } from "../../harness/repo-root.ts";
import {
  CliError,
  type CliIo,
  choiceFlag,
  intFlag,
  listFlag,
  numberFlag,
  readCli,
} from "../cli.ts";
import { INDIVIDUAL_NAMES } from "./individual.ts";

// What `npm run bench` is told (its flags) and where the whole-pipeline part works: a
// database, stream, consumer and Redis prefix of its own, so that it never touches the
// default ones.

const PIPELINE_NAME = "pipeline";

const USAGE = `usage: npm run bench -- [options]
  --only NAME,...       run only these: ${[...INDIVIDUAL_NAMES, PIPELINE_NAME].join(", ")}
                        (default: all of them, in that order)
  --skip-individual     only the whole pipeline (--only ${PIPELINE_NAME})
  --only-individual     only the bench:* scripts, not the whole pipeline
  --full-individual     give the bench:* scripts their own (larger, longer) default sizes
  --steps N,N,...|none  single-vote rates of the ramp, req/s
                        (default 1000,1500,2000,2500,3000,4000,5000,7500,10000)
  --step-seconds N      length of each step (default 25)
  --kiosks N            simulated kiosks of the ramp (default 500)
  --batch-votes N       votes of the batch run; 0 = no batch run (default 10000000)
  --batch-kiosks N      kiosks of the batch run, one batch in flight each (default 16)
  --writers N           batch writer processes (default 2)
  --ingest N            ingest API processes, on ports of their own (default 1)
  --wait-quiet MIN      first wait up to MIN minutes for a load average below 1.5 (default 0)
  --no-write            print the report only: do not record each run as its section's
                        latest in BENCHMARKS.md
  --keep                keep the bench database and run files
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL`;

export interface PipelineOptions {
  /** The individual benches to run (INDIVIDUAL_NAMES), in their order. */
  individuals: string[];
  /** Whether the whole pipeline runs after them. */
  pipeline: boolean;
  fullIndividual: boolean;
  /** Req/s of the single-vote steps, in order. */
  steps: number[];
  /** --steps as given, for the command line the report prints. */
  stepsText: string;
  stepSeconds: number;
  kiosks: number;
  batchVotes: number;
  batchKiosks: number;
  writers: number;
  ingests: number;
  waitQuietMinutes: number;
  write: boolean;
  keep: boolean;
}

/** `argv` and `io`: this process's by default (a test passes its own). */
export function readPipelineOptions(argv?: string[], io?: CliIo): PipelineOptions {
  return readCli(
    {
      usage: USAGE,
      options: {
        only: { type: "string" },
        "skip-individual": { type: "boolean", default: false },
        "only-individual": { type: "boolean", default: false },
        "full-individual": { type: "boolean", default: false },
        steps: { type: "string", default: "1000,1500,2000,2500,3000,4000,5000,7500,10000" },
        "step-seconds": { type: "string", default: "25" },
        kiosks: { type: "string", default: "500" },
        "batch-votes": { type: "string", default: "10000000" },
        "batch-kiosks": { type: "string", default: "16" },
        writers: { type: "string", default: "2" },
        // One API process: on 2 cores a second one competes for the same CPU as the
        // first; `--ingest 2` measures what it does on a given machine.
        ingest: { type: "string", default: "1" },
        "wait-quiet": { type: "string", default: "0" },
        "no-write": { type: "boolean", default: false },
        keep: { type: "boolean", default: false },
      },
    },
    ({ values }) => {
      const shorthands = [values["skip-individual"], values["only-individual"]].filter(Boolean);
      if (shorthands.length > 1)
        throw new CliError("--skip-individual and --only-individual leave nothing to run");
      if (shorthands.length > 0 && values.only !== undefined)
        throw new CliError(
          "--only names what runs: without --skip-individual or --only-individual",
        );
      const all = [...INDIVIDUAL_NAMES, PIPELINE_NAME];
      const only =
        values.only !== undefined
          ? listFlag("only", values.only, (name, text) => choiceFlag(name, text, all))
          : values["skip-individual"]
            ? [PIPELINE_NAME]
            : values["only-individual"]
              ? [...INDIVIDUAL_NAMES]
              : all;
      return {
        individuals: INDIVIDUAL_NAMES.filter((n) => only.includes(n)),
        pipeline: only.includes(PIPELINE_NAME),
        fullIndividual: values["full-individual"],
        steps:
          values.steps === "none"
            ? []
            : listFlag("steps", values.steps, (name, text) => intFlag(name, text, { min: 1 })),
        stepsText: values.steps,
        stepSeconds: numberFlag("step-seconds", values["step-seconds"], { above: 0 }),
        kiosks: intFlag("kiosks", values.kiosks, { min: 1 }),
        batchVotes: intFlag("batch-votes", values["batch-votes"], { min: 0 }),
        batchKiosks: intFlag("batch-kiosks", values["batch-kiosks"], { min: 1 }),
        writers: intFlag("writers", values.writers, { min: 1 }),
        ingests: intFlag("ingest", values.ingest, { min: 1 }),
        waitQuietMinutes: numberFlag("wait-quiet", values["wait-quiet"], { min: 0 }),
        write: !values["no-write"],
        keep: values.keep,
      };
    },
    argv,
    io,
  );
}

const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";

/** The whole-pipeline bench's own resources and the services it uses. */
export const PIPELINE = Object.freeze({
  databaseUrl: `${PG}/tallyflow_bench_e2e`,
  natsUrl: process.env.NATS_URL ?? "nats://127.0.0.1:4222",
  redisUrl: process.env.REDIS_URL ?? "redis://127.0.0.1:6379",
  stream: "VOTES_E2E",
  subjectPrefix: "e2evotes",
  consumer: "e2e_writer",
  redisKeyPrefix: "tallyflow-e2e:",
  adminToken: "bench-e2e-admin-token",
  kioskFile: join(REPO_ROOT, ".local", "bench-kiosks.json"),
  runDir: join(REPO_ROOT, ".local", "runs", "bench"),
});
