import { v7 as uuidv7 } from "uuid";
import { keepPresence, type RegisterEvents } from "../batch-writer/presence-upkeep.ts";
import { localInstant } from "../common/attendance/school-day.ts";
import { createLogger } from "../common/logger.ts";
import { createPool } from "../common/postgres.ts";
import { prng } from "../harness/seeded-random.ts";
import { attendanceDayDatabase } from "./bench/attendance-day-database.ts";
import { processCpuSeconds } from "./bench/proc-stats.ts";
import { intFlag, readCli } from "./cli.ts";

// `node scripts/profile-keep-days.ts [--setup] …`: the writer's presence upkeep alone
// (attendance_keep_days, through keepPresence as the writer calls it), on
// bench:attendance-writer's day (the same people, doors, zones and cast order), in the
// writer's batches, on a database of its own. `--setup` builds that database (schema, the
// day's votes, the events in cast order); each run then empties attendance_days and keeps
// the day batch by batch, each in a transaction, printing the CPU seconds of its Postgres
// backend (from /proc: steadier than wall time on a shared machine) and checking every
// person-day against a recomputation from all the day's events. Where bench:attendance-writer
// times the whole writer, this isolates the function: a variant of it can be loaded with
// psql and compared run against run (migration 049 was measured so).

const USAGE = `usage: node scripts/profile-keep-days.ts [--setup] [--schools N] [--people N] [--batch N] [--upto N]
  --setup        (re)create the database and the day's events, then stop
  --schools N    schools (default 20)
  --people N     people a school (default 10000)
  --batch N      events a call, as the writer's batches (default 40000)
  --upto N       stop after N batches (default all)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432)`;

const opts = readCli(
  {
    usage: USAGE,
    options: {
      setup: { type: "boolean", default: false },
      schools: { type: "string", default: "20" },
      people: { type: "string", default: "10000" },
      batch: { type: "string", default: "40000" },
      upto: { type: "string", default: "1000000" },
    },
  },
  ({ values }) => ({
    setup: values.setup === true,
    schools: intFlag("schools", values.schools, { min: 1 }),
    people: intFlag("people", values.people, { min: 1 }),
    batch: intFlag("batch", values.batch, { min: 1 }),
    upto: intFlag("upto", values.upto, { min: 1 }),
  }),
);
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const DB_URL = `${PG}/tallyflow_profile_keep_days`;
const logger = createLogger("warn");
const ZONES = ["Europe/London", "America/New_York", "Asia/Kathmandu", "Australia/Sydney"];
const DAY = "2026-05-06";

interface Event {
  eventId: string;
  pollId: string;
  kind: "in" | "out";
  personId: string;
  castAt: string;
  temperatureC: number | null;
}

/** bench:attendance-writer's day: every person in 07:30-08:30 and out 15:00-16:30, cast order. */
function generate(): { events: Event[]; schools: [string, string][]; doors: [string, string][] } {
  const rand = prng(25);
  const events: Event[] = [];
  const schools: [string, string][] = [];
  const doors: [string, string][] = [];
  for (let s = 0; s < opts.schools; s++) {
    const id = `school-${String(s + 1).padStart(4, "0")}`;
    const zone = ZONES[s % ZONES.length]!;
    schools.push([id, zone]);
    const registers = Array.from({ length: 4 }, (_, r) => `${id}-door-${r + 1}`);
    for (const r of registers) doors.push([r, id]);
    const morning = localInstant(DAY, "07:30", zone);
    const afternoon = localInstant(DAY, "15:00", zone);
    for (let p = 0; p < opts.people; p++) {
      const door = () => registers[Math.floor(rand() * registers.length)]!;
      const inAt = morning + Math.floor(rand() * 3_600_000);
      const outAt = afternoon + Math.floor(rand() * 5_400_000);
      const temperatureC = (360 + Math.floor(rand() * 15)) / 10;
      const personId = `${id}-p${p}`;
      const at = (ms: number) => new Date(ms).toISOString();
      events.push(
        {
          eventId: uuidv7({ msecs: inAt }),
          pollId: door(),
          kind: "in",
          personId,
          castAt: at(inAt),
          temperatureC,
        },
        {
          eventId: uuidv7({ msecs: outAt }),
          pollId: door(),
          kind: "out",
          personId,
          castAt: at(outAt),
          temperatureC: null,
        },
      );
    }
  }
  events.sort((a, b) => (a.castAt < b.castAt ? -1 : a.castAt > b.castAt ? 1 : 0));
  return { events, schools, doors };
}

