import { EMPTY_DAY } from "../common/attendance/person-day.ts";
import { localInstant } from "../common/attendance/school-day.ts";
import { adminAnswer, parsedAdminAnswer } from "../ingest-api/attendance/day-answers.ts";
import type { DayAnswer, DayPublication } from "../ingest-api/attendance/day-documents.ts";
import type { SchoolNames } from "../ingest-api/attendance/roster-names.ts";
import { buildDayDocument } from "../result-publisher/attendance-document.ts";
import type {
  AttendanceSchool,
  DayRow,
  RosterPerson,
} from "../result-publisher/attendance-store.ts";
import { benchCommand } from "./bench/command-line.ts";
import { machineLine } from "./bench/machine.ts";
import { benchLog as log } from "./bench/progress.ts";
import { ratioVerdict, type Verdict, valueVerdict, verdictLines } from "./bench/verdict.ts";
import { intFlag, readCli } from "./cli.ts";

// `npm run bench:attendance-answers`: what the API's event loop is held for by each new
// version of a school's day document, at 10,000 people: the answers made from it (the
// whole school as the deployment admin reads it, the whole school with names as the
// school's own admin does, one group with names), spliced from the stored bytes
// (ingest-api/attendance/day-splices.ts, what the API does) against parsing the document
// and writing each answer (parsedAdminAnswer, what it did). In one process, the two
// alternating version by version, so that the machine's load weighs on both alike: the
// end-to-end bench (bench:attendance) runs on 2 cores shared with other work, and its
// timings move with the load more than with this.
//
// Documents: buildDayDocument (the publisher's) on a school of --people in 40 groups, at
// 10:00 (the morning: most in, a few out) and at 18:00 (the day over: everyone left in
// closed at dayEndsAt, the largest document), --versions versions each, 8 people's days
// changed between versions (~the morning peak's interval at the reference scale).
// Targets: spliced / parsed medians ≤ 0.25 for the whole school; the spliced whole school's
// p99 < 5 ms (a fifth of the API's 25 ms p99 budget).

const USAGE = `usage: npm run bench:attendance-answers -- [--people N] [--versions N]
  --people N    people in the school (default 10000)
  --versions N  versions timed per time of day (default 40)`;

const o = readCli(
  {
    usage: USAGE,
    options: {
      people: { type: "string", default: "10000" },
      versions: { type: "string", default: "40" },
    },
  },
  ({ values }) => ({
    people: intFlag("people", values.people, { min: 10, max: 200_000 }),
    versions: intFlag("versions", values.versions, { min: 2, max: 10_000 }),
  }),
);

const started = new Date();
const ZONE = "Europe/Berlin";
const DAY = "2026-12-04";
const GROUPS = 40;
const school: AttendanceSchool = {
  id: "bench-answers",
  timeZone: ZONE,
  settings: {
    dayEndsAt: "17:00",
    minPresentMinutes: 240,
    lateAfter: "08:15",
    minPresentDaysPct: 80,
    weekdays: [1, 2, 3, 4, 5],
    feverThresholdC: 38,
    temperatureMinC: 28,
    temperatureMaxC: 43,
    publicCounts: false,
  },
};

/** mulberry32: the same school every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const rnd = random(25);
const groupName = (g: number) => `${7 + Math.floor(g / 4)}${"ABCD"[g % 4]}`;
const roster: RosterPerson[] = Array.from({ length: o.people }, (_, i) => ({
  id: `${school.id}-${String(i + 1).padStart(6, "0")}`,
  groups: [groupName(i % GROUPS)],
}));

/** A person's day: 95 % came (a late tail, a few fevers), some checked out again. */
function rowOf(person: RosterPerson): DayRow | null {
  if (rnd() < 0.05) return null;
  const firstInMs = localInstant(DAY, "07:30", ZONE) + Math.floor(rnd() * 3_600_000);
  const out = rnd() < 0.2;
  const closedSeconds = out ? Math.floor(rnd() * 5 * 3600) : 0;
  return {
    schoolId: school.id,
    personId: person.id,
    day: DAY,
    state: {
      ...EMPTY_DAY,
      firstInMs,
      openSinceMs: out ? null : firstInMs,
      lastOutMs: out ? firstInMs + closedSeconds * 1000 : null,
      closedSeconds,
      maxTemperatureC: rnd() < 0.01 ? 38.6 : 36.6,
      events: out ? 2 : 1,
    },
    updatedAtMs: firstInMs,
    groups: person.groups,
  };
}

const rows = new Map<string, DayRow>();
for (const p of roster) {
  const row = rowOf(p);
  if (row) rows.set(p.id, row);
}

