import {
  DEFAULT_SCHOOL_ID,
  type Kiosk,
  type Poll,
  type PollVoters,
  type School,
} from "../../common/registry-types.ts";
import { type AdminAnswer, AdminClient, describe, errorCode } from "./admin-client.ts";
import {
  DEMO_POLLS,
  demoKiosk,
  demoSchool,
  KIOSK_SLUG_PREFIX,
  type PollDefinition,
} from "./demo-data.ts";
import {
  KIOSK_FILE_NOTE,
  KIOSK_FILE_VERSION,
  type KioskFile,
  readKioskFile,
  type SeededKiosk,
  type SeededPoll,
  type SeededSchool,
  type SeedLayout,
  writeKioskFile,
} from "./kiosk-file.ts";
import { MAX_ROSTER, type RosterScheme, rosterCsvChunks, rosterScheme } from "./roster.ts";
import { fmtInt } from "./stats.ts";

// The demo data, created through the admin HTTP API so it works against any deployment:
// schools (`school-0001` …), each with the four demo polls and a roster imported as CSV,
// and kiosks spread over the schools, one school each. `schools: 0` is the demo as it was
// before schools: the four polls in the `default` school, open to any voter id, no roster
// (what `npm run bench` and the chaos suite load, with their free-text voter ids).
//
// Idempotent and resumable: a school, poll or kiosk that exists is kept (polls are found
// by their name in the school, the id of a poll outside `default` having a drawn suffix),
// a roster is imported again as an upsert (answering `unchanged`), kiosks whose tokens are
// in the file are reused and only missing ones are created. An interrupted seed is
// finished by running it again.

export const DEFAULT_API_URL = "http://127.0.0.1:3000";
export const DEFAULT_ADMIN_TOKEN = "dev-admin-token";
/** A demo that takes seconds: three schools in three time zones, 200 people on each roster. */
export const DEFAULT_SCHOOLS = 3;
export const DEFAULT_PEOPLE = 200;
export const DEFAULT_CONCURRENCY = 4;
/**
 * The largest roster import the seed sends: a fifth of the API's default
 * PEOPLE_IMPORT_MAX_BYTES (5 MiB), so 10,000 people go in one request. An API with a
 * smaller limit answers 413, and the seed sends that part in halves.
 */
export const DEFAULT_IMPORT_BYTES = 1_048_576;
const IMPORT_TIMEOUT_MS = 120_000;

