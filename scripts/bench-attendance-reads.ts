import { createHash, randomBytes } from "node:crypto";
import { DateTime } from "luxon";
import { Agent, request } from "undici";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, ensureDatabase, type Pool } from "../common/postgres.ts";
import { type NodeChild, startServer, stopChild } from "../harness/child-processes.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { removeBenchRun } from "./bench/run-cleanup.ts";
import { benchRun, benchServiceEnv } from "./bench/run-names.ts";
import { type Verdict, valueVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:attendance-reads [-- --people 10000 --other-schools 9 --requests 1000]`:
// the attendance reads at one school of 10,000 people, through the real API (a child
// process), from a month of the writer's attendance_days filled by SQL:
// - the school's --people people (40 groups) and, so that its rows are a part of the table
//   and not all of it, --other-schools more schools of as many people;
// - the latest month before today with 23 weekdays, each person-day written day by day, a
//   day's rows in random person order (as the writer leaves them: a day's check-ins arrive
//   in that order), ~95 % of people present each day, some never checked out;
// - a few holidays elsewhere in the year (the month has none: 23 school days).
// Then, one request at a time over a keep-alive connection, as the school's own admin (names
// shown), --requests timed requests per variant after a warm-up: the month and the week in
// pages (every page in turn), a group's pages, a person's days (a month, a year), the
// holidays of a year. Beside them, in the same run, straight through pg: the plain indexed
// SELECT of a page's person-days (the core read of a page), of one person's days, and, for
// the record, one aggregate of the whole school's month in one statement.
// Target: p99 < 25 ms for every API variant. The database is the run's own, dropped at the
// end (--keep leaves it).

const USAGE = `usage: npm run bench:attendance-reads -- [options]
  --people N          people in the school read, and in each other school (default 10000)
  --other-schools N   schools filled beside it (default 9)
  --requests N        timed requests per variant (default 1000)
  --keep              leave the bench database
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL`;

const options = readCli(
  {
    usage: USAGE,
    options: {
      people: { type: "string", default: "10000" },
      "other-schools": { type: "string", default: "9" },
      requests: { type: "string", default: "1000" },
      keep: { type: "boolean", default: false },
    },
  },
  ({ values }) => ({
    people: intFlag("people", values.people, { min: 100, max: 999_999 }),
    otherSchools: intFlag("other-schools", values["other-schools"], { min: 0, max: 1000 }),
    requests: intFlag("requests", values.requests, { min: 10 }),
    keep: values.keep,
  }),
);

const P99_TARGET_MS = 25;
const GROUPS = 40;
const SCHOOL = "bench-reads";
const ZONE = "Europe/Berlin";
const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

const started = new Date();
const run = benchRun("attreads");
const logger = createLogger("warn", { service: "bench-attendance-reads" });
const children: NodeChild[] = [];
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 1 });
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 100 ? n.toFixed(2) : int(n));
const personId = (k: number) => `S${String(k).padStart(6, "0")}`;
const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;

/** The latest month before this one with 23 weekdays, and its weekdays. */
function benchMonth(): { month: string; days: string[] } {
  for (let m = DateTime.now().setZone(ZONE).startOf("month").minus({ months: 1 }); ; ) {
    const days: string[] = [];
    for (let d = m; d.month === m.month; d = d.plus({ days: 1 }))
      if (d.weekday <= 5) days.push(d.toISODate()!);
    if (days.length === 23) return { month: m.toFormat("yyyy-MM"), days };
    m = m.minus({ months: 1 });
  }
}

async function fill(pool: Pool, days: string[]): Promise<void> {
  const schools = [SCHOOL, ...Array.from({ length: options.otherSchools }, (_, i) => `other-${i}`)];
  await pool.query(
    "insert into schools (id, name, time_zone) select s, s, $2 from unnest($1::text[]) s",
    [schools, ZONE],
  );
  await pool.query(
    `insert into people (school_id, id, name, groups)
     select s, 'S' || lpad(k::text, 6, '0'), 'Person ' || k,
            array['class-' || lpad((k % $3::int)::text, 2, '0')]
     from unnest($1::text[]) s, generate_series(0, $2::int - 1) k`,
    [schools, options.people, GROUPS],
  );
  const year = Number(days[0]!.slice(0, 4));
  await pool.query(
    `insert into school_holidays (school_id, day, name)
     select $1, make_date($2, m, 1 + (m * 7) % 28), 'Holiday ' || m from generate_series(1, 12) m
     where to_char(make_date($2, m, 1), 'YYYY-MM') <> $3`,
    [SCHOOL, year, days[0]!.slice(0, 7)],
  );
  const fillStarted = performance.now();
  for (const [i, day] of days.entries()) {
    // ~95 % present; 4-8 h; 2 % never checked out (closed at the day's end by the view);
    // arrivals 07:30-08:30 local. A day's rows in random order, as the writer writes them.
    await pool.query(
      `insert into attendance_days (school_id, person_id, day, closed_seconds, first_in,
         last_out, open_since, max_temperature_c, events, settled_closed_seconds,
         settled_open_since)
       select s, 'S' || lpad(k::text, 6, '0'), $2::date, c.closed, c.first_in,
              case when c.open then null else c.first_in + make_interval(secs => c.closed) end,
              case when c.open then c.first_in end,
              36.0 + (h & 31) / 10.0, case when c.open then 1 else 2 end,
              -- a past day as the writer's idle settling leaves it (migration 025)
              case when $2::date < current_date - 1 then c.closed end,
              case when $2::date < current_date - 1 and c.open then c.first_in end
       from unnest($1::text[]) s, generate_series(0, $3::int - 1) k,
            lateral (select hashint8(k::bigint * 7919 + $4::int * 104729 + length(s)) & 2147483647 as h) r,
            lateral (select (h % 1000) < 20 as open,
                            case when (h % 1000) < 20 then 0 else 14400 + (h % 14400) end as closed,
                            (($2::date + time '07:30') at time zone $5) + make_interval(secs => h % 3600) as first_in) c
       where (h >> 10) % 100 >= 5
       order by random()`,
      [schools, day, options.people, i, ZONE],
    );
    log(
      `attendance_days: ${day} (${i + 1} of ${days.length}, ${int((performance.now() - fillStarted) / 1000)} s)`,
    );
  }
  log("vacuum analyze...");
  await pool.query("vacuum analyze attendance_days");
  await pool.query("vacuum analyze people");
}

interface Variant {
  name: string;
  latenciesMs: number[];
  /** People (pages) or days (a person) answered. */
  items: number;
  /** Whole-school walks: the wall time of each complete walk of the pages. */
  walksMs?: number[];
}

async function get(url: string, auth: string): Promise<{ ms: number; body: unknown }> {
  const t0 = performance.now();
  const res = await request(url, { headers: { authorization: auth }, dispatcher: agent });
  const text = await res.body.text();
  const elapsed = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text}`);
  return { ms: elapsed, body: JSON.parse(text) };
}

