import { randomBytes, randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { readInt } from "../common/env.ts";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { VoterClaimsRebuild } from "../ingest-api/votes/voter-claims-rebuild.ts";
import { VoterGuard, voterClaimsKeys } from "../ingest-api/votes/voter-guard.ts";
import { benchCommand } from "./bench/command-line.ts";
import { verdictLines } from "./bench/verdict.ts";
import { readCli } from "./cli.ts";

// `npm run bench:voter-rebuild`: how long the API takes to give Redis back the
// one-vote-per-voter claims of 1,000,000 voters after Redis restarted empty (their polls
// answer 503 voter_claims_rebuilding meanwhile). Seeds voter_ballots in a scratch database,
// runs the real VoterClaimsRebuild under a scratch Redis prefix, and compares it with the
// Postgres side alone (the same keyset reads, nothing written). Then checks a sample of
// voters is refused again, and deletes the database and every key it wrote.
//
// Tunables (env): BENCH_VOTERS (1000000), BENCH_POLLS (comma-separated poll counts the
// voters are spread over, "1,100"), BENCH_BATCH_ROWS (10000, VOTER_REBUILD_BATCH_ROWS),
// PG_BASE_URL (postgres://postgres@127.0.0.1:5432), REDIS_URL.

const USAGE = `usage: npm run bench:voter-rebuild   (tuned by environment variables)
  BENCH_VOTERS      voters whose claims are rebuilt (default 1000000)
  BENCH_POLLS       comma-separated poll counts the voters are spread over (default 1,100)
  BENCH_BATCH_ROWS  voter_ballots rows per rebuild step, as VOTER_REBUILD_BATCH_ROWS (10000)
  PG_BASE_URL, REDIS_URL`;
readCli({ usage: USAGE, options: {} }, () => undefined);
const env = process.env;
const voters = readInt(env, "BENCH_VOTERS", 1_000_000, { min: 1 });
const batchRows = readInt(env, "BENCH_BATCH_ROWS", 10_000, { min: 100, max: 20_000 });
const pollCounts = (env.BENCH_POLLS ?? "1,100").split(",").map((n) => {
  const count = Number(n);
  if (!Number.isInteger(count) || count < 1) throw new Error(`BENCH_POLLS: bad count "${n}"`);
  return count;
});
const pgBase = env.PG_BASE_URL ?? "postgres://postgres@127.0.0.1:5432";
const redisUrl = env.REDIS_URL ?? "redis://127.0.0.1:6379";
// The API's defaults (ingest-api/config.ts).
const BUCKET_BITS = 16;
const RETENTION_MS = 2_592_000_000;
const SAMPLE = 1_000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
// The rebuild's own WARN ("claims are missing … rebuilding") is what this bench provokes:
// errors only, so that stdout stays the report.
const logger = createLogger("error");
const suffix = randomBytes(4).toString("hex");
const databaseUrl = `${pgBase}/tf_bench_rebuild_${suffix}`;
const prefix = `tfr${suffix.slice(0, 6)}:`;

await ensureDatabase(databaseUrl);
const pool = createPool(databaseUrl, logger, { max: 2, applicationName: "bench-voter-rebuild" });
const redis = await connectRedis(redisUrl, logger, "bench-voter-rebuild");
const server = /^redis_version:(\S+)/m.exec(await redis.info("server"))?.[1] ?? "unknown";

interface Row {
  polls: number;
  what: string;
  seconds: number;
  /** This process's CPU (user + system) over the run: what the API would spend. */
  cpuSeconds: number;
  usedMemoryDelta?: number;
  refusedAgain?: { taken: number; sampled: number };
}

function cpuSince(start: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(start);
  return (user + system) / 1e6;
}

async function usedMemory(): Promise<number> {
  const match = /^used_memory:(\d+)/m.exec(await redis.info("memory"));
  if (!match?.[1]) throw new Error("INFO memory has no used_memory");
  return Number(match[1]);
}

async function deleteUnder(match: string): Promise<void> {
  for await (const keys of redis.scanIterator({ MATCH: match, COUNT: 10_000 }))
    if (keys.length > 0) await redis.unlink(keys);
}

async function seed(polls: number): Promise<void> {
  await pool.query("truncate voter_ballots");
  await pool.query("delete from polls");
  await pool.query(
    `insert into polls (id, slug, title, one_vote_per_voter)
     select 'bench-' || i, 'bench-' || i, 'Bench ' || i, true from generate_series(0, $1::int - 1) i`,
    [polls],
  );
  // Voter ids as kiosks send them (a member number), event ids random as UUIDv7's tail is.
  await pool.query(
    `insert into voter_ballots (poll_id, voter_id, event_id)
     select 'bench-' || (i % $2::int), 'member-' || i, gen_random_uuid()
     from generate_series(1, $1::int) i`,
    [voters, polls],
  );
  await pool.query("vacuum analyze voter_ballots");
}

/** The rebuild's query (VoterClaimsRebuild's #ballots): the next batchRows after `after`. */
async function step(pollId: string, after: string | null): Promise<{ voter_id: string }[]> {
  const { rows } =
    after === null
      ? await pool.query<{ voter_id: string }>(
          `select voter_id, event_id::text as event_id from voter_ballots
           where poll_id = $1 order by voter_id limit $2`,
          [pollId, batchRows],
        )
      : await pool.query<{ voter_id: string }>(
          `select voter_id, event_id::text as event_id from voter_ballots
           where poll_id = $1 and voter_id > $2 order by voter_id limit $3`,
          [pollId, after, batchRows],
        );
  return rows;
}

/** The rebuild's Postgres reads alone: every poll's ballots in keyset steps of batchRows. */
async function readOnly(): Promise<number> {
  const started = performance.now();
  const { rows: polls } = await pool.query<{ id: string }>(
    "select id from polls where one_vote_per_voter and archived_at is null order by id",
  );
  for (const { id } of polls) {
    let after: string | null = null;
    for (;;) {
      const rows = await step(id, after);
      if (rows.length < batchRows) break;
      after = rows[rows.length - 1]!.voter_id;
    }
  }
  return (performance.now() - started) / 1000;
}

/** A second vote (new eventId) by SAMPLE seeded voters: every one must be "taken". */
async function sampleRefused(guard: VoterGuard): Promise<{ taken: number; sampled: number }> {
  const { rows } = await pool.query<{ poll_id: string; incarnation: number; voter_id: string }>(
    `select b.poll_id, p.incarnation, b.voter_id
     from voter_ballots b tablesample bernoulli (1) join polls p on p.id = b.poll_id limit $1`,
    [SAMPLE],
  );
  let taken = 0;
  for (const r of rows) {
    const poll = { pollId: r.poll_id, incarnation: r.incarnation };
    if ((await guard.claim(guard.claimFor(poll, r.voter_id, randomUUID()))) === "taken") taken++;
  }
  return { taken, sampled: rows.length };
}

const results: Row[] = [];
try {
  await migrate(pool, logger);
  for (const polls of pollCounts) {
    log(`seeding ${voters.toLocaleString("en")} voter_ballots rows over ${polls} poll(s)`);
    await seed(polls);
    await readOnly(); // warm the cache: both measured runs read from memory
    const readCpu = process.cpuUsage();
    const read = await readOnly();
    results.push({
      polls,
      what: "Postgres reads alone (reference)",
      seconds: read,
      cpuSeconds: cpuSince(readCpu),
    });

    await deleteUnder(`${prefix}*`);
    const guard = new VoterGuard(redis, prefix, BUCKET_BITS, RETENTION_MS);
    const rebuild = new VoterClaimsRebuild(
      pool,
      redis,
      guard,
      // No stream here: nothing to wait for before reading voter_ballots.
      { checkIntervalMs: 3_600_000, batchRows, lockMs: 30_000, writerWaitMs: 0 },
      logger,
      async () => ({ published: 0, unstored: undefined }),
    );
    const before = await usedMemory();
    const started = performance.now();
    const cpu = process.cpuUsage();
    const summary = await rebuild.ensure();
    const seconds = (performance.now() - started) / 1000;
    const cpuSeconds = cpuSince(cpu);
    if (summary?.voters !== voters)
      throw new Error(`rebuild restored ${summary?.voters} voters, expected ${voters}`);
    const usedMemoryDelta = (await usedMemory()) - before;
    if ((await redis.exists(voterClaimsKeys(prefix).restored)) !== 1)
      throw new Error("the rebuild did not write its marker");
    const refusedAgain = await sampleRefused(guard);
    results.push({
      polls,
      what: "VoterClaimsRebuild",
      seconds,
      cpuSeconds,
      usedMemoryDelta,
      refusedAgain,
    });
    log(`rebuilt ${voters} voters of ${polls} poll(s) in ${seconds.toFixed(2)} s`);
    await deleteUnder(`${prefix}*`);
  }
} finally {
  await deleteUnder(`${prefix}*`).catch(() => {});
  await redis.close();
  await pool.end();
  await dropDatabase(databaseUrl);
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const lines = [
  "| | |",
  "|---|---|",
  `| Machine | ${cpus().length} cores, ${cpus()[0]?.model ?? "unknown"} |`,
  `| Node / Redis | ${process.version} / Redis ${server} |`,
  `| Date | ${new Date().toISOString()} |`,
  `| Command | \`${benchCommand("bench:voter-rebuild", env, [])}\` |`,
  `| Settings | ${fmt(voters)} voters, ${batchRows.toLocaleString("en")} rows a step (VOTER_REBUILD_BATCH_ROWS), 2^${BUCKET_BITS} buckets a poll |`,
  `| Load average at the end | ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" / ")} (1 / 5 / 15 min) |`,
  "",
  "| Polls | What | Seconds | Voters/s | × the reads alone | Node CPU s | used_memory Δ | Second votes refused after |",
  "|---:|---|---:|---:|---:|---:|---:|---:|",
];
for (const r of results) {
  const reference = results.find((x) => x.polls === r.polls && x.what !== "VoterClaimsRebuild");
  const ratio = reference ? (r.seconds / reference.seconds).toFixed(1) : "";
  lines.push(
    `| ${r.polls} | ${r.what} | ${r.seconds.toFixed(2)} | ${fmt(voters / r.seconds)} | ${ratio} | ${r.cpuSeconds.toFixed(2)} | ${r.usedMemoryDelta === undefined ? "" : fmt(r.usedMemoryDelta)} | ${r.refusedAgain === undefined ? "" : `${r.refusedAgain.taken} / ${r.refusedAgain.sampled}`} |`,
  );
}
// A sampled voter whose second vote is let through means the rebuild lost a claim: a
// failed run, not a slow one.
const sampled = results.flatMap((r) => (r.refusedAgain ? [r.refusedAgain] : []));
const refusedAll = sampled.every((s) => s.taken === s.sampled && s.sampled > 0);
lines.push(
  "",
  "No speed target: the times against the reads alone are the result.",
  "",
  ...verdictLines([
    {
      what: `second votes of sampled voters refused after each rebuild (${pollCounts.join(", ")} polls)`,
      measured: sampled.map((s) => `${s.taken} of ${s.sampled}`).join(", "),
      target: "every one",
      met: refusedAll,
    },
  ]),
);
process.stdout.write(`${lines.join("\n")}\n`);
if (!refusedAll) process.exitCode = 1;
