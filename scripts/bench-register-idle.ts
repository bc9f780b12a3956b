import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import {
  REGISTER_SENTINEL,
  registerKeys,
  registerSentinelKey,
} from "../common/register-contract.ts";
import { createPublisherMetrics } from "../result-publisher/publisher-metrics.ts";
import { RegisterPublisher } from "../result-publisher/register-publisher.ts";
import { countOverdue } from "../result-publisher/register-store.ts";
import { machineLine } from "./bench/machine.ts";
import { benchRun } from "./bench/run-names.ts";
import { intFlag, readCli } from "./cli.ts";

// A register publisher's run when nothing changed, at a kept window of N registers (issue
// 26): before migration 042 a run read every kept register (polls joined to
// register_states) and MGET their versions from Redis, whatever changed; now it reads the
// registers' change log (migration 050: empty when nothing changed) and the rosters changed
// since its cursor in Redis. "before" replays the former run's fixed reads
// (the kept query, the MGETs and the overdue count) in a snapshot as it did; "after" runs
// the publisher resumed from a current cursor, counting the overdue at every run
// (REGISTER_OVERDUE_RECOUNT_MS 0) and at most once a minute (its default).

const USAGE = `usage: npm run bench:register-idle -- [--registers N] [--runs N]
  --registers  kept registers (350000: a national day; 2450000: its 7 days kept)
  --runs       idle runs measured each way`;

const options = readCli(
  {
    usage: USAGE,
    options: {
      registers: { type: "string", default: "350000" },
      runs: { type: "string", default: "3" },
    },
  },
  ({ values }) => ({
    registers: intFlag("registers", values.registers, { min: 1 }),
    runs: intFlag("runs", values.runs, { min: 1 }),
  }),
);

const started = new Date();
const logger = createLogger("silent");
// A database and Redis prefix of this run's own (scripts/ do not use test-support/).
const run = benchRun("register_idle");
const prefix = run.names.redisKeyPrefix;
await ensureDatabase(run.databaseUrl);
const db = {
  pool: createPool(run.databaseUrl, logger, { max: 5, applicationName: "bench-register-idle" }),
  async drop() {
    await this.pool.end();
    await dropDatabase(run.databaseUrl);
  },
};
await migrate(db.pool, logger);
const redis = await connectRedis(run.redisUrl, logger, "bench-register-idle");
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
try {
  console.log(machineLine(started));
  await db.pool.query("insert into schools (id, name) values ('ash', 'Ash')");
  const now = Date.now();
  // Spread over the last 10 hours (a day's lessons), 45 minutes each.
  await db.pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
     select 'r' || i, 'r' || i, 'R', 'ash', 'register', 'roster', '{7A}',
            $1::timestamptz - (i % 600) * interval '1 minute',
            $1::timestamptz - (i % 600) * interval '1 minute' + interval '45 minutes'
     from generate_series(1, $2::int) i`,
    [new Date(now), options.registers],
  );
  await db.pool.query("vacuum analyze");

  const before: number[] = [];
  const client = await db.pool.connect();
  try {
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      await client.query("begin isolation level repeatable read read only");
      await client.query("select pg_current_snapshot()::text");
      const { rows } = await client.query<{ id: string }>(
        `select p.id, p.school_id, s.completed_at is not null as completed
         from polls p left join register_states s on s.poll_id = p.id
         where p.kind = 'register' and p.starts_at >= $1::timestamptz - 7 * interval '1 day'`,
        [new Date(now)],
      );
      const ids = rows.map((r) => r.id);
      const chunks: Promise<unknown>[] = [];
      for (let j = 0; j < ids.length; j += 1_000)
        chunks.push(
          redis.mGet(ids.slice(j, j + 1_000).map((id) => registerKeys(prefix, id).version)),
        );
      await Promise.all(chunks);
      await countOverdue(client, now, 600_000, 7);
      await client.query("commit");
      before.push(performance.now() - t0);
    }
  } finally {
    client.release();
  }

  const after = async (overdueRecountMs: number) => {
    // Every register published: the log of their creation consumed (migration 050; inserted
    // in SQL here they were not logged, as the API's polls_inserted would, 055), the
    // rosters' too (056), the sentinel kept.
    await db.pool.query("delete from register_change_log");
    await db.pool.query("delete from register_roster_change_log");
    // As autovacuum leaves it between mornings (a scan of an emptied log reads its dead
    // rows until then: measured apart in BENCHMARKS.md).
    await db.pool.query("vacuum register_change_log");
    await redis.set(registerSentinelKey(prefix), REGISTER_SENTINEL);
    const metrics = createPublisherMetrics();
    const publisher = new RegisterPublisher({
      pool: db.pool,
      redis,
      keyPrefix: prefix,
      daysKept: 7,
      maxDocumentsPerRun: 10_000,
      completionGraceMs: 600_000,
      overdueRecountMs,
      logger,
      metrics,
    });
    await publisher.run(now); // counts the overdue once, whatever the setting
    const ms: number[] = [];
    for (let i = 0; i < options.runs; i++) {
      const t0 = performance.now();
      await publisher.run(now + 1_000);
      ms.push(performance.now() - t0);
    }
    const read = (await metrics.registerRowsRead.get()).values[0]?.value ?? 0;
    return { ms: median(ms), read };
  };
  const everyRun = await after(0);
  const perMinute = await after(60_000);
  console.log(
    `\n${options.registers} kept registers, nothing changed, median of ${options.runs} runs:\n`,
  );
  console.log("| run | ms | register rows read |");
  console.log("| --- | ---: | ---: |");
  console.log(
    `| before (kept read + MGET of each + overdue count) | ${median(before).toFixed(0)} | ${options.registers} |`,
  );
  console.log(
    `| after, overdue counted every run | ${everyRun.ms.toFixed(0)} | ${everyRun.read} |`,
  );
  console.log(
    `| after, overdue counted at most once a minute (default) | ${perMinute.ms.toFixed(1)} | ${perMinute.read} |`,
  );
} finally {
  await redis.del(registerSentinelKey(prefix));
  await redis.quit();
  await db.drop();
}