/** `count` page requests: walks of every page of the query in turn, each page timed. */
async function pages(
  count: number,
  base: string,
  auth: string,
  query: (walk: number) => string,
): Promise<Variant> {
  const latenciesMs: number[] = [];
  const walksMs: number[] = [];
  let items = 0;
  for (let walk = 0; latenciesMs.length < count; walk++) {
    let next: string | null = null;
    let walkMs = 0;
    do {
      const after: string = next === null ? "" : `&after=${next}`;
      const page = await get(
        `${base}/v1/schools/${SCHOOL}/attendance?${query(walk)}${after}`,
        auth,
      );
      const body = page.body as { items: unknown[]; next: string | null };
      latenciesMs.push(page.ms);
      walkMs += page.ms;
      items += body.items.length;
      next = body.next;
    } while (next !== null && latenciesMs.length < count);
    if (next === null) walksMs.push(walkMs);
  }
  return { name: "", latenciesMs, items, walksMs };
}

async function personReads(
  count: number,
  base: string,
  auth: string,
  range: { from: string; to: string },
): Promise<Variant> {
  const latenciesMs: number[] = [];
  let items = 0;
  for (let i = 0; i < count; i++) {
    const person = personId((i * 7919) % options.people);
    const res = await get(
      `${base}/v1/schools/${SCHOOL}/people/${person}/attendance?from=${range.from}&to=${range.to}`,
      auth,
    );
    latenciesMs.push(res.ms);
    items += (res.body as { days: unknown[] }).days.length;
  }
  return { name: "", latenciesMs, items };
}

async function holidayReads(
  count: number,
  base: string,
  auth: string,
  year: number,
): Promise<Variant> {
  const latenciesMs: number[] = [];
  let items = 0;
  for (let i = 0; i < count; i++) {
    const res = await get(
      `${base}/v1/schools/${SCHOOL}/holidays?from=${year}-01-01&to=${year}-12-31`,
      auth,
    );
    latenciesMs.push(res.ms);
    items += (res.body as { holidays: unknown[] }).holidays.length;
  }
  return { name: "", latenciesMs, items };
}

