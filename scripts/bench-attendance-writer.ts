import { setTimeout as sleep } from "node:timers/promises";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { v7 as uuidv7 } from "uuid";
import { localInstant } from "../common/attendance/school-day.ts";
import { createLogger } from "../common/logger.ts";
import { createPool, dropDatabase } from "../common/postgres.ts";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { ensureVotesStream } from "../common/votes-stream.ts";
import { startNode, stopChild } from "../harness/child-processes.ts";
import { prng } from "../harness/seeded-random.ts";
import { attendanceDayDatabase } from "./bench/attendance-day-database.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { peakRssMb, processCpuSeconds } from "./bench/proc-stats.ts";
import { benchLog as log } from "./bench/progress.ts";
import { benchRun } from "./bench/run-names.ts";
import { ratioText, ratioVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:attendance-writer`: what keeping the presence state costs the batch
// writer (batch-writer/presence-upkeep.ts). One school day of `--schools` schools of
// `--people` people each (in from 07:30, out from 15:00, school-local, through
// `--registers` doors a school, a temperature with every check-in), in kiosk batches of
// `--per-message` events, stored by the real writer (a child process) from a stream of its
// own, timed stream → committed rows. The reference is the same writer on the same
// messages with the same polls as plain vote polls (kind `vote`: no presence upkeep),
// measured in the same run; the rounds alternate the two so that a busy moment of the
// machine hits both. The verdict: throughput with presence upkeep / without it ≥ 0.7
// (medians of the rounds). Then, for scale, what writing the same person-day rows costs
// Postgres alone: one INSERT … SELECT of the morning's rows and one UPDATE … FROM of the
// afternoon's, from the stored events (no reads, no Node), which bounds the ratio any
// upkeep of this table can reach; and what settling that day costs the idle writer later
// (attendance_settle_days, migration 025: the one write of a person-day that is not
// heap-only, done once the day is over, off the batches' path).

const USAGE = `usage: npm run bench:attendance-writer -- [--schools N] [--people N] [--registers N] [--per-message N] [--rounds N]
  --schools N       schools (default 50)
  --people N        people a school (default 10000)
  --registers N     doors (attendance registers) a school (default 4)
  --per-message N   events a kiosk batch (JetStream message) (default 100)
  --rounds N        runs of each mode, alternating (default 2)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL`;

const opts = readCli(
  {
    usage: USAGE,
    options: {
      schools: { type: "string", default: "50" },
      people: { type: "string", default: "10000" },
      registers: { type: "string", default: "4" },
      "per-message": { type: "string", default: "100" },
      rounds: { type: "string", default: "2" },
    },
  },
  ({ values }) => ({
    schools: intFlag("schools", values.schools, { min: 1 }),
    people: intFlag("people", values.people, { min: 1 }),
    registers: intFlag("registers", values.registers, { min: 1, max: 100 }),
    perMessage: intFlag("per-message", values["per-message"], { min: 1, max: 1_000 }),
    rounds: intFlag("rounds", values.rounds, { min: 1, max: 20 }),
  }),
);
// Names of this run's own (run-names.ts): two runs at once (alternated branches on a shared
// machine) no longer drop each other's database and stream.
const run = benchRun("attendancewriter");
const NATS_URL = run.natsUrl;
const DB_URL = run.databaseUrl;
const STREAM = run.names.stream;
const SUBJECTS = run.names.subjectPrefix;
const TARGET = 0.7;
const logger = createLogger("warn");
// Schools around the world, a +05:45 one among them: the local day is computed per school.
const ZONES = ["Europe/London", "America/New_York", "Asia/Kathmandu", "Australia/Sydney"];
const DAY = "2026-05-06";

type Mode = "vote" | "attendance";

interface School {
  id: string;
  timeZone: string;
  registers: string[];
}

const schools: School[] = Array.from({ length: opts.schools }, (_, s) => {
  const id = `school-${String(s + 1).padStart(4, "0")}`;
  return {
    id,
    timeZone: ZONES[s % ZONES.length]!,
    registers: Array.from({ length: opts.registers }, (_, r) => `${id}-door-${r + 1}`),
  };
});

/** Every person's in and out, in cast order (as kiosks would send them). */
function generateEvents(): StoredVote[] {
  const rand = prng(25);
  const events: StoredVote[] = [];
  for (const school of schools) {
    const morning = localInstant(DAY, "07:30", school.timeZone);
    const afternoon = localInstant(DAY, "15:00", school.timeZone);
    for (let p = 0; p < opts.people; p++) {
      const voterId = `${school.id}-p${p}`;
      const door = () => school.registers[Math.floor(rand() * school.registers.length)]!;
      const inAt = morning + Math.floor(rand() * 3_600_000);
      const outAt = afternoon + Math.floor(rand() * 5_400_000);
      const temperatureC = 360 + Math.floor(rand() * 15);
      events.push(
        {
          eventId: uuidv7({ msecs: inAt }),
          pollId: door(),
          optionId: "in",
          kioskId: "k",
          voterId,
          castAt: new Date(inAt).toISOString(),
          receivedAt: new Date(inAt + 500).toISOString(),
          temperatureC: temperatureC / 10,
        },
        {
          eventId: uuidv7({ msecs: outAt }),
          pollId: door(),
          optionId: "out",
          kioskId: "k",
          voterId,
          castAt: new Date(outAt).toISOString(),
          receivedAt: new Date(outAt + 500).toISOString(),
        },
      );
    }
  }
  events.sort((a, b) => (a.castAt < b.castAt ? -1 : a.castAt > b.castAt ? 1 : 0));
  // A door's kiosk sends its events: the message's kiosk is the door's.
  for (const e of events) e.kioskId = `${e.pollId}-kiosk`;
  return events;
}

async function resetDatabase(): Promise<void> {
  const pool = await attendanceDayDatabase(
    DB_URL,
    logger,
    DAY,
    schools,
    schools.flatMap((s) => s.registers.map((id) => ({ id, schoolId: s.id }))),
  );
  await pool.end();
}

/** The stream, filled with the events as kiosk batches (one door's events a message). */
async function fillStream(events: StoredVote[]): Promise<number> {
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(STREAM).catch(() => false);
  await ensureVotesStream(nc, {
    streamName: STREAM,
    subjectPrefix: SUBJECTS,
    duplicateWindowMs: 600_000,
    maxBytes: 0,
    replicas: 1,
  });
  const js = jetstream(nc);
  const byDoor = new Map<string, StoredVote[]>();
  let inFlight: Promise<unknown>[] = [];
  let messages = 0;
  const flush = async (door: string, group: StoredVote[]) => {
    inFlight.push(
      js.publish(`${SUBJECTS}.${door}`, encodeVoteMessage(group), {
        msgID: `b-${group[0]!.eventId}`,
        // A busy machine acks late: waiting is fine, failing the run is not.
        timeout: 60_000,
      }),
    );
    messages++;
    if (inFlight.length >= 500) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  };
  for (const e of events) {
    const group = byDoor.get(e.pollId) ?? [];
    group.push(e);
    if (group.length >= opts.perMessage) {
      byDoor.delete(e.pollId);
      await flush(e.pollId, group);
    } else byDoor.set(e.pollId, group);
  }
  for (const [door, group] of byDoor) await flush(door, group);
  await Promise.all(inFlight);
  await nc.close();
  return messages;
}

interface Measured {
  mode: Mode;
  round: number;
  rowsPerSecond: number;
  seconds: number;
  peakRssMb: number;
  personDays: number;
  /** The writer's updates of attendance_days, and how many of them were heap-only (HOT). */
  updates: number;
  hotUpdates: number;
  /** CPU seconds of the writer process and of its Postgres backends (at the end of the run). */
  writerCpuS: number;
  postgresCpuS: number;
}

/**
 * attendance_days's update counters (pg_stat_user_tables; the writer's backend flushed them at
 * its exit), summed over its partitions (046); the table itself where it is not partitioned.
 */
async function updateCounters(pool: ReturnType<typeof createPool>) {
  const { rows } = await pool.query<{ upd: number; hot: number }>(
    `select coalesce(sum(n_tup_upd), 0)::float8 as upd, coalesce(sum(n_tup_hot_upd), 0)::float8 as hot
     from pg_stat_user_tables where (relid = 'attendance_days'::regclass or relid in (select relid from pg_partition_tree('attendance_days')))`,
  );
  return rows[0] ?? { upd: 0, hot: 0 };
}

async function measureWriter(mode: Mode, round: number, events: StoredVote[]): Promise<Measured> {
  const pool = createPool(DB_URL, logger, { max: 1 });
  await pool.query(
    "truncate votes, vote_rollups, poll_changes, duplicate_counts, dead_letters, attendance_days, attendance_dirty, attendance_day_changes",
  );
  // The same polls, as registers or as plain vote polls: the writer keeps presence state
  // for the first only, and everything else it does is the same.
  await pool.query("update polls set kind = $1", [mode]);
  await pool.query("vacuum analyze votes");
  await pool.query("vacuum analyze attendance_days");
  const messages = await fillStream(events);
  const countersBefore = await updateCounters(pool);
  const nc = await connect({ servers: NATS_URL });
  const jsm = await jetstreamManager(nc);
  let startedAt = 0;
  const child = startNode("writer", ["batch-writer/main.ts"], {
    ...process.env,
    DATABASE_URL: DB_URL,
    NATS_URL,
    STREAM_NAME: STREAM,
    SUBJECT_PREFIX: SUBJECTS,
    CONSUMER_NAME: "bench",
    WRITER_METRICS_PORT: "0",
    LOG_LEVEL: process.env.BENCH_WRITER_LOG ?? "info",
  });
  child.process.stdout?.on("data", (chunk: Buffer) => {
    if (startedAt === 0 && chunk.toString().includes("batch writer started"))
      startedAt = performance.now();
  });
  let done = 0;
  let peak = 0;
  for (;;) {
    await sleep(100);
    peak = Math.max(peak, peakRssMb(child.pid) || 0);
    if (startedAt === 0) continue;
    const info = await jsm.consumers.info(STREAM, "bench").catch(() => undefined);
    if (
      info &&
      info.num_pending === 0 &&
      info.num_ack_pending === 0 &&
      info.delivered.stream_seq >= messages
    ) {
      done = performance.now();
      break;
    }
  }
  peak = Math.max(peak, peakRssMb(child.pid) || 0);
  // CPU time rather than wall time tells what the upkeep costs when other work shares the
  // machine: the writer's own, and its connections' (Postgres runs here, one process each).
  const writerCpuS = processCpuSeconds(child.pid) ?? 0;
  const { rows: backends } = await pool.query<{ pid: number }>(
    "select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()",
  );
  const postgresCpuS = backends.reduce((sum, b) => sum + (processCpuSeconds(b.pid) ?? 0), 0);
  await stopChild(child);
  // The writer's backend reports its counters as it ends: give the statistics a moment.
  await sleep(1_000);
  const countersAfter = await updateCounters(pool);
  const { rows } = await pool.query<{
    n: number;
    rolled: number;
    days: number;
    day_events: number;
    closed: number;
  }>(
    `select (select count(*) from votes) as n,
            (select coalesce(sum(count), 0)::bigint from vote_rollups) as rolled,
            (select count(*) from attendance_days) as days,
            (select coalesce(sum(events), 0)::bigint from attendance_days) as day_events,
            (select coalesce(sum(closed_seconds), 0)::bigint from attendance_days) as closed`,
  );
  await pool.end();
  await nc.close();
  const got = rows[0]!;
  const expectedDays = mode === "attendance" ? opts.schools * opts.people : 0;
  const expectedClosed = mode === "attendance" ? closedSecondsOf(events) : 0;
  if (
    got.n !== events.length ||
    got.rolled !== events.length ||
    got.days !== expectedDays ||
    got.day_events !== (mode === "attendance" ? events.length : 0) ||
    got.closed !== expectedClosed
  )
    throw new Error(
      `${mode}: stored ${got.n} rows, rolled up ${got.rolled}, ${got.days} person-days of ${got.day_events} events and ${got.closed} s; expected ${events.length}, ${events.length}, ${expectedDays}, and ${expectedClosed} s`,
    );
  const seconds = (done - startedAt) / 1000;
  return {
    mode,
    round,
    seconds,
    rowsPerSecond: events.length / seconds,
    peakRssMb: peak,
    personDays: got.days,
    updates: countersAfter.upd - countersBefore.upd,
    hotUpdates: countersAfter.hot - countersBefore.hot,
    writerCpuS,
    postgresCpuS,
  };
}

/** Σ (out − in) over every person, each second cut as attendance_days does (per day, floor). */
function closedSecondsOf(events: StoredVote[]): number {
  const inAt = new Map<string, number>();
  let total = 0;
  for (const e of events) if (e.optionId === "in") inAt.set(e.voterId!, Date.parse(e.castAt));
  for (const e of events)
    if (e.optionId === "out")
      total += Math.floor((Date.parse(e.castAt) - inAt.get(e.voterId!)!) / 1000);
  return total;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

const started = new Date();
log(`generating ${fmt(opts.schools * opts.people * 2)} events...`);
const events = generateEvents();
await resetDatabase();
const runs: Measured[] = [];
for (let round = 1; round <= opts.rounds; round++)
  for (const mode of ["vote", "attendance"] as const) {
    log(
      `round ${round}: writer, the polls as ${mode === "vote" ? "vote polls" : "attendance registers"}...`,
    );
    runs.push(await measureWriter(mode, round, events));
    log(`  ${fmt(runs.at(-1)!.rowsPerSecond)} rows/s`);
  }
/**
 * Seconds Postgres takes to write the person-day rows of the stored events, set-based, from
 * tables holding exactly those rows (filled first, not timed): the table's own cost.
 */
async function measureTableWrites(): Promise<{
  insertS: number;
  updateS: number;
  settleS: number;
  hotShare: number;
}> {
  const pool = createPool(DB_URL, logger, { max: 1 });
  await pool.query("truncate attendance_days");
  const events = (kind: string) => `
    select p.school_id, v.voter_id as person_id, (v.cast_at at time zone s.time_zone)::date as day,
           v.cast_at, v.event_id, v.temperature_c
    from votes v join polls p on p.id = v.poll_id join schools s on s.id = p.school_id
    where v.option_id = '${kind}' order by 1, 3, 2`;
  await pool.query(`create temp table day_in as ${events("in")}`);
  await pool.query(`create temp table day_out as ${events("out")}`);
  await pool.query("analyze day_in");
  await pool.query("analyze day_out");
  await pool.query("vacuum analyze attendance_days");
  const timed = async (sql: string) => {
    const started = performance.now();
    await pool.query(sql);
    return (performance.now() - started) / 1000;
  };
  const insertS = await timed(`
    insert into attendance_days (school_id, person_id, day, first_in, open_since,
                                 max_temperature_c, events, last_event_at, last_event_id)
    select school_id, person_id, day, cast_at, cast_at, temperature_c, 1, cast_at, event_id
    from day_in`);
  await pool.query("vacuum analyze attendance_days");
  // The statistics collector's counts of this table (flushed): the afternoon's updates that
  // were heap-only are the difference.
  const counts = async () => {
    await pool.query("select pg_stat_force_next_flush()");
    const { rows } = await pool.query<{ upd: number; hot: number }>(
      `select coalesce(sum(n_tup_upd), 0)::float8 as upd, coalesce(sum(n_tup_hot_upd), 0)::float8 as hot
       from pg_stat_user_tables where (relid = 'attendance_days'::regclass or relid in (select relid from pg_partition_tree('attendance_days')))`,
    );
    return rows[0]!;
  };
  const before = await counts();
  const updateS = await timed(`
    update attendance_days a set
      closed_seconds = floor(extract(epoch from e.cast_at - a.first_in))::int,
      closed_ms = floor(extract(epoch from e.cast_at - a.first_in) * 1000)::int,
      last_out = e.cast_at, open_since = null, events = 2, last_event_at = e.cast_at,
      last_event_id = e.event_id, change_id = attendance_change_id(), updated_at = now()
    from day_out e
    where a.school_id = e.school_id and a.day = e.day and a.person_id = e.person_id`);
  const after = await counts();
  const hotShare = (after.hot - before.hot) / Math.max(1, after.upd - before.upd);
  await pool.query("vacuum analyze attendance_days");
  const settleS = await timed("select attendance_settle_days(100000000)");
  await pool.end();
  return { insertS, updateS, settleS, hotShare };
}

log("Postgres alone: the same person-day rows, one INSERT and one UPDATE...");
const tableWrites = await measureTableWrites();
const jsmNc = await connect({ servers: NATS_URL });
await (await jetstreamManager(jsmNc)).streams.delete(STREAM).catch(() => false);
await jsmNc.close();
await dropDatabase(DB_URL);

const plain = median(runs.filter((r) => r.mode === "vote").map((r) => r.rowsPerSecond));
const upkeep = median(runs.filter((r) => r.mode === "attendance").map((r) => r.rowsPerSecond));
const verdict = ratioVerdict(
  "writer throughput with presence upkeep / the same writer on plain vote polls (medians)",
  upkeep / plain,
  "≥",
  TARGET,
);
const cpuOf = (mode: Mode) =>
  median(runs.filter((r) => r.mode === mode).map((r) => r.writerCpuS + r.postgresCpuS));
const lines = [
  machineLine(started),
  `Command: \`${benchCommand("bench:attendance-writer", process.env, [
    ...["--schools", String(opts.schools), "--people", String(opts.people)],
    ...["--registers", String(opts.registers), "--per-message", String(opts.perMessage)],
    ...["--rounds", String(opts.rounds)],
  ])}\``,
  "",
  `${fmt(events.length)} events: ${fmt(opts.schools)} schools × ${fmt(opts.people)} people, in then out on ${DAY}, through ${opts.registers} doors a school, ${opts.perMessage} events a message.`,
  "",
  "| round | polls | rows/s | seconds | CPU s: writer + its Postgres backends | person-days kept | updates (heap-only) | writer peak RSS |",
  "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...runs.map(
    (r) =>
      `| ${r.round} | ${r.mode === "vote" ? "plain vote polls (reference)" : "attendance registers (presence upkeep)"} | ${fmt(r.rowsPerSecond)} | ${r.seconds.toFixed(1)} | ${r.writerCpuS.toFixed(1)} + ${r.postgresCpuS.toFixed(1)} | ${fmt(r.personDays)} | ${r.mode === "vote" ? "—" : `${fmt(r.updates)} (${((r.hotUpdates / Math.max(1, r.updates)) * 100).toFixed(1)} %)`} | ${fmt(r.peakRssMb)} MB |`,
  ),
  "",
  `Medians: ${fmt(upkeep)} rows/s with presence upkeep, ${fmt(plain)} rows/s without: ${ratioText(upkeep / plain)}.`,
  "",
  `CPU (writer + its Postgres backends, medians): ${cpuOf("vote").toFixed(1)} s without presence upkeep, ${cpuOf("attendance").toFixed(1)} s with: the same work on a machine of its own would allow ${ratioText(cpuOf("vote") / cpuOf("attendance"))} where CPU bounds both (what a busy machine measures; on two idle cores the writer and Postgres also overlap).`,
  "",
  `Postgres alone writing the same ${fmt(opts.schools * opts.people)} person-day rows from the stored events, set-based (no reads, no Node): the morning's in one INSERT … SELECT ${tableWrites.insertS.toFixed(1)} s, the afternoon's in one UPDATE … FROM ${tableWrites.updateS.toFixed(1)} s. Added to the plain writer's ${(events.length / plain).toFixed(1)} s, that alone allows at most ${ratioText(events.length / plain / (events.length / plain + tableWrites.insertS + tableWrites.updateS))} (the bound any upkeep of this table meets). ${(tableWrites.hotShare * 100).toFixed(1)} % of those updates were heap-only. Settling the day afterwards (the idle writer's attendance_settle_days: every row rewritten once, with its index entries) took ${tableWrites.settleS.toFixed(1)} s.`,
  "",
  ...verdictLines([verdict]),
];
process.stdout.write(`${lines.join("\n")}\n`);
