import { join, resolve } from "node:path";
import type * as Store from "../../batch-writer/store-batch.ts";
import type * as Logging from "../../common/logger.ts";
import type * as Migrations from "../../common/migrate.ts";
import type * as Postgres from "../../common/postgres.ts";
import type { StoredVote } from "../../common/vote.ts";
import { insertPoll } from "../../harness/polls.ts";
import { CliError, intFlag, readCli } from "../cli.ts";
import { processCpuSeconds } from "./proc-stats.ts";
import type * as VoteData from "./vote-data.ts";

// `node scripts/bench/store-paths-cpu.ts --tree <worktree> --label <name> [--votes N]`:
// the Postgres backend's CPU seconds per vote stored by storeBatch on each store path, for
// the code and migrations of the worktree given (so that two branches are compared with the
// same script: run it for each, alternating). CPU seconds of the one backend (its
// /proc/<pid>/stat; Postgres on this machine) rather than wall time: other work on the
// machine stretches wall time far more than the work a statement does (BENCHMARKS.md, batch
// writer, migration 047). Each run uses a database of its own (tallyflow_store_cpu_<label>).
//
// Phases, in batches of 2,000 votes (20 polls, 8 options, 500 kiosks, 30 % with a voter):
//   direct     --votes new votes in plain polls: the direct COPY path;
//   ovpv       --votes / 2 new votes in one-vote-per-voter polls: ballots claimed, on the
//              direct path since 2026-12-08 (staging for a batch with a voter's second vote);
//   redelivered half of the direct batches again, each with one vote repeated (straight to
//              the staging path, no failed COPY first): every vote a duplicate.

const USAGE = `usage: node scripts/bench/store-paths-cpu.ts --tree DIR --label NAME [--votes N]
  --tree DIR    the worktree whose batch writer and migrations are measured
  --label NAME  [a-z0-9_]+, names the run and its database
  --votes N     votes of the direct phase (default 200000)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432)`;

const { TREE, LABEL, VOTES } = readCli(
  {
    usage: USAGE,
    options: {
      tree: { type: "string" },
      label: { type: "string" },
      votes: { type: "string", default: "200000" },
    },
  },
  ({ values }) => {
    if (values.tree === undefined) throw new CliError("--tree is required");
    if (!/^[a-z0-9_]+$/.test(values.label ?? ""))
      throw new CliError("--label is required: [a-z0-9_]+");
    return {
      TREE: resolve(values.tree),
      LABEL: values.label as string,
      VOTES: intFlag("votes", values.votes, { min: 2_000 }),
    };
  },
);

const from = <T>(path: string): Promise<T> => import(join(TREE, path));
const { createLogger } = await from<typeof Logging>("common/logger.ts");
const { migrate } = await from<typeof Migrations>("common/migrate.ts");
const { createPool, dropDatabase, ensureDatabase } =
  await from<typeof Postgres>("common/postgres.ts");
const { storeBatch } = await from<typeof Store>("batch-writer/store-batch.ts");
const { generateVotes, pollIds, optionIds } = await from<typeof VoteData>(
  "scripts/bench/vote-data.ts",
);
// The polls are rows of the registry, the same in every tree's schema: this tree's helper.

type Batch = Parameters<typeof Store.storeBatch>[2];
type Result = Awaited<ReturnType<typeof Store.storeBatch>>;

const BATCH = 2_000;
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const url = `${PG}/tallyflow_store_cpu_${LABEL}`;
const logger = createLogger("warn");
await dropDatabase(url);
await ensureDatabase(url);
// One connection: every statement runs in the one backend whose CPU is read.
const pool = createPool(url, logger, { max: 1, applicationName: `store-cpu-${LABEL}` });
await migrate(pool, logger);
const shape: VoteData.VoteDataShape = {
  votes: VOTES,
  polls: 20,
  optionsPerPoll: 8,
  kiosks: 500,
  days: 1,
  voterShare: 0.3,
};
for (const p of pollIds(shape)) {
  await insertPoll(pool, p, optionIds(shape));
  await insertPoll(pool, p.replace("poll", "ovpv"), optionIds(shape), { oneVotePerVoter: true });
}
const backend = async () =>
  (await pool.query<{ p: number }>("select pg_backend_pid() as p")).rows[0]!.p;
const pid = await backend();

let seq = 1;
const batches = (votes: readonly StoredVote[]): Batch[] => {
  const out: Batch[] = [];
  for (let i = 0; i < votes.length; i += BATCH)
    out.push(votes.slice(i, i + BATCH).map((v) => ({ ...v, streamSeq: seq++ })));
  return out;
};

const rows: string[] = [];
async function phase(name: string, list: readonly Batch[], check: (r: Result) => void) {
  const pg0 = processCpuSeconds(pid) ?? Number.NaN;
  const node0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of list) check(await storeBatch(pool, "VOTES", b, []));
  const wall = (performance.now() - t0) / 1000;
  const node = process.cpuUsage(node0);
  const pgCpu = (processCpuSeconds(pid) ?? Number.NaN) - pg0;
  const n = list.reduce((a, b) => a + b.length, 0);
  rows.push(
    `| ${LABEL} | ${name} | ${n.toLocaleString("en-US")} | ${((pgCpu * 1e6) / n).toFixed(1)} | ${pgCpu.toFixed(2)} | ${((node.user + node.system) / 1e6).toFixed(2)} | ${wall.toFixed(1)} |`,
  );
}

const plain = generateVotes(shape);
const direct = batches(plain);
await phase("direct (new kiosk batches)", direct, (r) => {
  if (r.inserted !== r.received) throw new Error(`not all stored: ${JSON.stringify(r)}`);
});
const ovpv = generateVotes({ ...shape, votes: Math.floor(VOTES / 2), seed: 7 }).map((v) => ({
  ...v,
  pollId: v.pollId.replace("poll", "ovpv"),
}));
await phase("one-vote-per-voter polls (ballots claimed)", batches(ovpv), () => {});
const again = direct
  .slice(0, Math.ceil(direct.length / 2))
  .map((b) => [...b, b[0]!].map((v) => ({ ...v, streamSeq: seq++ })));
await phase("staging (redelivered, all duplicates)", again, (r) => {
  if (r.inserted !== 0) throw new Error(`stored again: ${JSON.stringify(r)}`);
});
const { rows: size } = await pool.query<{ keys: string; votes: number }>(`
  select pg_size_pretty(sum(pg_relation_size(i.indexrelid))) as keys,
         (select count(*) from votes)::int as votes
  from pg_partition_tree('votes') t join pg_index i on i.indrelid = t.relid
  where t.isleaf and i.indisunique`);
if ((await backend()) !== pid) throw new Error("the backend changed: its CPU was not all read");
await pool.end();
await dropDatabase(url);

console.log(
  [
    "| run | phase | votes | Postgres backend CPU µs/vote | backend CPU s | Node CPU s | wall s |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
  ].join("\n"),
);
console.log(`\n${LABEL}: votes' unique keys ${size[0]!.keys} for ${size[0]!.votes} votes`);
