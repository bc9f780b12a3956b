import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import type { StoredVote } from "../common/vote.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchRun } from "./bench/run-names.ts";
import { ratioText } from "./bench/verdict.ts";
import { generateVotes, optionIds, pollIds, type VoteDataShape } from "./bench/vote-data.ts";
import {
  copyReference,
  deleteStream,
  drainWithWriter,
  fillStream,
  type WriterBench,
} from "./bench/writer-run.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:writer [-- --votes 1000000]`: stream-to-committed-rows throughput of the
// batch writer against the reference, one COPY FROM STDIN of the same rows into an
// identical empty table with the same indexes, measured in the same run at each size a
// writer run stores (the --votes runs and the --sweep-votes runs), so that every ratio
// compares equal amounts of rows. Kiosk batches go straight into `votes`; the same batches
// in one-vote-per-voter polls claim each voter's ballot first, on the same direct path since
// 2026-12-08 (before, they took the staging path: COPY into a staging table, ballots
// claimed, INSERT … SELECT, which a voter's second vote still takes).

const USAGE = `usage: npm run bench:writer -- [--votes N] [--sweep-votes N]
  --votes N         votes of the throughput runs against the COPY reference (default 1000000)
  --sweep-votes N   votes of each batch-size run (default 200000; 0 = no batch-size sweep)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL`;

const { VOTES, SWEEP_VOTES } = readCli(
  {
    usage: USAGE,
    options: {
      votes: { type: "string", default: "1000000" },
      "sweep-votes": { type: "string", default: "200000" },
    },
  },
  ({ values }) => ({
    VOTES: intFlag("votes", values.votes, { min: 1 }),
    SWEEP_VOTES: intFlag("sweep-votes", values["sweep-votes"], { min: 0 }),
  }),
);
// Names of this run's own (run-names.ts): two runs at once (another helper's, or `npm run
// bench` beside a direct run) no longer drop each other's database and stream.
const run = benchRun("writer");
const NATS_URL = run.natsUrl;
const DB_URL = run.databaseUrl;
const STREAM = run.names.stream;
const SUBJECTS = run.names.subjectPrefix;
const BENCH: WriterBench = {
  dbUrl: DB_URL,
  natsUrl: NATS_URL,
  stream: STREAM,
  subjectPrefix: SUBJECTS,
};
const logger = createLogger("warn");

const shape: VoteDataShape = {
  votes: VOTES,
  polls: 20,
  optionsPerPoll: 8,
  kiosks: 500,
  days: 1,
  voterShare: 0.3,
};

interface Scenario {
  name: string;
  votes: StoredVote[];
  votesPerMessage: number;
  batchMaxMessages: number;
  /** The polls refuse a second vote per voter: every batch with a voter id claims ballots. */
  oneVotePerVoter: boolean;
}

interface Measured {
  scenario: Scenario;
  rowsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  batches: number;
}

