import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { machineLine } from "./bench/machine.ts";
import { benchRun } from "./bench/run-names.ts";
import { intFlag, readCli } from "./cli.ts";

// REGISTER_RETENTION_DAYS's cost (migration 054, issue 29): at a table of N register polls
// of which E ended past retention, each with its two options, its state row, one person row
// and two events, the time of one retention step (expire_registers: at most --batch
// registers deleted in one statement, their state and people by cascade, each queued for
// the purge), of the purge steps that then drain them (purge_deleted_polls, up to
// --purge-polls registers a step as POLL_PURGE_BATCH_POLLS, migration 060; 1: a poll a step,
// as before it), and of a step once nothing has expired (the caught-up case, every idle turn).

const USAGE = `usage: npm run bench:register-retention -- [--registers N] [--expired N] [--batch N] [--steps N] [--purge-polls N]
  --registers    register polls loaded (1000000)
  --expired      of which ended past retention (350000: a national day)
  --batch        REGISTER_RETENTION_BATCH: registers a step deletes (250)
  --steps        retention steps measured (10)
  --purge-polls  POLL_PURGE_BATCH_POLLS: deleted polls a purge step takes (100)`;

const options = readCli(
  {
    usage: USAGE,
    options: {
      registers: { type: "string", default: "1000000" },
      expired: { type: "string", default: "350000" },
      batch: { type: "string", default: "250" },
      steps: { type: "string", default: "10" },
      "purge-polls": { type: "string", default: "100" },
    },
  },
  ({ values }) => ({
    registers: intFlag("registers", values.registers, { min: 1 }),
    expired: intFlag("expired", values.expired, { min: 1 }),
    batch: intFlag("batch", values.batch, { min: 1 }),
    steps: intFlag("steps", values.steps, { min: 1 }),
    purgePolls: intFlag("purge-polls", values["purge-polls"], { min: 1 }),
  }),
);
if (options.expired > options.registers) {
  console.error("--expired cannot be more than --registers");
  process.exit(2);
}