/** The plain indexed SELECT of a page's person-days (the page's people, the month), pg only. */
async function referencePages(pool: Pool, count: number, days: string[]): Promise<Variant> {
  const client = await pool.connect();
  const latenciesMs: number[] = [];
  let items = 0;
  try {
    for (let i = 0; latenciesMs.length < count; i++) {
      const first = (i * PAGE_DEFAULT) % options.people;
      const ids = Array.from({ length: Math.min(PAGE_DEFAULT, options.people - first) }, (_, k) =>
        personId(first + k),
      );
      const t0 = performance.now();
      const { rows } = await client.query(
        // The columns the person index covers (migration 025: the settled copies).
        `select person_id, day, settled_closed_seconds, settled_open_since from attendance_days
         where school_id = $1 and person_id = any($2::text[]) and day between $3 and $4`,
        [SCHOOL, ids, days[0], days.at(-1)],
      );
      latenciesMs.push(performance.now() - t0);
      items += rows.length;
    }
  } finally {
    client.release();
  }
  return {
    name: `reference: plain indexed SELECT of a page's person-days (${PAGE_DEFAULT} people × the month; pg, no HTTP)`,
    latenciesMs,
    items,
  };
}

async function referencePerson(pool: Pool, count: number, days: string[]): Promise<Variant> {
  const client = await pool.connect();
  const latenciesMs: number[] = [];
  let items = 0;
  try {
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const { rows } = await client.query(
        `select * from attendance_days where school_id = $1 and person_id = $2
         and day between $3 and $4 order by day`,
        [SCHOOL, personId((i * 7919) % options.people), days[0], days.at(-1)],
      );
      latenciesMs.push(performance.now() - t0);
      items += rows.length;
    }
  } finally {
    client.release();
  }
  return {
    name: "reference: plain indexed SELECT of one person's month (pg, no HTTP)",
    latenciesMs,
    items,
  };
}

/** For the record: every person's present days of the month in one statement (why pages). */
async function wholeMonthAggregate(pool: Pool, days: string[], runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await pool.query(
      `select person_id, count(*) filter (where closed_seconds >= 14400 or open_since is not null)
       from attendance_days where school_id = $1 and day between $2 and $3 group by person_id`,
      [SCHOOL, days[0], days.at(-1)],
    );
    out.push(performance.now() - t0);
  }
  return out.sort((a, b) => a - b);
}

async function reads(pool: Pool, url: string, days: string[]) {
  // The school's own admin: names shown.
  const token = randomBytes(32).toString("base64url");
  await pool.query(
    "insert into school_admins (id, school_id, label, token_hash) values ('bench-admin', $1, 'bench', $2)",
    [SCHOOL, createHash("sha256").update(token).digest()],
  );
  const auth = `Bearer ${token}`;
  const deadline = Date.now() + 10_000;
  for (;;) {
    const res = await request(
      `${url}/v1/schools/${SCHOOL}/holidays?from=2000-01-01&to=2000-01-01`,
      {
        headers: { authorization: auth },
        dispatcher: agent,
      },
    );
    await res.body.text();
    if (res.statusCode === 200) break;
    if (Date.now() > deadline)
      throw new Error(`the school admin's token was refused: ${res.statusCode}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const n = options.requests;
  const lastDay = days.at(-1)!;
  const midWeek = days[12]!; // a Wednesday-ish day: its week is whole within the month
  const year = Number(lastDay.slice(0, 4));
  const yearBack = DateTime.fromISO(lastDay).minus({ days: 365 }).toISODate()!;
  const month = `period=month&date=${lastDay}`;
  const runs: [string, (count: number) => Promise<Variant>][] = [
    [
      `month, pages of ${PAGE_DEFAULT} (the default), every page in turn`,
      (count) => pages(count, url, auth, () => month),
    ],
    [
      `month, pages of ${PAGE_MAX} (ATTENDANCE_PAGE_MAX), every page in turn`,
      (count) =>
        pages(Math.max(10, Math.floor(count / 5)), url, auth, () => `${month}&limit=${PAGE_MAX}`),
    ],
    [
      `week, pages of ${PAGE_DEFAULT}, every page in turn`,
      (count) => pages(count, url, auth, () => `period=week&date=${midWeek}`),
    ],
    [
      `month, a group's pages (1 in ${GROUPS}: ${int(options.people / GROUPS)} people)`,
      (count) =>
        pages(
          count,
          url,
          auth,
          (walk) => `${month}&group=class-${String(walk % GROUPS).padStart(2, "0")}`,
        ),
    ],
    [
      "a person's days, the month",
      (count) => personReads(count, url, auth, { from: days[0]!, to: lastDay }),
    ],
    [
      "a person's days, 366 days",
      (count) => personReads(count, url, auth, { from: yearBack, to: lastDay }),
    ],
    [
      "holidays of a year (`GET …/holidays?from=&to=`)",
      (count) => holidayReads(count, url, auth, year),
    ],
  ];
  log("reads: warm-up");
  for (const [, variant] of runs) await variant(Math.min(100, n));
  await referencePages(pool, Math.min(200, n), days);
  const measured: Variant[] = [];
  for (const [name, variant] of runs) {
    log(`reads: ${name}`);
    measured.push({ ...(await variant(n)), name });
  }
  log("references through pg");
  const references = [await referencePages(pool, n, days), await referencePerson(pool, n, days)];
  const aggregate = await wholeMonthAggregate(pool, days, 20);
  return { measured, references, aggregate };
}

