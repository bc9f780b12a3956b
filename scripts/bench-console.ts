import { createHash } from "node:crypto";
import { createClient } from "redis";
import { Agent, request } from "undici";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, ensureDatabase, type Pool } from "../common/postgres.ts";
import { type NodeChild, startServer, stopChild } from "../harness/child-processes.ts";
import { listAudit } from "../ingest-api/console/audit-store.ts";
import { encodeCursor } from "../ingest-api/http/page-cursor.ts";
import { listPeople } from "../ingest-api/people/people-store.ts";
import {
  listKiosks,
  listKiosksForAttention,
  listPolls,
} from "../ingest-api/registry/registry-store.ts";
import { listSchoolPage, schoolFigureRows } from "../ingest-api/schools/school-store.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { removeBenchRun } from "./bench/run-cleanup.ts";
import { BENCH_ADMIN_HEADERS, benchRun, benchServiceEnv } from "./bench/run-names.ts";
import { type Verdict, valueVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:console [-- --people 10000000 --requests 200 --readers 4]`: every list the
// operator console pages, at the reference deployment's scale (issue #27): 1,000 schools,
// 10,000 kiosks (10 a school, their health in Redis), 10 million people (10,000 a school),
// 100,000 audit entries and 10 polls a school, written by Postgres itself (insert … select
// from generate_series) into a private database. The API (a child process) serves them;
// --readers concurrent readers send --requests requests to each page (the first page and a
// deep one, each filter the console uses), and the same SQL the route runs (the store's own
// function) is timed alone, one query at a time, in the same run. Target: each page's p95
// over HTTP at most 200 ms. The database and Redis keys are the run's own, removed at the
// end (--keep leaves the database).

const USAGE = `usage: npm run bench:console -- [options]
  --people N     people in the deployment, 10,000 a school (default 10000000)
  --requests N   timed requests per page, over HTTP and alone (default 200)
  --readers N    concurrent HTTP readers (default 4)
  --keep         leave the bench database
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432), NATS_URL, REDIS_URL`;

const options = readCli(
  {
    usage: USAGE,
    options: {
      people: { type: "string", default: "10000000" },
      requests: { type: "string", default: "200" },
      readers: { type: "string", default: "4" },
      keep: { type: "boolean", default: false },
    },
  },
  ({ values }) => ({
    people: intFlag("people", values.people, { min: 10_000 }),
    requests: intFlag("requests", values.requests, { min: 20 }),
    readers: intFlag("readers", values.readers, { min: 1, max: 64 }),
    keep: values.keep,
  }),
);

const SCHOOLS = 1_000;
const KIOSKS_PER_SCHOOL = 10;
const POLLS_PER_SCHOOL = 10;
const AUDIT_ENTRIES = 100_000;
const SCHOOL_PEOPLE = 10_000;
const PAGE = 100;
const TARGET_MS = 200;

const started = new Date();
const run = benchRun("console");
const logger = createLogger("warn", { service: "bench-console" });
const children: NodeChild[] = [];
const agent = new Agent({ keepAliveTimeout: 60_000, connections: 64 });
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (n < 100 ? n.toFixed(1) : int(n));
const school = (n: number) => `s${String(n).padStart(4, "0")}`;

async function timed(what: string, work: () => Promise<unknown>): Promise<void> {
  const t0 = performance.now();
  await work();
  log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * The deployment, generated inside Postgres before the API starts (so nothing is notified,
 * and no attendance change is recorded: the tables have no triggers since migration 057).
 */
async function fill(pool: Pool): Promise<void> {
  const tables = ["schools", "polls", "poll_options", "kiosks", "people"];
  await timed("schools", () =>
    pool.query(
      `insert into schools (id, name, created_at)
       select 's' || lpad(s::text, 4, '0'), (array['Lakeside','Hillcrest','Riverside','Oakwood'])[1 + s % 4] || ' school ' || s,
              now() - s * interval '1 hour'
       from generate_series(0, $1::int - 1) s`,
      [SCHOOLS],
    ),
  );
  // Creation times interleave the schools (as a deployment grows), so that every school's
  // page and every page of all schools is a range of its own index, not a contiguous slice.
  await timed("polls", async () => {
    await pool.query(
      `insert into polls (id, school_id, slug, title, opens_at, closes_at, archived_at, created_at)
       select 's' || lpad(s::text, 4, '0') || '-p' || p, 's' || lpad(s::text, 4, '0'), 'p' || p,
              (array['Lunch','Trip','Assembly','Sports day','Library'])[1 + p % 5] || ' ' || p,
              case when p % 3 = 0 then now() + interval '1 day' else now() - interval '1 day' end,
              case when p % 4 = 0 and p % 3 <> 0 then now() - interval '1 hour' end,
              case when p = 9 then now() end,
              now() - (p * $1::int + s) * interval '1 minute'
       from generate_series(0, $1::int - 1) s, generate_series(0, $2::int - 1) p`,
      [SCHOOLS, POLLS_PER_SCHOOL],
    );
    await pool.query(
      `insert into poll_options (poll_id, id, label, position)
       select p.id, o, o, i from polls p, unnest(array['yes','no','maybe']) with ordinality as u(o, i)`,
    );
  });
  await timed("kiosks", () =>
    pool.query(
      `insert into kiosks (id, school_id, slug, name, token_hash, created_at, revoked_at)
       select 's' || lpad(s::text, 4, '0') || '-k' || k, 's' || lpad(s::text, 4, '0'), 'k' || k,
              (array['Lobby','Canteen','Gym','Library','Hall'])[1 + k % 5] || ' ' || k,
              sha256(convert_to('bench-kiosk-' || s || '-' || k, 'UTF8')),
              now() - (k * $1::int + s) * interval '1 minute',
              case when k = 9 then now() end
       from generate_series(0, $1::int - 1) s, generate_series(0, $2::int - 1) k`,
      [SCHOOLS, KIOSKS_PER_SCHOOL],
    ),
  );
  await timed("audit", () =>
    pool.query(
      `insert into audit_log (at, school_id, actor_kind, actor_id, action, object_id, address, status)
       select now() - ($1::int - n) * interval '30 seconds',
              case when n % 10 = 0 then null else 's' || lpad((n / 10 % $2::int)::text, 4, '0') end,
              case when n % 10 = 0 then 'deployment' else 'school' end,
              case when n % 10 = 0 then null else 'adm-' || (n / 10 % $2::int) || '-' || (n % 3) end,
              (array['PATCH /v1/polls/:id','POST /v1/polls','POST /v1/kiosks/:id/pairing',
                     'DELETE /v1/kiosks/:id','PUT /v1/schools/:schoolId/people/:personId'])[1 + n % 5],
              'obj-' || n, '203.0.113.' || (n % 250), 200
       from generate_series(1, $1::int) n`,
      [AUDIT_ENTRIES, SCHOOLS],
    ),
  );
  // People as bench:people writes them: the secondary indexes dropped, built after the load.
  const { rows: indexes } = await pool.query<{ indexname: string; indexdef: string }>(
    "select indexname, indexdef from pg_indexes where tablename = 'people' and indexname <> 'people_pkey'",
  );
  for (const ix of indexes) await pool.query(`drop index ${ix.indexname}`);
  const schoolsWithPeople = Math.ceil(options.people / SCHOOL_PEOPLE);
  await timed(`people (${int(options.people)})`, async () => {
    for (let from = 0; from < schoolsWithPeople; from += 100) {
      await pool.query(
        `insert into people (school_id, id, name, groups)
         select 's' || lpad(s::text, 4, '0'), 'S' || lpad(k::text, 6, '0'),
                (array['Ada','Alan','Grace','Edsger'])[1 + k % 4] || ' ' || (array['Lovelace','Turing','Hopper'])[1 + s % 3],
                array['class-' || lpad((k % 40)::text, 2, '0')]
         from generate_series($1::int, $2::int - 1) s, generate_series(0, $3::int - 1) k`,
        [from, Math.min(schoolsWithPeople, from + 100), SCHOOL_PEOPLE],
      );
      log(`people: ${int(Math.min(schoolsWithPeople, from + 100) * SCHOOL_PEOPLE)}`);
    }
  });
  for (const ix of indexes)
    await timed(`index ${ix.indexname}`, () =>
      pool.query(`set maintenance_work_mem = '512MB'; ${ix.indexdef}`),
    );
  await timed("vacuum analyze", async () => {
    for (const t of [...tables, "audit_log"]) await pool.query(`vacuum analyze ${t}`);
  });
}

/** Kiosk health as the API keeps it: most seen lately, some offline, a third with votes waiting. */
async function fillHealth(): Promise<void> {
  const redis = createClient({ url: run.redisUrl });
  await redis.connect();
  try {
    const now = Date.now();
    const seen: Record<string, string> = {};
    const status: Record<string, string> = {};
    for (let s = 0; s < SCHOOLS; s++)
      for (let k = 0; k < KIOSKS_PER_SCHOOL; k++) {
        const id = `${school(s)}-k${k}`;
        const h = createHash("md5").update(id).digest().readUInt32BE(0);
        if (h % 20 === 0) continue; // never seen
        const offline = h % 7 === 0;
        const at = new Date(now - (offline ? 3_600_000 + (h % 86_400_000) : h % 60_000));
        seen[id] = at.toISOString();
        const pending = h % 3 === 0 ? 1 + (h % 500) : 0;
        status[id] = JSON.stringify({
          pending,
          oldestPendingAt:
            pending > 0 ? new Date(at.getTime() - (h % 7_200_000)).toISOString() : null,
          lastSentAt: at.toISOString(),
          refused: 0,
          appVersion: "1.4.2",
          persisted: true,
          lastError: null,
          reportedAt: at.toISOString(),
        });
      }
    await redis.hSet(`${run.names.redisKeyPrefix}kiosks:seen`, seen);
    await redis.hSet(`${run.names.redisKeyPrefix}kiosks:status`, status);
  } finally {
    await redis.close();
  }
}

interface Case {
  route: string;
  path: string;
  /** The same SQL the route runs (the store's own functions), alone. */
  sql: () => Promise<unknown>;
}

interface Measured extends Case {
  p50: number;
  p95: number;
  sqlP95: number;
  rows: number;
}

const percentile = (values: readonly number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
};

async function get(url: string): Promise<{ ms: number; body: Record<string, unknown> }> {
  const t0 = performance.now();
  const res = await request(url, {
    headers: { authorization: BENCH_ADMIN_HEADERS.authorization },
    dispatcher: agent,
  });
  const text = await res.body.text();
  const elapsed = performance.now() - t0;
  if (res.statusCode !== 200) throw new Error(`GET ${url} answered ${res.statusCode}: ${text}`);
  return { ms: elapsed, body: JSON.parse(text) };
}

/** A cursor from a key Postgres gives (the deep pages: the key of the row at an offset). */
async function createdCursor(pool: Pool, table: string, where: string, offset: number) {
  const { rows } = await pool.query<{ k: string; id: string }>(
    `select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as k, id
     from ${table} ${where} order by created_at, id offset ${offset} limit 1`,
  );
  return {
    after: [rows[0]!.k, rows[0]!.id] as const,
    cursor: encodeCursor(rows[0]!.k, rows[0]!.id),
  };
}

async function cases(pool: Pool, api: string): Promise<Case[]> {
  const mid = school(Math.floor(SCHOOLS / 2));
  const all = { scope: null, q: undefined };
  const deepPoll = await createdCursor(pool, "polls", "", 9_000);
  const deepKiosk = await createdCursor(pool, "kiosks", "", 9_000);
  const schoolPoll = await createdCursor(pool, "polls", `where school_id = '${mid}'`, 4);
  // The attention order's deep page: the cursor a walk of the API's pages reaches.
  let attentionCursor = "";
  for (let page = 0, after = ""; page < 90; page++) {
    const { body } = await get(`${api}/v1/kiosks?sort=attention&limit=${PAGE}${after}`);
    attentionCursor = String(body.next);
    after = `&after=${attentionCursor}`;
  }
  const { rows: auditDeep } = await pool.query<{ id: string }>(
    "select id::text from audit_log order by id desc offset 90000 limit 1",
  );
  const before = auditDeep[0]!.id;
  const from = new Date(Date.now() - 10 * 86_400_000).toISOString();
  const to = new Date(Date.now() - 9 * 86_400_000).toISOString();
  // The log's first day: in id order the planner reads every newer entry to find it.
  const oldFrom = new Date(Date.now() - 35 * 86_400_000).toISOString();
  const oldTo = new Date(Date.now() - 34 * 86_400_000).toISOString();
  const peopleSchool = school(Math.floor(Math.ceil(options.people / SCHOOL_PEOPLE) / 2));
  const attention = (scope: string | null) => () =>
    listKiosksForAttention(pool, { scope, q: undefined });
  const figures = (after: string | undefined) => async () => {
    const page = await listSchoolPage(pool, { q: undefined, after }, PAGE + 1);
    return schoolFigureRows(
      pool,
      page.map((s) => s.id),
    );
  };
  const audit = (f: Parameters<typeof listAudit>[1]) => () => listAudit(pool, f, 50);
  const people = (after: string | undefined, idLike?: string) => () =>
    listPeople(
      pool,
      peopleSchool,
      { after, idLike, nameLike: undefined, group: undefined, activeOnly: false },
      51,
    );
  return [
    {
      route: "polls, first page",
      path: `/v1/polls?limit=${PAGE}`,
      sql: () => listPolls(pool, { ...all, after: undefined }, PAGE + 1),
    },
    {
      route: "polls, page 91",
      path: `/v1/polls?limit=${PAGE}&after=${deepPoll.cursor}`,
      sql: () => listPolls(pool, { ...all, after: deepPoll.after }, PAGE + 1),
    },
    {
      route: "polls, one school",
      path: `/v1/polls?schoolId=${mid}`,
      sql: () => listPolls(pool, { scope: mid, q: undefined, after: undefined }, PAGE + 1),
    },
    {
      route: "polls, one school, after 5",
      path: `/v1/polls?schoolId=${mid}&limit=5&after=${schoolPoll.cursor}`,
      sql: () => listPolls(pool, { scope: mid, q: undefined, after: schoolPoll.after }, 6),
    },
    {
      route: "polls, q=trip",
      path: `/v1/polls?limit=${PAGE}&q=trip`,
      sql: () => listPolls(pool, { scope: null, q: "trip", after: undefined }, PAGE + 1),
    },
    {
      route: "kiosks, first page",
      path: `/v1/kiosks?limit=${PAGE}`,
      sql: () => listKiosks(pool, { ...all, after: undefined }, PAGE + 1),
    },
    {
      route: "kiosks, page 91",
      path: `/v1/kiosks?limit=${PAGE}&after=${deepKiosk.cursor}`,
      sql: () => listKiosks(pool, { ...all, after: deepKiosk.after }, PAGE + 1),
    },
    {
      route: "kiosks, q=gym",
      path: `/v1/kiosks?limit=${PAGE}&q=gym`,
      sql: () => listKiosks(pool, { scope: null, q: "gym", after: undefined }, PAGE + 1),
    },
    {
      route: "fleet by attention, one school",
      path: `/v1/kiosks?sort=attention&schoolId=${mid}`,
      sql: attention(mid),
    },
    {
      route: "fleet by attention, all, first",
      path: `/v1/kiosks?sort=attention&limit=${PAGE}`,
      sql: attention(null),
    },
    {
      route: "fleet by attention, all, page 91",
      path: `/v1/kiosks?sort=attention&limit=${PAGE}&after=${attentionCursor}`,
      sql: attention(null),
    },
    {
      route: "schools + figures, first page",
      path: `/v1/schools?figures=true&limit=${PAGE}`,
      sql: figures(undefined),
    },
    {
      route: "schools + figures, page 10",
      path: `/v1/schools?figures=true&limit=${PAGE}&after=${encodeCursor(school(899))}`,
      sql: figures(school(899)),
    },
    {
      route: "schools + figures, the console's page (20)",
      path: "/v1/schools?figures=true&limit=20",
      sql: async () => {
        const page = await listSchoolPage(pool, { q: undefined, after: undefined }, 21);
        return schoolFigureRows(
          pool,
          page.map((s) => s.id),
        );
      },
    },
    {
      route: "schools, q=river",
      path: `/v1/schools?limit=${PAGE}&q=river`,
      sql: () => listSchoolPage(pool, { q: "river", after: undefined }, PAGE + 1),
    },
    { route: "audit, first page", path: "/v1/audit", sql: audit({ schoolId: null }) },
    {
      route: "audit, 90,000 back",
      path: `/v1/audit?before=${before}`,
      sql: audit({ schoolId: null, before }),
    },
    {
      route: "audit, one school",
      path: `/v1/audit?schoolId=${mid}`,
      sql: audit({ schoolId: mid }),
    },
    {
      route: "audit, an admin",
      path: `/v1/audit?actor=adm-500-2`,
      sql: audit({ schoolId: null, actor: "adm-500-2" }),
    },
    {
      route: "audit, the deployment admin",
      path: "/v1/audit?actor=deployment",
      sql: audit({ schoolId: null, actor: "deployment" }),
    },
    {
      route: "audit, deployment admin, deep",
      path: `/v1/audit?actor=deployment&before=${before}`,
      sql: audit({ schoolId: null, actor: "deployment", before }),
    },
    {
      route: "audit, an action",
      path: `/v1/audit?action=${encodeURIComponent("DELETE /v1/kiosks/:id")}`,
      sql: audit({ schoolId: null, action: "DELETE /v1/kiosks/:id" }),
    },
    {
      route: "audit, a day 10 days back",
      path: `/v1/audit?from=${from}&to=${to}`,
      sql: audit({ schoolId: null, from, to }),
    },
    {
      route: "audit, the log's first day",
      path: `/v1/audit?from=${oldFrom}&to=${oldTo}`,
      sql: audit({ schoolId: null, from: oldFrom, to: oldTo }),
    },
    {
      route: "audit, school + action + day",
      path: `/v1/audit?schoolId=${mid}&action=${encodeURIComponent("POST /v1/polls")}&from=${from}&to=${to}`,
      sql: audit({ schoolId: mid, action: "POST /v1/polls", from, to }),
    },
    {
      route: "people, first page",
      path: `/v1/schools/${peopleSchool}/people`,
      sql: people(undefined),
    },
    {
      route: "people, page 150",
      path: `/v1/schools/${peopleSchool}/people?after=${encodeCursor("S007500")}`,
      sql: people("S007500"),
    },
    {
      route: "people, q=S0042",
      path: `/v1/schools/${peopleSchool}/people?q=S0042`,
      sql: people(undefined, "S0042%"),
    },
  ];
}

async function measure(api: string, c: Case): Promise<Measured> {
  for (let i = 0; i < 5; i++) await get(api + c.path); // warm-up
  const latencies: number[] = [];
  let rows = 0;
  let sent = 0;
  await Promise.all(
    Array.from({ length: options.readers }, async () => {
      while (sent < options.requests) {
        sent++;
        const { ms: took, body } = await get(api + c.path);
        latencies.push(took);
        const list = body.polls ?? body.kiosks ?? body.schools ?? body.entries ?? body.items;
        rows = Array.isArray(list) ? list.length : 0;
      }
    }),
  );
  for (let i = 0; i < 5; i++) await c.sql();
  const alone: number[] = [];
  for (let i = 0; i < options.requests; i++) {
    const t0 = performance.now();
    await c.sql();
    alone.push(performance.now() - t0);
  }
  const m = {
    ...c,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    sqlP95: percentile(alone, 95),
    rows,
  };
  log(`${c.route}: p50 ${ms(m.p50)} ms, p95 ${ms(m.p95)} ms, SQL alone p95 ${ms(m.sqlP95)} ms`);
  return m;
}

function report(machine: string, fillSeconds: number, measured: Measured[]): string {
  const lines = [
    "## Console lists (`npm run bench:console`)",
    "",
    machine,
    `Command: \`${benchCommand("bench:console")}\``,
    "",
    `Deployment: ${int(SCHOOLS)} schools, ${int(SCHOOLS * KIOSKS_PER_SCHOOL)} kiosks (health in Redis), ${int(options.people)} people, ${int(AUDIT_ENTRIES)} audit entries, ${int(SCHOOLS * POLLS_PER_SCHOOL)} polls; filled in ${fillSeconds.toFixed(0)} s. HTTP: ${options.readers} concurrent readers, ${options.requests} requests a page; SQL alone: the store's own query, one at a time, ${options.requests} runs.`,
    "",
    "| route | rows | p50 ms | p95 ms | SQL alone p95 ms | p95 / SQL | p95 ≤ 200 ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ...measured.map(
      (m) =>
        `| ${m.route} (\`${m.path
          .replace(/after=[^&]+/, "after=…")
          .replace(/before=\d+/, "before=…")
          .replace(
            /from=[^&]+&to=[^&]+/,
            "from=…&to=…",
          )}\`) | ${m.rows} | ${ms(m.p50)} | ${ms(m.p95)} | ${ms(m.sqlP95)} | ${(m.p95 / m.sqlP95).toFixed(1)} | ${m.p95 <= TARGET_MS ? "met" : "MISSED"} |`,
    ),
  ];
  const verdicts: Verdict[] = [
    valueVerdict(
      "slowest console list page, p95 over HTTP",
      Math.max(...measured.map((m) => m.p95)),
      "≤",
      TARGET_MS,
      (n) => `${ms(n)} ms`,
    ),
  ];
  lines.push("", ...verdictLines(verdicts), "");
  return lines.join("\n");
}

async function cleanup(): Promise<void> {
  for (const child of children.splice(0)) await stopChild(child);
  await removeBenchRun(run, log, { keep: options.keep });
}

async function main(): Promise<void> {
  const machine = machineLine(started);
  log(machine);
  await ensureDatabase(run.databaseUrl);
  const pool = createPool(run.databaseUrl, logger, { max: 2, applicationName: "bench-console" });
  try {
    await migrate(pool, logger);
    const t0 = performance.now();
    await fill(pool);
    await fillHealth();
    const fillSeconds = (performance.now() - t0) / 1000;
    // The API loads every school's known people at start: 10 million rows take a while.
    const api = await startServer(
      "api",
      ["ingest-api/main.ts"],
      (port) => benchServiceEnv(run, port),
      300_000,
    );
    children.push(api.child);
    const measured: Measured[] = [];
    for (const c of await cases(pool, api.url)) measured.push(await measure(api.url, c));
    process.stdout.write(report(machine, fillSeconds, measured));
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