const names: SchoolNames = {
  names: new Map(roster.map((p, i) => [p.id, `Person ${i + 1} Surname-${i % 997}`])),
  stamp: "bench000",
};

type Kind = "school" | "school, names" | "group, names";
const KINDS: Kind[] = ["school", "school, names", "group, names"];
const ASK: Record<Kind, [string | undefined, SchoolNames | null]> = {
  school: [undefined, null],
  "school, names": [undefined, names],
  "group, names": [groupName(5), names],
};
type Way = "spliced" | "parsed";
const MAKE: Record<
  Way,
  (p: DayPublication, g: string | undefined, n: SchoolNames | null) => DayAnswer
> = {
  spliced: adminAnswer,
  parsed: parsedAdminAnswer,
};

/** The answers of one version, in turn on one publication (the parse or scan is its first's). */
function timeVersion(json: Buffer, way: Way, into: Record<Kind, number[]>): void {
  const p: DayPublication = {
    schoolId: school.id,
    day: DAY,
    version: "v",
    json,
    counts: Buffer.from("{}"),
    answers: new Map(),
  };
  for (const kind of KINDS) {
    const [group, withNames] = ASK[kind];
    const t = performance.now();
    MAKE[way](p, group, withNames);
    into[kind].push(performance.now() - t);
  }
}

const pct = (values: number[], p: number) => {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const int = (n: number) => Math.round(n).toLocaleString("en-US");

const times: Record<string, Record<Way, Record<Kind, number[]>>> = {};
const sizes: Record<string, number> = {};
const moments = ["10:00", "18:00"];
for (const at of moments) {
  const nowMs = localInstant(DAY, at, ZONE);
  times[at] = {
    spliced: { school: [], "school, names": [], "group, names": [] },
    parsed: { school: [], "school, names": [], "group, names": [] },
  };
  log(`${at}: ${o.versions} versions of a ${int(o.people)}-person document...`);
  for (let v = 0; v < o.versions + 2; v++) {
    // 8 people's days changed, as between two runs of the publisher in the peak.
    for (let k = 0; k < 8; k++) {
      const person = roster[Math.floor(rnd() * roster.length)]!;
      const row = rowOf(person);
      if (row) rows.set(person.id, row);
      else rows.delete(person.id);
    }
    const built = buildDayDocument(school, DAY, true, roster, [...rows.values()], nowMs);
    const json = Buffer.from(built.json);
    sizes[at] = json.length;
    // The first two versions warm both up (JIT) and are not kept.
    const keep = v >= 2;
    const order: Way[] = v % 2 === 0 ? ["spliced", "parsed"] : ["parsed", "spliced"];
    for (const way of order) {
      const into = keep ? times[at]![way] : { school: [], "school, names": [], "group, names": [] };
      timeVersion(json, way, into);
    }
  }
}

const verdicts: Verdict[] = [];
const table = [
  "| document | answer | spliced p50 / p99 / max (ms) | parsed p50 / p99 / max (ms) | spliced / parsed (medians) |",
  "| --- | --- | ---: | ---: | ---: |",
];
for (const at of moments) {
  for (const kind of KINDS) {
    const s = times[at]!.spliced[kind];
    const p = times[at]!.parsed[kind];
    const line = (v: number[]) => `${ms(pct(v, 50))} / ${ms(pct(v, 99))} / ${ms(Math.max(...v))}`;
    const ratio = pct(s, 50) / pct(p, 50);
    table.push(
      `| ${at} (${int(sizes[at]! / 1000)} KB) | ${kind}${kind === KINDS[0] ? " (first of the version: the scan, or the parse)" : ""} | ${line(s)} | ${line(p)} | ${ratio.toFixed(3)} |`,
    );
    if (kind === "school") {
      verdicts.push(
        ratioVerdict(`whole-school answer at ${at}, spliced / parsed (medians)`, ratio, "≤", 0.25),
        valueVerdict(
          `whole-school answer at ${at}, spliced p99`,
          pct(s, 99),
          "<",
          5,
          (n) => `${ms(n)} ms`,
        ),
      );
    }
  }
}

const out = [
  "# bench:attendance-answers",
  "",
  machineLine(started),
  `Command: \`${benchCommand("bench:attendance-answers")}\``,
  "",
  `One school of ${int(o.people)} people in ${GROUPS} groups, documents built by the publisher's buildDayDocument; ${o.versions} versions per time of day (8 people changed between versions), each answered both ways in turn, alternating which goes first. Times are of the API's event loop per version: the answers in the order made (the first pays the scan, or the parse, for the rest).`,
  "",
  ...table,
  "",
  verdictLines(verdicts).join("\n"),
];
process.stdout.write(`${out.join("\n")}\n`);