const KEEP_DAYS = 30;
const started = new Date();
const logger = createLogger("silent");
const run = benchRun("register_retention");
await ensureDatabase(run.databaseUrl);
const pool = createPool(run.databaseUrl, logger, {
  max: 3,
  applicationName: "bench-register-retention",
});
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const timed = async (sql: string, params: unknown[] = []) => {
  const t0 = performance.now();
  const { rows } = await pool.query(sql, params);
  return { ms: performance.now() - t0, rows };
};
try {
  await migrate(pool, logger);
  console.log(machineLine(started));
  const load = performance.now();
  const client = await pool.connect();
  try {
    // The load only: the polls' per-row triggers (notifications, change log) are a create's
    // cost, not retention's (the slug's default included), and would add a million notifications to one transaction.
    await client.query("set session_replication_role = replica");
    await client.query(
      "insert into schools (id, name) select 's' || i, 'S' from generate_series(1, 1000) i",
    );
    // Registers 1..expired ended 31-60 days ago; the rest within the last 30 days.
    await client.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       select 'r' || i, 'r' || i, 'R', 's' || (i % 1000 + 1), 'register', 'roster', '{7A}',
              e - interval '45 minutes', e
       from generate_series(1, $1::int) i,
            lateral (select now() - case when i <= $2 then ${KEEP_DAYS + 1} + (i % 30)
                                          else (i % ${KEEP_DAYS}) end * interval '1 day'
                                  - (i % 600) * interval '1 minute' as e) t`,
      [options.registers, options.expired],
    );
    await client.query(
      `insert into poll_options (poll_id, id, label, position)
       select id, o, o, k from polls, unnest(array['absent', 'present']) with ordinality u(o, k)`,
    );
    await client.query(
      `insert into register_states (poll_id, school_id, group_id, starts_at, ends_at, absent, events)
       select id, school_id, '7A', starts_at, ends_at, 1, 2 from polls`,
    );
    await client.query(
      `insert into register_people (poll_id, person_id, status, last_event_at)
       select id, 'P1', 'absent', starts_at from polls`,
    );
    await client.query(
      `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
       select gen_random_uuid(), p.id, 'absent', 'k', 'P1', p.starts_at + k * interval '1 minute',
              p.starts_at, 1
       from polls p, generate_series(1, 2) k`,
    );
    await client.query("reset session_replication_role");
  } finally {
    client.release();
  }
  await pool.query("vacuum analyze");
  const loadS = (performance.now() - load) / 1000;
  const size = await pool.query<{ polls: string; votes: string }>(
    `select pg_size_pretty(pg_total_relation_size('polls')) as polls,
            (select count(*) from votes)::text as votes`,
  );
  console.log(
    `loaded ${options.registers} registers (${options.expired} expired), ${size.rows[0]!.votes} votes, polls ${size.rows[0]!.polls}, in ${loadS.toFixed(0)} s`,
  );

  const steps: number[] = [];
  const purges: number[] = [];
  const pollsPerPurge: number[] = [];
  let purgedRegisters = 0;
  const statesBefore = await pool.query("select count(*)::int as n from register_states");
  for (let i = 0; i < options.steps; i++) {
    const step = await timed("select expire_registers($1, $2) as n", [KEEP_DAYS, options.batch]);
    steps.push(step.ms);
    // The purge then drains what the step queued, --purge-polls registers a step, as the
    // writers do (POLL_PURGE_BATCH_ROWS's default: 5000).
    for (;;) {
      const purge = await timed("select done from purge_deleted_polls(5000, $1)", [
        options.purgePolls,
      ]);
      if (purge.rows.length === 0) break;
      purges.push(purge.ms);
      pollsPerPurge.push(purge.rows.length);
      purgedRegisters += purge.rows.filter((r) => r.done).length;
    }
  }
  const statesAfter = await pool.query("select count(*)::int as n from register_states");
  const deleted = statesBefore.rows[0]!.n - statesAfter.rows[0]!.n;

  // Caught up: every expired register gone (deleted here without measuring), then the step
  // that finds none, as every idle turn of a writer takes it.
  const rest = performance.now();
  for (;;) {
    const { rows } = await pool.query<{ n: number }>("select expire_registers($1, 10000) as n", [
      KEEP_DAYS,
    ]);
    if (rows[0]!.n === 0) break;
  }
  const restS = (performance.now() - rest) / 1000;
  const idle: number[] = [];
  for (let i = 0; i < 20; i++)
    idle.push((await timed("select expire_registers($1, $2)", [KEEP_DAYS, options.batch])).ms);

  console.log(
    `\n${options.steps} retention steps of ${options.batch} registers (${deleted} deleted):\n`,
  );
  console.log("| what | median ms | max ms |");
  console.log("| --- | ---: | ---: |");
  console.log(
    `| retention step (${options.batch} registers + their state, people, options; queued) | ${median(steps).toFixed(1)} | ${Math.max(...steps).toFixed(1)} |`,
  );
  console.log(
    `| purge step (up to ${options.purgePolls} expired registers: 2 votes each; median ${median(pollsPerPurge)} a step) | ${median(purges).toFixed(2)} | ${Math.max(...purges).toFixed(1)} |`,
  );
  console.log(
    `| retention step with nothing expired (caught up) | ${median(idle).toFixed(2)} | ${Math.max(...idle).toFixed(1)} |`,
  );
  const purgeS = purges.reduce((a, b) => a + b, 0) / 1000;
  console.log(
    `\npurge: ${purgedRegisters} registers in ${purges.length} steps, ${purgeS.toFixed(2)} s of purge steps: ${(purgedRegisters / purgeS).toFixed(0)} registers purged a second`,
  );
  console.log(
    `the remaining ${options.expired - deleted} expired registers deleted (steps of 10000, not purged) in ${restS.toFixed(0)} s`,
  );
} finally {
  await pool.end();
  await dropDatabase(run.databaseUrl);
}
