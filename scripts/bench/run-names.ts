import { randomBytes } from "node:crypto";

// The resources of one benchmark run, distinct from the default ones (VOTES, votes.*,
// tallyflow:, database tallyflow) and unique per run: `npm run bench` may start a bench
// while another copy runs, and fixed names would let one drop the other's database and
// stream mid-run. The bench removes all of them at the end (also on Ctrl-C).

const BENCH_ADMIN_TOKEN = "bench-admin-token-0123456789";
/** The headers of a bench's admin API requests (the services take BENCH_ADMIN_TOKEN). */
export const BENCH_ADMIN_HEADERS = {
  authorization: `Bearer ${BENCH_ADMIN_TOKEN}`,
  "content-type": "application/json",
};
/** The poll a bench registers and votes in. */
export const BENCH_POLL = { id: "bench", optionIds: ["red", "green", "blue", "yellow"] };

export interface BenchRun {
  runId: string;
  names: { database: string; stream: string; subjectPrefix: string; redisKeyPrefix: string };
  databaseUrl: string;
  natsUrl: string;
  redisUrl: string;
}

/** `kind` names the bench (ingest, reads): it shows in every resource's name. */
export function benchRun(kind: string, env: NodeJS.ProcessEnv = process.env): BenchRun {
  const runId = randomBytes(3).toString("hex");
  const names = {
    database: `tallyflow_bench_${kind}_${runId}`,
    stream: `VOTES_BENCH_${kind.toUpperCase()}_${runId}`,
    subjectPrefix: `bench${kind}_${runId}`,
    redisKeyPrefix: `tallyflow-bench-${kind}:${runId}:`,
  };
  return {
    runId,
    names,
    databaseUrl: `${env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432"}/${names.database}`,
    natsUrl: env.NATS_URL ?? "nats://127.0.0.1:4222",
    redisUrl: env.REDIS_URL ?? "redis://127.0.0.1:6379",
  };
}

/** The environment every service of the run gets: its resources, its admin token, quiet logs. */
export function benchServiceEnv(run: BenchRun, port: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_ENV: "production",
    PORT: String(port),
    HOST: "127.0.0.1",
    DATABASE_URL: run.databaseUrl,
    NATS_URL: run.natsUrl,
    REDIS_URL: run.redisUrl,
    STREAM_NAME: run.names.stream,
    SUBJECT_PREFIX: run.names.subjectPrefix,
    REDIS_KEY_PREFIX: run.names.redisKeyPrefix,
    ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
    // NODE_ENV=production wants real NATS passwords; the shared bench server checks none.
    NATS_API_PASSWORD: "bench-nats-api-password",
    NATS_WRITER_PASSWORD: "bench-nats-writer-password",
    NATS_MIGRATE_PASSWORD: "bench-nats-migrate-password",
    LOG_LEVEL: "warn",
    // Runs may start several APIs on one host: no fixed metrics port to collide on.
    API_METRICS_PORT: "0",
  };
}