async function resetDatabase(): Promise<void> {
  await dropDatabase(DB_URL);
  await ensureDatabase(DB_URL);
  const pool = createPool(DB_URL, logger, { max: 1 });
  await migrate(pool, logger);
  const polls = pollIds(shape);
  const options = optionIds(shape);
  await pool.query(
    "insert into polls (id, slug, title) select id, id, 'Bench ' || id from unnest($1::text[]) as id",
    [polls],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     select p, o, o, n from unnest($1::text[]) p, unnest($2::text[]) with ordinality as x(o, n)`,
    [polls, options],
  );
  await pool.end();
}

/** The reference: one COPY of the same rows into an empty copy of votes (writer-run.ts). */
async function measureReference(votes: StoredVote[]): Promise<number> {
  const pool = createPool(DB_URL, logger, { max: 1 });
  try {
    return await copyReference(pool, votes);
  } finally {
    await pool.end();
  }
}

/**
 * The transport's own ceiling for one-vote messages: fetch and ack every message with
 * nats.js and do nothing else. A writer cannot beat this per message.
 */
async function measureTransport(votes: StoredVote[]): Promise<number> {
  const messages = await fillStream(BENCH, votes, 1);
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(STREAM, {
    durable_name: "transport",
    ack_policy: AckPolicy.Explicit,
    max_ack_pending: 50_000,
  });
  const consumer = await jetstream(nc).consumers.get(STREAM, "transport");
  let seen = 0;
  const started = performance.now();
  while (seen < messages) {
    const iter = await consumer.fetch({
      max_messages: Math.min(20_000, messages - seen),
      expires: 5_000,
    });
    for await (const m of iter) {
      m.ack();
      seen++;
    }
    await nc.flush();
  }
  const seconds = (performance.now() - started) / 1000;
  await nc.close();
  return messages / seconds;
}

async function measureWriter(s: Scenario): Promise<Measured> {
  const pool = createPool(DB_URL, logger, { max: 1 });
  await pool.query(
    "truncate votes, vote_rollups, poll_changes, voter_ballots, rejected_votes, dead_letters",
  );
  await pool.query("update polls set one_vote_per_voter = $1", [s.oneVotePerVoter]);
  await pool.query("vacuum analyze votes");
  const messages = await fillStream(BENCH, s.votes, s.votesPerMessage);
  const run = await drainWithWriter(BENCH, {
    messages,
    batchMaxMessages: s.batchMaxMessages,
    consumer: "bench",
  });
  const { rows } = await pool.query<{ n: number; rolled: number; ballots: number }>(
    `select (select count(*) from votes) as n,
            (select coalesce(sum(count), 0)::bigint from vote_rollups) as rolled,
            (select count(*) from voter_ballots) as ballots`,
  );
  await pool.end();
  const expected = new Set(s.votes.map((v) => v.eventId)).size;
  // One ballot per voter of a one-vote-per-voter poll, whichever path stored the votes.
  const ballots = s.oneVotePerVoter ? s.votes.filter((v) => v.voterId !== undefined).length : 0;
  const got = rows[0]!;
  if (got.n !== expected || got.rolled !== expected || got.ballots !== ballots)
    throw new Error(
      `${s.name}: stored ${got.n} rows, rolled up ${got.rolled}, claimed ${got.ballots} ballots; expected ${expected}, ${expected} and ${ballots}`,
    );
  return {
    scenario: s,
    seconds: run.seconds,
    rowsPerSecond: s.votes.length / run.seconds,
    peakRssMb: run.peakRssMb,
    batches: messages,
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const times = (n: number) => ratioText(n).replace("ratio ", "");

const started = new Date();
process.stderr.write(`generating ${fmt(VOTES)} votes...\n`);
const all = generateVotes(shape);
const sweep = all.slice(0, SWEEP_VOTES);
// The one-vote-per-voter runs store every vote: one ballot per voter, no second vote.
const ownVoters = all.map((v, i) =>
  v.voterId === undefined ? v : { ...v, voterId: `voter-${i}` },
);
await resetDatabase();
process.stderr.write(`reference COPY of ${fmt(VOTES)} rows...\n`);
const reference = await measureReference(all);
process.stderr.write(`reference COPY of ${fmt(SWEEP_VOTES)} rows...\n`);
const sweepReference = SWEEP_VOTES > 0 ? await measureReference(sweep) : Number.NaN;
process.stderr.write("transport ceiling (fetch + ack only)...\n");
const transport = await measureTransport(all);
const results: Measured[] = [];
for (const s of [
  {
    name: `${fmt(VOTES)} votes, one per message`,
    votes: all,
    votesPerMessage: 1,
    batchMaxMessages: 20_000,
    oneVotePerVoter: false,
  },
  {
    name: `${fmt(VOTES)} votes, 100 per message (kiosk batches): the direct path`,
    votes: all,
    votesPerMessage: 100,
    batchMaxMessages: 20_000,
    oneVotePerVoter: false,
  },
  {
    name: `${fmt(VOTES)} votes, 100 per message, the polls one-vote-per-voter (${Math.round(shape.voterShare * 100)} % with a voter id, each once): the direct path claiming their ballots (the staging path before 2026-12-08)`,
    votes: ownVoters,
    votesPerMessage: 100,
    batchMaxMessages: 20_000,
    oneVotePerVoter: true,
  },
] satisfies Scenario[]) {
  process.stderr.write(`writer: ${s.name}...\n`);
  results.push(await measureWriter(s));
}
const sweepResults: Measured[] = [];
for (const size of SWEEP_VOTES > 0 ? [100, 1_000, 5_000, 20_000] : []) {
  const s: Scenario = {
    name: `batch ${fmt(size)}`,
    votes: sweep,
    votesPerMessage: 1,
    batchMaxMessages: size,
    oneVotePerVoter: false,
  };
  process.stderr.write(`writer sweep: ${s.name}...\n`);
  sweepResults.push(await measureWriter(s));
}
await deleteStream(BENCH);
// Nothing in the database is worth keeping: each run starts from a fresh one.
await dropDatabase(DB_URL);

const lines = [
  machineLine(started),
  `Command: \`${benchCommand("bench:writer", process.env, ["--votes", String(VOTES), "--sweep-votes", String(SWEEP_VOTES)])}\``,
  "",
  "| what | rows/s | × reference | seconds | writer peak RSS |",
  "| --- | ---: | ---: | ---: | ---: |",
  `| reference: one COPY FROM STDIN of ${fmt(VOTES)} rows into an empty copy of \`votes\` (same indexes) | ${fmt(reference)} | ${times(1)} | ${(VOTES / reference).toFixed(1)} | – |`,
  `| transport ceiling: nats.js fetch + ack of the one-vote messages, nothing else | ${fmt(transport)} msg/s | ${times(transport / reference)} | ${(VOTES / transport).toFixed(1)} | – |`,
  ...results.map(
    (r) =>
      `| writer, ${r.scenario.name} | ${fmt(r.rowsPerSecond)} | ${times(r.rowsPerSecond / reference)} | ${r.seconds.toFixed(1)} | ${fmt(r.peakRssMb)} MB |`,
  ),
  ...(SWEEP_VOTES > 0
    ? [
        "",
        `Batch size (\`BATCH_MAX_MESSAGES\`, one vote per message, ${fmt(SWEEP_VOTES)} votes into an empty table), against a COPY of the same ${fmt(SWEEP_VOTES)} rows measured in this run (${fmt(sweepReference)} rows/s, ${(SWEEP_VOTES / sweepReference).toFixed(1)} s):`,
        "",
        "| batch size | rows/s | × reference | writer peak RSS |",
        "| ---: | ---: | ---: | ---: |",
        ...sweepResults.map(
          (r) =>
            `| ${fmt(r.scenario.batchMaxMessages)} | ${fmt(r.rowsPerSecond)} | ${times(r.rowsPerSecond / sweepReference)} | ${fmt(r.peakRssMb)} MB |`,
        ),
      ]
    : []),
  "",
  "No target: the ratios to the COPY of the same rows are the result.",
];
process.stdout.write(`${lines.join("\n")}\n`);