function report(
  machine: string,
  month: { month: string; days: string[] },
  fillSeconds: number,
  rows: number,
  results: Awaited<ReturnType<typeof reads>>,
): string {
  const verdicts: Verdict[] = [];
  const refP99 = percentile(
    [...results.references[0]!.latenciesMs].sort((a, b) => a - b),
    99,
  );
  const lines = [
    "### Attendance reads: weeks, months, a person's days",
    "",
    machine,
    `Command: \`${benchCommand("bench:attendance-reads")}\``,
    "",
    `School \`${SCHOOL}\` (${ZONE}): ${int(options.people)} active people in ${GROUPS} groups; ${month.month}: ${month.days.length} school days; attendance_days: ${int(rows)} rows in ${1 + options.otherSchools} schools (filled in ${int(fillSeconds)} s, day by day, each day in random person order).`,
    "",
    "Reads as the school's own admin (names shown), one request at a time over a keep-alive connection:",
    "",
    "| variant | requests | answered | p50 ms | p99 ms | max ms | p99 / reference p99 |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const v of [...results.measured, ...results.references]) {
    const sorted = [...v.latenciesMs].sort((a, b) => a - b);
    const p99 = percentile(sorted, 99);
    const isReference = results.references.includes(v);
    lines.push(
      `| ${v.name} | ${int(sorted.length)} | ${int(v.items)} | ${ms(percentile(sorted, 50))} | ${ms(p99)} | ${ms(sorted.at(-1)!)} | ${isReference ? "—" : (p99 / refP99).toFixed(1)} |`,
    );
    if (!isReference)
      verdicts.push(
        valueVerdict(
          `attendance read p99, ${v.name}`,
          p99,
          "<",
          P99_TARGET_MS,
          (x) => `${ms(x)} ms`,
        ),
      );
  }
  const walks = results.measured[0]!.walksMs ?? [];
  const walkMedian = [...walks].sort((a, b) => a - b)[Math.floor(walks.length / 2)];
  lines.push(
    "",
    `"answered": people (pages) or days (a person) or holidays in the answers. The ratio column is against the first reference (a page's person-days).`,
    "",
    `The whole school's month, every page of ${PAGE_DEFAULT} in turn: ${walkMedian === undefined ? "no complete walk" : `${ms(walkMedian)} ms`} (median of ${walks.length} walks). For the record, every person's present days of the month in one SQL aggregate (pg, no HTTP): p50 ${ms(percentile(results.aggregate, 50))} ms, max ${ms(results.aggregate.at(-1)!)} ms of ${results.aggregate.length}.`,
    "",
    ...verdictLines(verdicts),
  );
  return `${lines.join("\n")}\n`;
}

async function cleanup(): Promise<void> {
  await Promise.allSettled(children.map((c) => stopChild(c)));
  await agent.close().catch(() => {});
  await removeBenchRun(run, log, { keep: options.keep });
}

async function main(): Promise<void> {
  const machine = machineLine(started);
  log(machine);
  await ensureDatabase(run.databaseUrl);
  const pool = createPool(run.databaseUrl, logger, {
    max: 2,
    applicationName: "bench-attendance-reads",
  });
  try {
    await migrate(pool, logger);
    const month = benchMonth();
    log(
      `filling ${1 + options.otherSchools} schools × ${int(options.people)} people × ${month.month}...`,
    );
    const fillStarted = performance.now();
    await fill(pool, month.days);
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    const { rows } = await pool.query<{ n: number }>(
      "select count(*)::int as n from attendance_days",
    );
    const api = await startServer("api", ["ingest-api/main.ts"], (port) => ({
      ...benchServiceEnv(run, port),
      ATTENDANCE_PAGE_DEFAULT: String(PAGE_DEFAULT),
      ATTENDANCE_PAGE_MAX: String(PAGE_MAX),
    }));
    children.push(api.child);
    const results = await reads(pool, api.url, month.days);
    process.stdout.write(report(machine, month, fillSeconds, rows[0]!.n, results));
  } finally {
    await pool.end();
  }
}

for (const signal of ["SIGINT", "SIGTERM"] as const)
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    cleanup().finally(() => process.exit(130));
  });

try {
  await main();
} finally {
  await cleanup();
}