export interface SeedOptions {
  apiUrl: string;
  adminToken: string;
  /** How many kiosks the file should hold at least. */
  kiosks: number;
  file: string;
  /** Schools (0 = the default school, without a roster); default: the file's, else DEFAULT_SCHOOLS. */
  schools?: number;
  /** People per school; default: the file's, else DEFAULT_PEOPLE. */
  people?: number;
  /** Schools seeded at the same time (default DEFAULT_CONCURRENCY). */
  concurrency?: number;
  /** Most bytes of one roster import request (default DEFAULT_IMPORT_BYTES). */
  importBytes?: number;
  /** Time between progress lines of a seed of more than 20 schools (default 5 s). */
  progressIntervalMs?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

export interface ImportCounts {
  created: number;
  updated: number;
  unchanged: number;
}

export interface SeedReport {
  file: string;
  layout: SeedLayout;
  schools: { id: string; outcome: "created" | "kept" }[];
  polls: { id: string; schoolId: string; slug: string; outcome: "created" | "kept" }[];
  /** The roster imports' answers, summed over the schools. */
  people: ImportCounts;
  kiosksReused: number;
  kiosksCreated: number;
  /** Kiosks the registry has but whose token is not in the file (it cannot be recovered). */
  kiosksWithoutToken: string[];
  /** Kiosks in the file that the registry no longer has, or that were revoked: dropped. */
  kiosksDropped: string[];
  seconds: { schools: number; kiosks: number };
  content: KioskFile;
}

function layoutText(layout: SeedLayout): string {
  return layout.schools === 0
    ? "--schools 0 (the default school)"
    : `--schools ${layout.schools} --people ${layout.people}`;
}

/**
 * What this seed makes, from the options and the file's previous seed. A file holding
 * kiosk tokens keeps its schools: the seed may add schools, never leave some out (their
 * tokens would leave the file, the only copy).
 */
function resolveLayout(previous: KioskFile | undefined, o: SeedOptions): SeedLayout {
  const was = previous?.layout;
  const schools = o.schools ?? was?.schools ?? DEFAULT_SCHOOLS;
  if (!Number.isInteger(schools) || schools < 0)
    throw new Error(`schools must be a whole number ≥ 0, not ${schools}`);
  if (schools === 0 && o.people !== undefined && o.people > 0)
    throw new Error(
      "people need schools: --schools 0 is the default school's demo, without a roster",
    );
  const people =
    schools === 0 ? 0 : (o.people ?? (was && was.schools > 0 ? was.people : DEFAULT_PEOPLE));
  if (!Number.isInteger(people) || people < 0 || people > MAX_ROSTER)
    throw new Error(`people must be a whole number from 0 to ${MAX_ROSTER}, not ${people}`);
  const layout = { schools, people };
  if (was && (previous?.kiosks.length ?? 0) > 0) {
    const switches = (was.schools === 0) !== (schools === 0);
    if (switches || schools < was.schools)
      throw new Error(
        `${o.file} holds ${previous?.kiosks.length} kiosk tokens of a seed with ${layoutText(was)}; ` +
          `${layoutText(layout)} would leave some out of it, and it is their only copy. Seed ` +
          `with --schools ${was.schools}${was.schools > 0 ? " or more" : ""}, or into another file (--file PATH)`,
      );
  }
  return layout;
}

function roundUpToHour(ms: number): number {
  return Math.ceil(ms / 3_600_000) * 3_600_000;
}

function toSeeded(def: PollDefinition, poll: Poll): SeededPoll {
  const weights = new Map(def.options.map((o) => [o.id, o.weight]));
  return {
    id: poll.id,
    schoolId: poll.schoolId,
    slug: poll.slug,
    title: poll.title,
    timeZone: poll.timeZone,
    opensAt: poll.opensAt,
    closesAt: poll.closesAt,
    resultsVisibility: poll.resultsVisibility,
    oneVotePerVoter: poll.oneVotePerVoter,
    voters: poll.voters,
    // A poll kept from an older seed may still be one-vote-per-voter: not a check-in poll.
    checkIn: def.checkIn === true && !poll.oneVotePerVoter,
    kioskShare: def.kioskShare,
    options: poll.options.map((o) => ({
      id: o.id,
      label: o.label,
      weight: weights.get(o.id) ?? 1,
    })),
  };
}

const inSchool = (schoolId: string) => `schoolId=${encodeURIComponent(schoolId)}`;

/**
 * A poll kept from an older seed with other rules: who may vote is set (always allowed);
 * oneVotePerVoter is switched while the poll has no votes (demo-checkin was
 * one-vote-per-voter, which report 10 refuses); with votes the registry refuses (409
 * poll_has_votes) and the poll keeps its rule.
 */
async function fixRules(
  admin: AdminClient,
  def: PollDefinition,
  voters: PollVoters,
  poll: Poll,
  log: (line: string) => void,
): Promise<Poll> {
  const name = `poll ${poll.id}`;
  if (poll.voters !== voters) {
    const res = await admin.call("PATCH", `/v1/polls/${poll.id}`, { voters });
    if (res.status !== 200) throw new Error(`${name}: ${describe(res)}`);
    log(`${name}: voters set to ${voters}`);
    poll = res.body as Poll;
  }
  if (poll.oneVotePerVoter === def.oneVotePerVoter) return poll;
  const res = await admin.call("PATCH", `/v1/polls/${poll.id}`, {
    oneVotePerVoter: def.oneVotePerVoter,
  });
  if (res.status === 200) {
    log(`${name}: oneVotePerVoter set to ${def.oneVotePerVoter}`);
    return res.body as Poll;
  }
  if (res.status === 409 && errorCode(res.body) === "poll_has_votes") {
    log(
      `${name} has votes and keeps oneVotePerVoter ${poll.oneVotePerVoter}` +
        (def.checkIn ? ": it is not a check-in poll (archive and delete it, then seed again)" : ""),
    );
    return poll;
  }
  throw new Error(`${name}: ${describe(res)}`);
}

async function listPolls(admin: AdminClient, schoolId: string): Promise<Map<string, Poll>> {
  const polls = await admin.list<Poll>(`/v1/polls?${inSchool(schoolId)}`, "polls");
  return new Map(polls.map((p) => [p.slug, p]));
}

interface SchoolSeed {
  school: SeededSchool;
  outcome: "created" | "kept";
  polls: { poll: SeededPoll; outcome: "created" | "kept" }[];
  people: ImportCounts | null;
}

/** The demo polls of one school: found by their name in it, created when missing. */
async function seedPolls(
  admin: AdminClient,
  schoolId: string,
  withRoster: boolean,
  nowMs: number,
  log: (line: string) => void,
): Promise<SchoolSeed["polls"]> {
  let existing = await listPolls(admin, schoolId);
  const seeded: SchoolSeed["polls"] = [];
  for (const def of DEMO_POLLS) {
    const voters: PollVoters = withRoster && def.rosterOnly ? "roster" : "any";
    let poll = existing.get(def.slug);
    let outcome: "created" | "kept" = "kept";
    if (!poll) {
      const res = await admin.call("POST", "/v1/polls", {
        id: def.slug,
        schoolId,
        title: def.title,
        // The default school's demo keeps its three time zones; a school's polls take its own.
        ...(schoolId === DEFAULT_SCHOOL_ID ? { timeZone: def.timeZone } : {}),
        resultsVisibility: def.resultsVisibility,
        oneVotePerVoter: def.oneVotePerVoter,
        voters,
        options: def.options.map((o) => ({ id: o.id, label: o.label })),
        closesAt:
          def.closesInMs === null
            ? null
            : new Date(roundUpToHour(nowMs + def.closesInMs)).toISOString(),
      });
      if (res.status === 201) {
        poll = res.body as Poll;
        outcome = "created";
      } else if (res.status === 409 && errorCode(res.body) === "poll_exists") {
        existing = await listPolls(admin, schoolId); // created meanwhile by someone else
        poll = existing.get(def.slug);
      }
      if (!poll) throw new Error(`poll ${def.slug} of school ${schoolId}: ${describe(res)}`);
    }
    poll = await fixRules(admin, def, voters, poll, log);
    if (poll.archived) log(`poll ${poll.id} exists but is archived: the simulator will skip it`);
    seeded.push({ poll: toSeeded(def, poll), outcome });
  }
  return seeded;
}

function addCounts(to: ImportCounts, add: ImportCounts): void {
  to.created += add.created;
  to.updated += add.updated;
  to.unchanged += add.unchanged;
}

interface ImportAnswer extends ImportCounts {
  errors: { line: number; field: string; message: string }[];
}

/**
 * Imports the school's roster in bodies of at most `maxBytes` (upserts: people the file
 * leaves out are kept, a second import answers `unchanged`). A 413 sends that body in halves.
 */
async function importRoster(
  admin: AdminClient,
  schoolId: string,
  scheme: RosterScheme,
  maxBytes: number,
): Promise<ImportCounts> {
  const path = `/v1/schools/${encodeURIComponent(schoolId)}/people/import`;
  const totals: ImportCounts = { created: 0, updated: 0, unchanged: 0 };
  const bodies = rosterCsvChunks(schoolId, scheme, maxBytes);
  while (bodies.length > 0) {
    const body = bodies.shift()!;
    const res: AdminAnswer = await admin.csv(path, body, IMPORT_TIMEOUT_MS);
    if (res.status === 413) {
      const [header, ...rows] = body.trimEnd().split("\n");
      if (rows.length < 2)
        throw new Error(`roster of ${schoolId}: one row is too large: ${describe(res)}`);
      const half = Math.ceil(rows.length / 2);
      bodies.unshift(
        `${header}\n${rows.slice(0, half).join("\n")}\n`,
        `${header}\n${rows.slice(half).join("\n")}\n`,
      );
      continue;
    }
    if (res.status !== 200)
      throw new Error(`roster of ${schoolId}: POST ${path}: ${describe(res)}`);
    const answer = res.body as ImportAnswer;
    if (answer.errors.length > 0) {
      const e = answer.errors[0]!;
      throw new Error(
        `roster of ${schoolId}: ${answer.errors.length} rows refused, e.g. line ${e.line}, ${e.field}: ${e.message}`,
      );
    }
    addCounts(totals, answer);
  }
  return totals;
}

/** One school: itself (unless it is `default`), its demo polls, its roster. */
async function seedSchool(
  admin: AdminClient,
  def: { id: string; name: string; timeZone: string },
  known: Map<string, School>,
  layout: SeedLayout,
  o: { nowMs: number; importBytes: number; log: (line: string) => void },
): Promise<SchoolSeed> {
  let school = known.get(def.id);
  let outcome: "created" | "kept" = "kept";
  if (!school) {
    const res = await admin.call("POST", "/v1/schools", def);
    if (res.status === 201) {
      school = res.body as School;
      outcome = "created";
    } else if (res.status === 409 && errorCode(res.body) === "school_exists") {
      const got = await admin.call("GET", `/v1/schools/${encodeURIComponent(def.id)}`);
      if (got.status === 200) school = got.body as School;
    }
    if (!school) throw new Error(`school ${def.id}: ${describe(res)}`);
  }
  const scheme = layout.people > 0 ? rosterScheme(school.id, layout.people) : null;
  const polls = await seedPolls(admin, school.id, scheme !== null, o.nowMs, o.log);
  const people = scheme ? await importRoster(admin, school.id, scheme, o.importBytes) : null;
  return {
    school: { id: school.id, name: school.name, timeZone: school.timeZone, people: scheme },
    outcome,
    polls,
    people,
  };
}

/** Runs `work` on every item, `concurrency` at a time, in order of the items; the first failure ends it. */
async function inParallel<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
  done: (result: R) => void,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await work(items[i]!);
      } catch (err) {
        failed = true;
        throw err;
      }
      done(results[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}

function duration(s: number): string {
  if (s < 90) return `${s.toFixed(0)} s`;
  if (s < 5_400) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3_600)} h ${Math.round((s % 3_600) / 60)} min`;
}

async function seedSchools(
  admin: AdminClient,
  layout: SeedLayout,
  o: SeedOptions,
  log: (line: string) => void,
): Promise<SchoolSeed[]> {
  const defs =
    layout.schools === 0
      ? [{ id: DEFAULT_SCHOOL_ID, name: "Default school", timeZone: "UTC" }]
      : Array.from({ length: layout.schools }, (_, i) => demoSchool(i + 1));
  const known = new Map<string, School>();
  for (const s of await admin.list<School>("/v1/schools", "schools")) known.set(s.id, s);

  const started = performance.now();
  const perSchool = defs.length <= 20;
  let finished = 0;
  const made = { created: 0, kept: 0 };
  const people: ImportCounts = { created: 0, updated: 0, unchanged: 0 };
  const interval = o.progressIntervalMs ?? 5_000;
  const progress = () => {
    const s = (performance.now() - started) / 1000;
    const rate = finished / Math.max(s, 0.001);
    const left = rate > 0 ? (defs.length - finished) / rate : Number.NaN;
    log(
      `schools ${fmtInt(finished)}/${fmtInt(defs.length)} (${made.created} created, ${made.kept} kept), ` +
        `people ${fmtInt(people.created)} created, ${fmtInt(people.updated)} updated, ${fmtInt(people.unchanged)} unchanged; ` +
        `${rate.toFixed(1)} schools/s` +
        (finished < defs.length && Number.isFinite(left) ? `, about ${duration(left)} left` : ""),
    );
  };
  const timer = perSchool ? undefined : setInterval(progress, interval);
  try {
    const results = await inParallel(
      defs,
      Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY),
      (def) =>
        seedSchool(admin, def, known, layout, {
          nowMs: Date.now(),
          importBytes: o.importBytes ?? DEFAULT_IMPORT_BYTES,
          log,
        }),
      (r) => {
        finished++;
        made[r.outcome]++;
        if (r.people) addCounts(people, r.people);
        if (perSchool) {
          const created = r.polls.filter((p) => p.outcome === "created").length;
          log(
            `school ${r.school.id} (${r.school.name}, ${r.school.timeZone}): ${r.outcome}; polls: ` +
              `${created} created, ${r.polls.length - created} kept` +
              (r.people
                ? `; roster of ${fmtInt(layout.people)}: ${fmtInt(r.people.created)} created, ` +
                  `${fmtInt(r.people.updated)} updated, ${fmtInt(r.people.unchanged)} unchanged`
                : ""),
          );
        }
      },
    );
    if (!perSchool) progress();
    return results;
  } finally {
    if (timer) clearInterval(timer);
  }
}

export async function seed(options: SeedOptions): Promise<SeedReport> {
  const log = options.log ?? (() => {});
  const admin = new AdminClient(options.apiUrl, options.adminToken);
  const previous = await readKioskFile(options.file);
  const layout = resolveLayout(previous, options);

  let t = performance.now();
  const seeded = await seedSchools(admin, layout, options, log);
  const schoolsS = (performance.now() - t) / 1000;
  const schools = seeded.map((s) => s.school);
  const polls = seeded.flatMap((s) => s.polls.map((p) => p.poll));
  const inLayout = new Set(schools.map((s) => s.id));

  t = performance.now();
  const listed = await admin.list<Kiosk>("/v1/kiosks", "kiosks");
  const registry = new Map(listed.map((k) => [k.id, k]));
  // A kiosk number is taken when one of the seed's schools has it, whichever: kiosk n keeps
  // the school it was created in when schools are added later.
  const taken = new Set(
    [...registry.values()].filter((k) => inLayout.has(k.schoolId)).map((k) => k.slug),
  );

  if (previous && previous.apiUrl !== options.apiUrl)
    log(
      `note: ${options.file} was written for ${previous.apiUrl}; keeping only the kiosks ${options.apiUrl} knows`,
    );
  const kiosks: SeededKiosk[] = [];
  const dropped: string[] = [];
  for (const k of previous?.kiosks ?? []) {
    const known = registry.get(k.id);
    if (known && known.revokedAt === null) kiosks.push(k);
    else dropped.push(k.id);
  }
  const reused = kiosks.length;
  const inFile = new Set(kiosks.map((k) => k.id));
  const withoutToken = [...registry.values()]
    .filter(
      (k) =>
        inLayout.has(k.schoolId) &&
        k.slug.startsWith(KIOSK_SLUG_PREFIX) &&
        !inFile.has(k.id) &&
        k.revokedAt === null,
    )
    .map((k) => k.id);

  // A new kiosk n goes to school n of the seed (round robin): kiosks spread over the schools.
  const toCreate: { id: string; schoolId: string; name: string }[] = [];
  for (let n = 1; kiosks.length + toCreate.length < options.kiosks; n++) {
    const schoolId = schools[(n - 1) % schools.length]!.id;
    const { slug, name } = demoKiosk(n);
    if (taken.has(slug)) continue; // taken (its token, if any, is not ours)
    toCreate.push({ id: slug, schoolId, name });
  }
  const created: SeededKiosk[] = [];
  const write = () =>
    writeKioskFile(options.file, {
      note: KIOSK_FILE_NOTE,
      version: KIOSK_FILE_VERSION,
      apiUrl: options.apiUrl,
      updatedAt: new Date().toISOString(),
      layout,
      schools,
      polls,
      kiosks: [...kiosks, ...created].sort((a, b) => a.slug.localeCompare(b.slug)),
    });
  // Written after every chunk: a token that the API showed must never be lost.
  for (let i = 0; i < toCreate.length; i += 8) {
    const chunk = toCreate.slice(i, i + 8);
    const results = await Promise.allSettled(
      chunk.map(async (k) => {
        const res = await admin.call("POST", "/v1/kiosks", k);
        if (res.status !== 201) throw new Error(`kiosk ${k.id} of ${k.schoolId}: ${describe(res)}`);
        const body = res.body as Kiosk & { token: string };
        created.push({
          id: body.id,
          schoolId: body.schoolId,
          slug: body.slug,
          name: body.name,
          token: body.token,
        });
      }),
    );
    await write();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
    if (toCreate.length > 50 && (i / 8) % 10 === 9)
      log(`kiosks: ${created.length}/${toCreate.length} created`);
  }
  await write();
  const content = (await readKioskFile(options.file))!;
  log(
    `kiosks: ${reused} reused, ${created.length} created` +
      (dropped.length > 0 ? `, ${dropped.length} dropped (gone or revoked)` : "") +
      (withoutToken.length > 0
        ? `; ${withoutToken.length} in the registry have no token in the file (lost: revoke them)`
        : ""),
  );
  const people: ImportCounts = { created: 0, updated: 0, unchanged: 0 };
  for (const s of seeded) if (s.people) addCounts(people, s.people);
  return {
    file: options.file,
    layout,
    schools: seeded.map((s) => ({ id: s.school.id, outcome: s.outcome })),
    polls: seeded.flatMap((s) =>
      s.polls.map(({ poll, outcome }) => ({
        id: poll.id,
        schoolId: poll.schoolId,
        slug: poll.slug,
        outcome,
      })),
    ),
    people,
    kiosksReused: reused,
    kiosksCreated: created.length,
    kiosksWithoutToken: withoutToken,
    kiosksDropped: dropped,
    seconds: { schools: schoolsS, kiosks: (performance.now() - t) / 1000 },
    content,
  };
}
