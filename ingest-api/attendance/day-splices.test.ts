import assert from "node:assert/strict";
import { test } from "node:test";
import { EMPTY_DAY } from "../../common/attendance/person-day.ts";
import { localInstant } from "../../common/attendance/school-day.ts";
import type { AttendanceCounts, AttendanceLists } from "../../common/attendance-contract.ts";
import { buildDayDocument } from "../../result-publisher/attendance-document.ts";
import type {
  AttendanceSchool,
  DayRow,
  RosterPerson,
} from "../../result-publisher/attendance-store.ts";
import { adminAnswer, parsedAdminAnswer } from "./day-answers.ts";
import type { DayPublication } from "./day-documents.ts";
import type { SchoolNames } from "./roster-names.ts";

// The admin's day answers are spliced from the stored document's bytes (day-splices.ts):
// held here to the bytes that parsing the document and stringifying the answer give
// (parsedAdminAnswer), on documents with the ids, group names and keys that could trip a
// scan: quotes and backslashes in ids, escapes, non-ASCII, ids and groups that are array
// indices (JS puts them first), a group named "details" or "groups", an id that is a key
// of the document, a group nobody is in, empty lists.

const KINDS = ["inNow", "out", "absent", "late", "fever", "autoClosed", "anomalies"] as const;