async function setup(): Promise<void> {
  const { events, schools, doors } = generate();
  const pool = await attendanceDayDatabase(
    DB_URL,
    logger,
    DAY,
    schools.map(([id, timeZone]) => ({ id, timeZone })),
    doors.map(([id, schoolId]) => ({ id, schoolId })),
  );
  await pool.query(`create table profile_events (seq int primary key, event_id uuid, poll_id text,
    kind text, person_id text, cast_at text, temperature_c numeric)`);
  for (let i = 0; i < events.length; i += 50_000) {
    const chunk = events.slice(i, i + 50_000);
    await pool.query(
      `insert into profile_events
       select $1::int + o - 1, e, p, k, v, c, t
       from unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[])
         with ordinality u(e, p, k, v, c, t, o)`,
      [
        i,
        chunk.map((e) => e.eventId),
        chunk.map((e) => e.pollId),
        chunk.map((e) => e.kind),
        chunk.map((e) => e.personId),
        chunk.map((e) => e.castAt),
        chunk.map((e) => e.temperatureC),
      ],
    );
  }
  // The day's votes, as the writer would have stored them (the locking way reads them).
  await pool.query(`
    insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                       stream_seq, temperature_c)
    select event_id, poll_id, kind, poll_id || '-kiosk', person_id, cast_at::timestamptz,
           cast_at::timestamptz, seq, temperature_c
    from profile_events order by seq`);
  await pool.query("vacuum analyze");
  await pool.end();
}

async function run(): Promise<void> {
  const pool = createPool(DB_URL, logger, { max: 1 });
  await pool.query("truncate attendance_days, attendance_day_changes, attendance_dirty");
  await pool.query("vacuum analyze attendance_days");
  const { rows } = await pool.query<{
    event_id: string;
    poll_id: string;
    kind: string;
    person_id: string;
    cast_at: string;
    temperature_c: string | null;
  }>("select * from profile_events order by seq");
  const client = await pool.connect();
  const { pid } = (await client.query<{ pid: number }>("select pg_backend_pid() as pid")).rows[0]!;
  let cpu = 0;
  let wall = 0;
  let n = 1;
  for (let i = 0; i < rows.length && n <= opts.upto; i += opts.batch, n++) {
    const batch = rows.slice(i, i + opts.batch);
    const events: RegisterEvents = {
      pollIds: batch.map((r) => r.poll_id),
      personIds: batch.map((r) => r.person_id),
      kinds: batch.map((r) => r.kind),
      castAts: batch.map((r) => r.cast_at),
      eventIds: batch.map((r) => r.event_id),
      temperatures: batch.map((r) => (r.temperature_c === null ? null : Number(r.temperature_c))),
    };
    await client.query("begin");
    const cpu0 = processCpuSeconds(pid) ?? 0;
    const wall0 = performance.now();
    const kept = await keepPresence(client, events, 0);
    const batchWall = (performance.now() - wall0) / 1000;
    const batchCpu = (processCpuSeconds(pid) ?? 0) - cpu0;
    await client.query("commit");
    cpu += batchCpu;
    wall += batchWall;
    const ins = batch.filter((r) => r.kind === "in").length;
    console.log(
      `batch ${n}: ${batch.length} events (${ins} in, ${batch.length - ins} out), ${kept.personDays} person-days, backend CPU ${batchCpu.toFixed(2)} s, wall ${batchWall.toFixed(2)} s`,
    );
  }
  client.release();
  if (n <= Math.ceil(rows.length / opts.batch)) {
    console.log(
      `total: backend CPU ${cpu.toFixed(2)} s, wall ${wall.toFixed(2)} s (part of the day: not checked)`,
    );
    await pool.end();
    return;
  }
  // Every person-day as all its stored events give it (migration 022's rules), for the
  // batches kept: a difference is a defect of the upkeep.
  const { rows: check } = await pool.query<{ days: number; wrong: number }>(
    `with kept as (select distinct school_id, day from attendance_days),
     s as (select d.* from kept k, attendance_day_states_of(k.school_id, null, k.day, k.day + 1) d)
     select (select count(*) from attendance_days)::int as days,
            (select count(*) from s full join attendance_days a using (school_id, person_id, day)
             where row(s.closed_seconds, s.closed_ms, s.first_in, s.last_out, s.open_since,
                       s.max_temperature_c, s.outs_without_in, s.double_ins, s.double_outs,
                       s.events, s.last_event_at, s.last_event_id)
               is distinct from
                   row(a.closed_seconds, a.closed_ms, a.first_in, a.last_out, a.open_since,
                       a.max_temperature_c, a.outs_without_in, a.double_ins, a.double_outs,
                       a.events, a.last_event_at, a.last_event_id))::int as wrong`,
  );
  console.log(
    `total: backend CPU ${cpu.toFixed(2)} s, wall ${wall.toFixed(2)} s; ${check[0]!.days} person-days, ${check[0]!.wrong} differing from their events`,
  );
  await pool.end();
}

if (opts.setup) await setup();
else await run();
