import { readCommonConfig } from "../common/config.ts";
import { createLogger } from "../common/logger.ts";
import { configOrExit } from "../common/main-guard.ts";
import { createPool } from "../common/postgres.ts";
import { connectRedis } from "../common/redis.ts";
import { type PublishedResults, resultsKeys } from "../common/results-contract.ts";

// `npm run reconcile`: compares every poll's published totals in Redis with a direct
// count over `votes`. Prints each difference; exits 1 if there is any. A poll whose
// results are hidden (after_close) publishes no counts, so it is reported, not compared.
// Run it when the pipeline is idle (or expect differences of at most one interval).

const config = configOrExit(() => readCommonConfig(process.env));
const logger = createLogger("warn", { service: "reconcile" });
const pool = createPool(config.databaseUrl, logger, { max: 1, applicationName: "reconcile" });
const redis = await connectRedis(config.redisUrl, logger, "reconcile");
let differences = 0;
try {
  const { rows } = await pool.query<{ poll_id: string; option_id: string | null; n: number }>(`
    select p.id as poll_id, v.option_id, count(v.event_id) as n
    from polls p left join votes v on v.poll_id = p.id
    group by p.id, v.option_id order by p.id, v.option_id`);
  const counted = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const m = counted.get(r.poll_id) ?? new Map<string, number>();
    if (r.option_id !== null) m.set(r.option_id, r.n);
    counted.set(r.poll_id, m);
  }
  for (const [pollId, byOption] of counted) {
    const raw = await redis.get(resultsKeys(config.redisKeyPrefix, pollId).json);
    const total = [...byOption.values()].reduce((a, b) => a + b, 0);
    if (raw === null) {
      if (total > 0) {
        differences++;
        process.stdout.write(`${pollId}: not published, but ${total} votes are stored\n`);
      } else process.stdout.write(`${pollId}: not published yet (no votes)\n`);
      continue;
    }
    const published = JSON.parse(raw) as PublishedResults;
    if (published.hidden) {
      process.stdout.write(`${pollId}: results hidden until close; ${total} votes stored\n`);
      continue;
    }
    const ids = new Set([...byOption.keys(), ...published.options.map((o) => o.id)]);
    const lines: string[] = [];
    for (const id of [...ids].sort()) {
      const db = byOption.get(id) ?? 0;
      const pub = published.options.find((o) => o.id === id)?.count ?? 0;
      if (db !== pub)
        lines.push(
          `  ${id}: published ${pub}, counted ${db} (${pub - db > 0 ? "+" : ""}${pub - db})`,
        );
    }
    if (published.totalVotes !== total)
      lines.push(`  total: published ${published.totalVotes}, counted ${total}`);
    if (lines.length > 0) {
      differences++;
      process.stdout.write(
        `${pollId}: DIFFERS (version ${published.version}, asOf ${published.asOf})\n${lines.join("\n")}\n`,
      );
    } else process.stdout.write(`${pollId}: ok (${total} votes, version ${published.version})\n`);
  }
  process.stdout.write(
    differences === 0
      ? "all published results agree with votes\n"
      : `${differences} poll(s) differ\n`,
  );
  process.exitCode = differences === 0 ? 0 : 1;
} finally {
  await redis.close();
  await pool.end();
}