function random(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const counts = (n: number): AttendanceCounts => ({
  roster: n,
  inNow: n % 3,
  present: n % 5,
  absent: n % 7,
  late: 1,
  fever: 0,
  autoClosed: 2,
  anomalies: 3,
});

const TRICKY_IDS = [
  'quote"inside',
  "back\\slash",
  'both\\"',
  "tab\there",
  "line\u2028sep",
  "ünïcødé-名前",
  "emoji-😀",
  "7",
  "12",
  "0",
  "007",
  "groups",
  "details",
  "counts",
  "lists",
  ',"groups":{',
  "}],",
];
const TRICKY_GROUPS = ["details", "groups", "7", "10A", 'q"g', "名", "lists", "counts"];

function makeDocument(seed: number) {
  const next = random(seed);
  const ids = [...TRICKY_IDS];
  for (let i = 0; i < 300; i++) ids.push(`p-${String(i).padStart(4, "0")}`);
  const lists = (members: readonly string[]): AttendanceLists => {
    const out = Object.fromEntries(
      KINDS.map((k) => [k, [] as string[]]),
    ) as unknown as AttendanceLists;
    for (const id of members) {
      const r = next();
      out[r < 0.4 ? "inNow" : r < 0.7 ? "out" : "absent"].push(id);
      if (next() < 0.2) out.late.push(id);
      if (next() < 0.1) out.fever.push(id);
      if (next() < 0.1) out.autoClosed.push(id);
      if (next() < 0.05) out.anomalies.push(id);
    }
    return out;
  };
  const whole = lists(ids);
  const groups: Record<string, { counts: AttendanceCounts; lists: AttendanceLists }> = {};
  for (const g of TRICKY_GROUPS) {
    const members = ids.filter(() => next() < 0.3);
    groups[g] = { counts: counts(members.length), lists: lists(members) };
  }
  const details: Record<string, Record<string, unknown>> = {};
  for (const id of ids)
    if (next() < 0.3)
      details[id] = {
        firstIn: "2026-12-04T08:20:00.000Z",
        ...(next() < 0.5 ? { maxTemperatureC: 38.5 } : {}),
        ...(next() < 0.3 ? { anomalies: 2 } : {}),
      };
  return {
    version: "abcdef0123456789",
    publishedAt: "2026-12-04T09:00:00.000Z",
    schoolId: "school-1",
    day: "2026-12-04",
    timeZone: "Europe/Berlin",
    asOf: "2026-12-04T08:59:59.000Z",
    dayEndsAt: "2026-12-04T16:00:00.000Z",
    dayOver: false,
    schoolDay: true,
    rules: { dayEndsAt: "17:00", minPresentMinutes: 240, lateAfter: "08:15", feverThresholdC: 38 },
    counts: counts(ids.length),
    lists: whole,
    groups,
    details,
  };
}

const publication = (json: Buffer): DayPublication => ({
  schoolId: "school-1",
  day: "2026-12-04",
  version: "abcdef0123456789",
  json,
  counts: Buffer.from("{}"),
  answers: new Map(),
});

function namesOf(doc: ReturnType<typeof makeDocument>): SchoolNames {
  const names = new Map<string, string>();
  // Some people without a name (null in the answer), some names that need escapes.
  Object.values(doc.lists)
    .flat()
    .forEach((id, n) => {
      if (n % 4 !== 0) names.set(id, n % 3 === 0 ? `Näme "${id}" \\ ${n}` : `Name ${n}`);
    });
  return { names, stamp: "0badcafe" };
}

const asked = [undefined, ...TRICKY_GROUPS, "nobody-in-it"];

test("spliced day answers are byte for byte the parsed ones", () => {
  for (const seed of [1, 2, 3]) {
    const doc = makeDocument(seed);
    const json = Buffer.from(JSON.stringify(doc));
    const names = namesOf(doc);
    for (const group of asked)
      for (const withNames of [null, names]) {
        const spliced = publication(json);
        const made = adminAnswer(spliced, group, withNames);
        assert.ok(spliced.layout, "the document is laid out as the publisher writes it");
        const parsed = parsedAdminAnswer(publication(json), group, withNames);
        assert.equal(made.etag, parsed.etag);
        assert.equal(
          made.body.toString(),
          parsed.body.toString(),
          `seed ${seed}, group ${group}, names ${withNames !== null}`,
        );
      }
  }
});

test("a document laid out otherwise (spaces, a part missing) is answered by parsing it", () => {
  const doc = makeDocument(4);
  const spaced = Buffer.from(`  ${JSON.stringify(doc, null, 2)}\n`);
  for (const group of asked) {
    const made = adminAnswer(publication(spaced), group, namesOf(doc));
    const parsed = parsedAdminAnswer(publication(spaced), group, namesOf(doc));
    assert.deepEqual(JSON.parse(made.body.toString()), JSON.parse(parsed.body.toString()));
  }
  const { details: _none, ...withoutDetails } = doc;
  const p = publication(Buffer.from(JSON.stringify(withoutDetails)));
  const made = adminAnswer(p, undefined, null);
  assert.equal(p.layout, null, "no layout: parsed");
  assert.equal(made.body.toString(), parsedAdminAnswer(p, undefined, null).body.toString());
});

test("an empty school day: no groups, no details, empty lists", () => {
  const doc = {
    ...makeDocument(5),
    counts: counts(0),
    lists: Object.fromEntries(KINDS.map((k) => [k, []])),
    groups: {},
    details: {},
  };
  const json = Buffer.from(JSON.stringify(doc));
  for (const group of [undefined, "10A"])
    for (const names of [null, { names: new Map(), stamp: "00000000" }]) {
      const made = adminAnswer(publication(json), group, names);
      assert.equal(
        made.body.toString(),
        parsedAdminAnswer(publication(json), group, names).body.toString(),
      );
    }
});

test("the publisher's own documents: spliced answers are the parsed ones", () => {
  const zone = "Europe/Paris";
  const day = "2025-03-03";
  const school: AttendanceSchool = {
    id: "oak",
    timeZone: zone,
    settings: {
      dayEndsAt: "16:00",
      minPresentMinutes: 240,
      lateAfter: "08:30",
      minPresentDaysPct: 80,
      weekdays: [1, 2, 3, 4, 5],
      feverThresholdC: 38,
      temperatureMinC: 34,
      temperatureMaxC: 43,
      publicCounts: false,
    },
  };
  const next = random(9);
  const groups = ["7A", "7B", "12", "3", "ü-x", "0", "details", "groups"];
  const ids = [...TRICKY_IDS, ...Array.from({ length: 600 }, (_, i) => `p${i}`)].sort((a, b) =>
    Buffer.compare(Buffer.from(a), Buffer.from(b)),
  );
  const roster: RosterPerson[] = ids.map((id) => ({
    id,
    groups: groups.filter(() => next() < 0.25),
  }));
  const rows: DayRow[] = [];
  for (const person of roster) {
    const r = next();
    if (r < 0.1) continue;
    const firstInMs = localInstant(day, "07:30", zone) + Math.floor(next() * 7_200_000);
    const closedSeconds = r < 0.5 ? 0 : Math.floor(next() * 6 * 3600);
    rows.push({
      schoolId: school.id,
      personId: person.id,
      day,
      state: {
        ...EMPTY_DAY,
        firstInMs,
        openSinceMs: r < 0.5 ? firstInMs : null,
        lastOutMs: r < 0.5 ? null : firstInMs + closedSeconds * 1000,
        closedSeconds,
        maxTemperatureC: next() < 0.1 ? 38.4 : 36.6,
        outsWithoutIn: next() < 0.05 ? 1 : 0,
        events: 2,
      },
      updatedAtMs: firstInMs,
      groups: person.groups,
    });
  }
  for (const nowAt of ["10:00", "18:00"]) {
    const built = buildDayDocument(school, day, true, roster, rows, localInstant(day, nowAt, zone));
    const json = Buffer.from(built.json);
    const doc = JSON.parse(json.toString()) as ReturnType<typeof makeDocument>;
    const names = namesOf(doc);
    for (const group of [undefined, ...groups, "none"])
      for (const withNames of [null, names]) {
        const p = publication(json);
        const made = adminAnswer(p, group, withNames);
        assert.ok(p.layout);
        assert.equal(
          made.body.toString(),
          parsedAdminAnswer(publication(json), group, withNames).body.toString(),
        );
      }
  }
});
