import { hash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "../common/logger.ts";
import { migrate } from "../common/migrate.ts";
import { createPool, dropDatabase, ensureDatabase } from "../common/postgres.ts";
import { KnownPeople } from "../ingest-api/people/known-people.ts";
import {
  insertPeopleSql,
  peopleChanged,
  updatePeopleSql,
} from "../ingest-api/registry/registry-changes.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { valueVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:roster-memory [-- --schools 1000 --people 10000]`
// The API's known people (ingest-api/people/known-people.ts), which `voters: "roster"`
// polls check a vote's voterId against, at the reference deployment's size: 1,000 schools
// × 10,000 people put straight into a scratch database (generate_series), loaded as the
// API loads them at start (a binary COPY streamed into one key table per school). Printed:
// the bytes a person costs in the process (V8 heap and external memory, ArrayBuffers
// included, after a full GC, against the same process before the load), the load times,
// how soon a change made in Postgres is answered, and lookups in ns/op. The reference,
// measured in the same run: a plain JavaScript Set of the same id strings per school, at
// --reference-schools schools (its bytes a person and its lookups). Target: at most 20
// bytes a person (an attendance service with Redis hash buckets needs ~40).

const USAGE = `usage: npm run bench:roster-memory -- [--schools N] [--people N] [--groups N] [--reference-schools N] [--lookups N]
  --schools N            schools (default 1000)
  --people N             active people per school (default 10000)
  --groups N             groups per school, each person in one (default 0: none), and a lesson
                         register in each school: the set then also holds each group's members
                         (lesson registers' not_in_group)
  --reference-schools N  schools of the reference Set<string> (default 100)
  --lookups N            lookups timed per kind (default 1000000)
env: BENCH_PG_URL (default postgres://postgres@127.0.0.1:5432)`;

const { SCHOOLS, PEOPLE, GROUPS, REFERENCE_SCHOOLS, LOOKUPS } = readCli(
  {
    usage: USAGE,
    options: {
      schools: { type: "string", default: "1000" },
      people: { type: "string", default: "10000" },
      groups: { type: "string", default: "0" },
      "reference-schools": { type: "string", default: "100" },
      lookups: { type: "string", default: "1000000" },
    },
  },
  ({ values }) => ({
    SCHOOLS: intFlag("schools", values.schools, { min: 1 }),
    PEOPLE: intFlag("people", values.people, { min: 1 }),
    GROUPS: intFlag("groups", values.groups, { min: 0 }),
    REFERENCE_SCHOOLS: intFlag("reference-schools", values["reference-schools"], { min: 1 }),
    LOOKUPS: intFlag("lookups", values.lookups, { min: 1 }),
  }),
);
const PG = process.env.BENCH_PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const DB_URL = `${PG}/tallyflow_bench_roster_memory`;
const TARGET_BYTES = 20;
const TARGET_CHANGE_MS = 1_000;
/** Schools per insert statement (progress between them). */
const SCHOOLS_PER_INSERT = 50;
const logger = createLogger("warn");

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  process.stderr.write("run with --expose-gc (npm run bench:roster-memory does)\n");
  process.exit(2);
}

/**
 * Heap and external memory (ArrayBuffers are external) after full GCs, once two readings
 * in a row agree within 0.1%: freed ArrayBuffers leave the external count a little after
 * the GC that found them dead. At least MIN_GCS of them: V8 drops the bytecode of
 * functions not run for several GCs, which would otherwise shrink the later reading.
 */
async function memory(): Promise<{ used: number; rss: number }> {
  const MIN_GCS = 10;
  let last = Number.NaN;
  for (let i = 0; i < 30; i++) {
    gc!();
    await sleep(20);
    const m = process.memoryUsage();
    const used = m.heapUsed + m.external;
    if (i >= MIN_GCS && Math.abs(used - last) <= used * 0.001) return { used, rss: m.rss };
    last = used;
  }
  throw new Error("memory did not settle after 30 full GCs");
}

// As the SQL below writes them: school-<s>, and person <s>-<i> zero-padded like a badge.
const schoolId = (s: number) => `school-${s}`;
const personId = (s: number, i: number) => `${s}-${String(i).padStart(6, "0")}`;

/** `count` random [school, person] pairs of 1..schools × 1..people, made before timing. */
function sample(count: number, schools: number, people: number, offset = 0): [string, string][] {
  const out: [string, string][] = new Array(count);
  for (let k = 0; k < count; k++) {
    const s = 1 + Math.floor(Math.random() * schools);
    const i = 1 + offset + Math.floor(Math.random() * people);
    out[k] = [schoolId(s), personId(s, i)];
  }
  return out;
}

/** ns per call of `has` over the pairs; `expect` is what every answer must be. */
function time(pairs: [string, string][], has: (s: string, p: string) => boolean, expect: boolean) {
  for (let k = 0; k < Math.min(pairs.length, 10_000); k++) has(pairs[k]![0], pairs[k]![1]); // warm up
  let wrong = 0;
  const started = process.hrtime.bigint();
  for (const [s, p] of pairs) if (has(s, p) !== expect) wrong++;
  const ns = Number(process.hrtime.bigint() - started) / pairs.length;
  if (wrong > 0) throw new Error(`${wrong} wrong answers (expected ${expect})`);
  return ns;
}

const int = (n: number) => Math.round(n).toLocaleString("en-US");
const fixed = (n: number, d = 1) => n.toFixed(d);

await dropDatabase(DB_URL);
await ensureDatabase(DB_URL);
const pool = createPool(DB_URL, logger, { max: 2, applicationName: "bench-roster-memory" });
let people: KnownPeople | undefined;
try {
  await migrate(pool, logger);
  const total = SCHOOLS * PEOPLE;
  log(`inserting ${int(SCHOOLS)} schools × ${int(PEOPLE)} people...`);
  const inserting = performance.now();
  await pool.query(
    "insert into schools (id, name) select 'school-' || s, 'School ' || s from generate_series(1, $1::int) s",
    [SCHOOLS],
  );
  for (let from = 1; from <= SCHOOLS; from += SCHOOLS_PER_INSERT) {
    const to = Math.min(SCHOOLS, from + SCHOOLS_PER_INSERT - 1);
    await pool.query(
      `insert into people (school_id, id, groups)
       select 'school-' || s, s || '-' || lpad(i::text, 6, '0'),
              case when $4::int = 0 then '{}' else array['g' || (i % $4::int)] end
       from generate_series($1::int, $2::int) s, generate_series(1, $3::int) i`,
      [from, to, PEOPLE, GROUPS],
    );
    log(`  ${int(to * PEOPLE)} people`);
  }
  // One inactive person a school: the set holds the active ones only.
  await pool.query(
    "insert into people (school_id, id, active) select 'school-' || s, 'inactive', false from generate_series(1, $1::int) s",
    [SCHOOLS],
  );
  // The groups' members are held for schools with a lesson register only: one each.
  if (GROUPS > 0)
    await pool.query(
      `insert into polls (id, slug, title, school_id, kind, voters, group_ids, starts_at, ends_at)
       select 'lesson-' || s, 'lesson-' || s, 'Lesson', 'school-' || s, 'register', 'roster', '{g0}', now(),
              now() + interval '45 minutes'
       from generate_series(1, $1::int) s`,
      [SCHOOLS],
    );
  await pool.query("vacuum analyze people");
  const insertS = (performance.now() - inserting) / 1000;

  log("loading the known people...");
  const before = await memory();
  people = new KnownPeople({
    databaseUrl: DB_URL,
    refreshMs: 3_600_000,
    loadTimeoutMs: 600_000,
    // Its warnings (a LISTEN check racing the stop at the end) would land in the report.
    logger: createLogger("error"),
    liveness: { checkIntervalMs: 5_000, checkTimeoutMs: 5_000, keepAliveMs: 10_000 },
  });
  const starting = performance.now();
  await people.start();
  const startS = (performance.now() - starting) / 1000;
  if (people.people !== total) throw new Error(`loaded ${people.people} people, expected ${total}`);
  const loaded = await memory();
  const bytesPerPerson = (loaded.used - before.used) / total;
  const tableBytesPerPerson = people.bytes / total;
  const rssPerPerson = (loaded.rss - before.rss) / total;

  log("a full reload, and a change in one school...");
  const reloading = performance.now();
  await people.reload();
  const reloadS = (performance.now() - reloading) / 1000;
  // A person added to one school: how soon the set answers for them (NOTIFY, that
  // school's keys read again).
  const changing = performance.now();
  // As the API writes people: the groups changed logged for the registers (migration 059).
  await pool.query(insertPeopleSql("(school_id, id) values ('school-1', 'newcomer')"));
  await peopleChanged(pool, ["school-1"]);
  while (!people.has("school-1", "newcomer")) await sleep(1);
  const changeMs = performance.now() - changing;
  await pool.query(
    updatePeopleSql("active = false", "p.school_id = 'school-1' and p.id = 'newcomer'"),
  );
  await peopleChanged(pool, ["school-1"]);
  while (people.has("school-1", "newcomer")) await sleep(1);

  log(`the reference: a Set<string> per school, ${int(REFERENCE_SCHOOLS)} schools...`);
  const refBefore = await memory();
  const reference = new Map<string, Set<string>>();
  for (let s = 1; s <= REFERENCE_SCHOOLS; s++) {
    const ids = new Set<string>();
    for (let i = 1; i <= PEOPLE; i++) ids.add(personId(s, i));
    reference.set(schoolId(s), ids);
  }
  const refAfter = await memory();
  const refTotal = REFERENCE_SCHOOLS * PEOPLE;
  const refBytesPerPerson = (refAfter.used - refBefore.used) / refTotal;
  log("lookups...");
  const known = sample(LOOKUPS, SCHOOLS, PEOPLE);
  const strangers = sample(LOOKUPS, SCHOOLS, PEOPLE, PEOPLE); // ids past the last person
  const p = people;
  const knownNs = time(known, (s, id) => p.has(s, id), true);
  const strangerNs = time(strangers, (s, id) => p.has(s, id), false);
  // A lesson register's check: the person's own group (id `<school>-<n>`, group n mod GROUPS).
  const groupOf = (id: string) => `g${Number(id.slice(id.indexOf("-") + 1)) % GROUPS}`;
  const groupNs =
    GROUPS === 0 ? undefined : time(known, (s, id) => p.inGroup(s, groupOf(id), id), true);
  if (p.has("school-1", "inactive")) throw new Error("an inactive person is known");
  const md5Ns = time(known, (_s, id) => hash("md5", id, "buffer").length === 16, true);

  const has = (s: string, id: string) => reference.get(s)?.has(id) ?? false;
  const refKnownNs = time(sample(LOOKUPS, REFERENCE_SCHOOLS, PEOPLE), has, true);
  const refStrangerNs = time(sample(LOOKUPS, REFERENCE_SCHOOLS, PEOPLE, PEOPLE), has, false);

  const out = [
    "# Known people in memory (roster polls)",
    "",
    machineLine(new Date()),
    `Command: \`${benchCommand("bench:roster-memory")}\``,
    "",
    `${int(SCHOOLS)} schools × ${int(PEOPLE)} active people = ${int(total)} (and one inactive person a school), ${GROUPS === 0 ? "in no group" : `each in one of ${int(GROUPS)} groups of its school (the set holds each group's members too)`}, inserted in ${fixed(insertS, 0)} s.`,
    "",
    "| what | known people (`ingest-api/people/known-people.ts`) | reference: `Set<string>` per school |",
    "| --- | ---: | ---: |",
    `| people held | ${int(total)} | ${int(refTotal)} |`,
    `| bytes a person (V8 heap + external, after GC, against before the load) | ${fixed(bytesPerPerson)} | ${fixed(refBytesPerPerson)} |`,
    `| the key tables alone (${int(people.bytes)} bytes), bytes a person | ${fixed(tableBytesPerPerson)} | |`,
    `| RSS growth a person (informative: the allocator keeps what the load's garbage used) | ${fixed(rssPerPerson)} | |`,
    `| lookup of a known person, ns/op (md5 of the id + probe) | ${fixed(knownNs, 0)} | ${fixed(refKnownNs, 0)} |`,
    `| lookup of a stranger, ns/op | ${fixed(strangerNs, 0)} | ${fixed(refStrangerNs, 0)} |`,
    ...(groupNs === undefined
      ? []
      : [
          `| a person in their group (\`inGroup\`, a lesson register's check), ns/op | ${fixed(groupNs, 0)} | |`,
        ]),
    `| of a lookup: the md5 of the id alone, ns/op | ${fixed(md5Ns, 0)} | |`,
    "",
    "| load | s |",
    "| --- | ---: |",
    `| start (LISTEN, then a full load: binary COPY of every active person's key) | ${fixed(startS, 2)} |`,
    `| full reload (the safety net, and after LISTEN is re-opened) | ${fixed(reloadS, 2)} |`,
    `| a person added to one school, until the set knows them (NOTIFY, that school read again) | ${fixed(changeMs / 1000, 3)} |`,
    "",
    verdictLines([
      valueVerdict(
        `bytes a person at ${int(total)} people (heap + external)`,
        bytesPerPerson,
        "≤",
        TARGET_BYTES,
        (n) => `${fixed(n)} bytes`,
      ),
      valueVerdict(
        "a change in Postgres answered by the set, at this size",
        changeMs,
        "≤",
        TARGET_CHANGE_MS,
        (n) => `${int(n)} ms`,
      ),
    ]).join("\n"),
  ];
  process.stdout.write(`${out.join("\n")}\n`);
} finally {
  people?.stop();
  await pool.end();
  await dropDatabase(DB_URL);
}
