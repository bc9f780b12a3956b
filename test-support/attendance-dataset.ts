import { DateTime } from "luxon";
import type { Pool } from "../common/postgres.ts";
import type { AttendanceSettings } from "../common/registry-types.ts";
import { prng } from "../harness/seeded-random.ts";
import {
  attendanceSchoolsChanged,
  insertPeopleSql,
  peopleChanged,
} from "../ingest-api/registry/registry-changes.ts";

// A generated attendance data set for the tests of the SQL side of attendance (the analyst
// reports 11-15 and `npm run reconcile`): three schools, their people, registers and a few
// thousand check-ins and check-outs, drawn from a fixed seed so every run sees the same.
// - time zones: Europe/London across both DST changes (2026-03-29: 23 hours, 2026-10-25:
//   25 hours) and Asia/Kathmandu (+05:45, local midnight at 18:15 UTC);
// - weekdays: Monday to Friday, Sunday to Friday, and a weekend school (Saturday, Sunday);
//   holidays in each; events on days that are no school days;
// - every rule: closed intervals, several a day, forgotten check-outs (auto-closed at the
//   day's end, or in now on the day of NOW), check-outs without check-in, double ins and
//   outs, late arrivals (and one exactly at lateAfter), fevers (one exactly at the
//   threshold), a check-in after the day's end, a night across local midnight;
// - events in random arrival order (received up to two days late, stream order shuffled),
//   two events of one person at the same millisecond (their eventIds decide the order),
//   cast_at with microseconds (both sides cut them to the millisecond);
// - people: inactive with events, active with none, an id off the roster (an erased person's
//   pseudonym), groups, no groups, the same id in two schools, ids that sort bytewise
//   (`B-…` before `a-…`); a vote poll of the same school whose voters and option `in` must
//   be ignored.
// Each school also has a person (`*-fix`) whose days are written by hand below, for
// assertions that name their numbers.

/** The moment the reports are computed at: a Wednesday, 11:00 in London, 16:45 in Kathmandu. */
export const NOW = Date.parse("2026-10-28T11:00:00Z");
/** An earlier moment of the same day (09:00 London, 14:45 Kathmandu): more people in now. */
export const EARLIER = Date.parse("2026-10-28T09:00:00Z");

export interface AttendanceSchool {
  id: string;
  timeZone: string;
  settings: AttendanceSettings;
  holidays: string[];
}

export interface AttendancePerson {
  schoolId: string;
  id: string;
  groups: string[];
  active: boolean;
}

export interface AttendanceRegister {
  id: string;
  schoolId: string;
  groupIds: string[] | null;
}

export interface AttendanceRecord {
  eventId: string;
  schoolId: string;
  pollId: string;
  kioskId: string;
  personId: string;
  kind: "in" | "out";
  /** cast_at as inserted: ISO, with microseconds on some. */
  castAt: string;
  /** cast_at cut to the millisecond, as JavaScript reads it. */
  atMs: number;
  temperatureC: number | null;
  receivedAt: number;
  streamSeq: number;
}

export interface AttendanceDataset {
  schools: AttendanceSchool[];
  people: AttendancePerson[];
  registers: AttendanceRegister[];
  /** The registers' events, in arrival (stream) order: not time order. */
  events: AttendanceRecord[];
  /** Votes of an ordinary poll (kind vote) of the school `north`, with voter ids: not events. */
  votes: { eventId: string; voterId: string; optionId: string; castAt: string }[];
}

const SETTINGS: AttendanceSettings = {
  dayEndsAt: "17:00",
  minPresentMinutes: 240,
  lateAfter: "08:45",
  minPresentDaysPct: 80,
  weekdays: [1, 2, 3, 4, 5],
  feverThresholdC: 38,
  temperatureMinC: 28,
  temperatureMaxC: 43,
  publicCounts: false,
};

const SCHOOLS: (AttendanceSchool & { ranges: [string, string][] })[] = [
  {
    id: "north",
    timeZone: "Europe/London",
    settings: SETTINGS,
    holidays: ["2026-04-03", "2026-10-27"],
    ranges: [
      ["2026-03-23", "2026-04-05"],
      ["2026-10-19", "2026-10-28"],
    ],
  },
  {
    id: "ktm",
    timeZone: "Asia/Kathmandu",
    settings: {
      ...SETTINGS,
      dayEndsAt: "16:15",
      minPresentMinutes: 300,
      lateAfter: "09:30",
      minPresentDaysPct: 75,
      weekdays: [7, 1, 2, 3, 4, 5],
      feverThresholdC: 37.8,
    },
    holidays: ["2026-03-27", "2026-10-21"],
    ranges: [
      ["2026-03-22", "2026-04-04"],
      ["2026-10-18", "2026-10-28"],
    ],
  },
  {
    id: "weekend",
    timeZone: "Europe/London",
    settings: {
      ...SETTINGS,
      dayEndsAt: "13:00",
      minPresentMinutes: 120,
      lateAfter: null,
      minPresentDaysPct: 50,
      weekdays: [6, 7],
      feverThresholdC: 38.5,
    },
    holidays: ["2026-10-24"],
    ranges: [
      ["2026-03-21", "2026-04-05"],
      ["2026-10-17", "2026-10-28"],
    ],
  },
];

const PEOPLE: AttendancePerson[] = [
  { schoolId: "north", id: "anna", groups: ["7A"], active: true },
  { schoolId: "north", id: "B-12", groups: ["7A", "choir"], active: true },
  { schoolId: "north", id: "a-13", groups: ["7B"], active: true },
  { schoolId: "north", id: "chen", groups: ["7B"], active: true },
  { schoolId: "north", id: "Zoë", groups: ["7B", "choir"], active: true },
  { schoolId: "north", id: "dev", groups: [], active: true },
  { schoolId: "north", id: "eli", groups: ["7A"], active: false },
  { schoolId: "north", id: "fay", groups: ["staff"], active: true },
  { schoolId: "north", id: "north-fix", groups: ["7B"], active: true },
  { schoolId: "north", id: "gone", groups: ["old"], active: false },
  { schoolId: "ktm", id: "anna", groups: ["K1"], active: true },
  { schoolId: "ktm", id: "bikash", groups: ["K1"], active: true },
  { schoolId: "ktm", id: "chandra", groups: ["K2"], active: true },
  { schoolId: "ktm", id: "dipa", groups: ["K2", "K1"], active: true },
  { schoolId: "ktm", id: "esha", groups: [], active: true },
  { schoolId: "ktm", id: "ktm-fix", groups: ["K2"], active: true },
  { schoolId: "weekend", id: "ola", groups: ["sat"], active: true },
  { schoolId: "weekend", id: "pia", groups: ["sat", "sun"], active: true },
  { schoolId: "weekend", id: "weekend-fix", groups: ["sun"], active: true },
];

/** Events of ids on no roster: an erased person's pseudonym, and "eli" (inactive) has some. */
const OFF_ROSTER: { schoolId: string; id: string }[] = [{ schoolId: "north", id: "erased-Q2x9" }];

/** People who never check in (absent on every school day); "gone" is inactive as well. */
const NEVER = new Set(["north/fay", "north/gone"]);

const REGISTERS: AttendanceRegister[] = [
  { id: "north-gate", schoolId: "north", groupIds: null },
  { id: "north-library", schoolId: "north", groupIds: ["7A"] },
  { id: "ktm-door", schoolId: "ktm", groupIds: null },
  { id: "weekend-door", schoolId: "weekend", groupIds: null },
];

const KIOSKS: Record<string, string[]> = {
  north: ["k-north-1", "k-north-2"],
  ktm: ["k-ktm"],
  weekend: ["k-weekend"],
};

export const SEED = 2_500_025;

function daysOf(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = DateTime.fromISO(from); d <= DateTime.fromISO(to); d = d.plus({ days: 1 }))
    out.push(d.toISODate()!);
  return out;
}

interface Draft {
  schoolId: string;
  personId: string;
  kind: "in" | "out";
  /** A school-local day and wall time "HH:MM[:SS[.mmm]]", or an instant. */
  at: { day: string; time: string } | { iso: string };
  /** Extra microseconds (0-999) after the millisecond. */
  micros?: number;
  temperatureC?: number | null;
  /** A fixed eventId (for same-millisecond ties whose order is the point). */
  eventId?: string;
}

/** Hand-written days, checked by name in the tests (see the comments for their numbers). */
const FIXED: Draft[] = [
  // north-fix, London (min 240, late after 08:45, day ends 17:00)
  // Tue 24 Mar: 08:00:00.0009 -> 12:00:00.0001, cut to ms: exactly 240 minutes, present
  // (with microseconds it would be 239 and absent).
  ...inOut("north", "north-fix", "2026-03-24", "08:00:00.000", "12:00:00.000", [900, 100]),
  // Wed 25 Mar: 08:45:00.000 (not late) -> 12:44:59.999: 14399.999 s, 239 minutes, absent
  ...inOut("north", "north-fix", "2026-03-25", "08:45:00.000", "12:44:59.999"),
  // Thu 26 Mar: 08:45:00.001 is late; 38.0 (the threshold) on the way in is a fever
  {
    schoolId: "north",
    personId: "north-fix",
    kind: "in",
    at: { day: "2026-03-26", time: "08:45:00.001" },
    temperatureC: 38,
  },
  fixed("north", "out", "2026-03-26", "16:00"),
  // Fri 27 Mar: in and out at the same millisecond, in's eventId first: a 0-minute
  // interval; a second out an hour later is a double out
  fixed("north", "in", "2026-03-27", "09:00", "00000000-0000-7000-8000-0000000000a1"),
  fixed("north", "out", "2026-03-27", "09:00", "00000000-0000-7000-8000-0000000000a2"),
  fixed("north", "out", "2026-03-27", "10:00"),
  // Mon 30 Mar (BST): the same tie the other way round: out without in, then in, never out:
  // auto-closed at 17:00 BST, 8 hours, present
  fixed("north", "out", "2026-03-30", "09:00", "00000000-0000-7000-8000-0000000000b1"),
  fixed("north", "in", "2026-03-30", "09:00", "00000000-0000-7000-8000-0000000000b2"),
  // Tue 31 Mar: in at 23:40, after the day's end: auto-closed with 0 minutes; the out at
  // 00:20 is the next day's, without a check-in there
  fixed("north", "in", "2026-03-31", "23:40"),
  fixed("north", "out", "2026-04-01", "00:20"),
  // Fri 3 Apr, a holiday: present, on no school day
  ...inOut("north", "north-fix", "2026-04-03", "08:00", "15:00"),
  // Mon 26 Oct (GMT): 08:00-12:30 and 13:00-13:30: 300 minutes
  ...inOut("north", "north-fix", "2026-10-26", "08:00", "12:30"),
  ...inOut("north", "north-fix", "2026-10-26", "13:00", "13:30"),
  // Wed 28 Oct (today): in at 08:30, in now at NOW and at EARLIER
  fixed("north", "in", "2026-10-28", "08:30"),

  // weekend-fix, London, Saturdays and Sundays (min 120, day ends 13:00)
  // Sun 29 Mar, clocks forward: 00:30 GMT -> 03:30 BST is 2 hours, present
  ...inOut("weekend", "weekend-fix", "2026-03-29", "00:30", "03:30"),
  // Sat 28 Mar: in at 12:00, never out: auto-closed at 13:00, 60 minutes, absent
  fixed("weekend", "in", "2026-03-28", "12:00"),
  // Sun 25 Oct, clocks back: 00:30 BST -> 03:30 GMT is 4 hours
  ...inOut("weekend", "weekend-fix", "2026-10-25", "00:30", "03:30"),

  // ktm-fix, Kathmandu +05:45 (min 300, late after 09:30, day ends 16:15)
  // Mon 23 Mar: 09:15 -> 13:30 is 255 minutes, absent
  ...inOut("ktm", "ktm-fix", "2026-03-23", "09:15", "13:30"),
  // Tue 24 Mar: in at 14:00, never out: auto-closed at 16:15, 135 minutes
  fixed("ktm", "in", "2026-03-24", "14:00"),
  // Wed 25 Mar: in at 09:30 exactly (not late) -> 15:00: 330 minutes, present
  ...inOut("ktm", "ktm-fix", "2026-03-25", "09:30", "15:00"),
  // Thu 26 Mar: in at 00:10 local (18:25 UTC the day before) -> 06:00: 350 minutes
  ...inOut("ktm", "ktm-fix", "2026-03-26", "00:10", "06:00"),
  // Wed 28 Oct (today): in at 10:00; NOW is 16:45 local, after the day's end: auto-closed,
  // 375 minutes; at EARLIER (14:45) in now, 285 minutes
  fixed("ktm", "in", "2026-10-28", "10:00"),
];

function fixed(schoolId: string, kind: "in" | "out", day: string, time: string, eventId?: string) {
  const draft: Draft = { schoolId, personId: `${schoolId}-fix`, kind, at: { day, time } };
  if (eventId !== undefined) draft.eventId = eventId;
  return draft;
}

function inOut(
  schoolId: string,
  personId: string,
  day: string,
  inAt: string,
  outAt: string,
  micros: [number, number] = [0, 0],
): Draft[] {
  return [
    { schoolId, personId, kind: "in", at: { day, time: inAt }, micros: micros[0] },
    { schoolId, personId, kind: "out", at: { day, time: outAt }, micros: micros[1] },
  ];
}

export function buildAttendanceDataset(seed = SEED): AttendanceDataset {
  const random = prng(seed);
  const int = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo + 1));
  const hhmm = (minutes: number) => {
    const m = Math.max(0, Math.min(minutes, 24 * 60 - 1));
    return `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}:${String(int(0, 59)).padStart(2, "0")}.${String(int(0, 999)).padStart(3, "0")}`;
  };
  const drafts: Draft[] = [...FIXED];
  const temperature = () => {
    const r = random();
    if (r < 0.6) return null;
    if (r < 0.95) return int(360, 377) / 10;
    return int(378, 395) / 10;
  };
  for (const school of SCHOOLS) {
    const who = [
      ...PEOPLE.filter((p) => p.schoolId === school.id && !p.id.endsWith("-fix")),
      ...OFF_ROSTER.filter((p) => p.schoolId === school.id),
    ];
    for (const [from, to] of school.ranges)
      for (const day of daysOf(from, to))
        for (const person of who) {
          if (NEVER.has(`${school.id}/${person.id}`)) continue;
          const add = (kind: "in" | "out", minutes: number) =>
            drafts.push({
              schoolId: school.id,
              personId: person.id,
              kind,
              at: { day, time: hhmm(minutes) },
              micros: random() < 0.1 ? int(1, 999) : 0,
              temperatureC: temperature(),
            });
          const arrive = int(7 * 60 + 20, 9 * 60 + 50);
          const leave = int(14 * 60 + 30, 16 * 60 + 59);
          const r = random();
          if (r < 0.12) continue; // absent
          if (r < 0.5) {
            add("in", arrive);
            add("out", leave);
          } else if (r < 0.58) {
            add("in", int(10 * 60, 11 * 60)); // a short visit
            add("out", int(11 * 60 + 30, 13 * 60));
          } else if (r < 0.68) {
            add("in", arrive); // lunch outside
            add("out", int(12 * 60, 12 * 60 + 20));
            add("in", int(12 * 60 + 40, 13 * 60 + 30));
            add("out", leave);
          } else if (r < 0.76) {
            add("in", arrive); // forgets to check out
          } else if (r < 0.82) {
            add("in", arrive); // scans twice on the way in
            add("in", arrive + int(0, 3));
            add("out", leave);
          } else if (r < 0.88) {
            add("in", arrive); // and on the way out
            add("out", leave);
            add("out", leave + int(1, 40));
          } else if (r < 0.93) {
            add("out", arrive - int(5, 30)); // an out before any in
            add("in", arrive);
            add("out", leave);
          } else if (r < 0.96) {
            add("in", int(17 * 60, 20 * 60)); // after the day's end
          } else {
            add("out", int(6 * 60, 9 * 60)); // only an out
          }
        }
  }

  const hex = (n: number) => Array.from({ length: n }, () => int(0, 15).toString(16)).join("");
  const zone = new Map(SCHOOLS.map((s) => [s.id, s.timeZone]));
  const events: AttendanceRecord[] = [];
  for (const d of drafts) {
    const tz = zone.get(d.schoolId)!;
    const at =
      "iso" in d.at
        ? DateTime.fromISO(d.at.iso)
        : DateTime.fromISO(`${d.at.day}T${d.at.time}`, { zone: tz });
    if (!at.isValid) throw new Error(`no such local time: ${JSON.stringify(d.at)} in ${tz}`);
    const atMs = at.toMillis();
    // Nothing after NOW: events are what kiosks sent so far.
    if (atMs > NOW) continue;
    const iso = new Date(atMs).toISOString();
    const micros = d.micros ?? 0;
    const castAt = micros === 0 ? iso : `${iso.slice(0, -1)}${String(micros).padStart(3, "0")}Z`;
    const registers = REGISTERS.filter((r) => r.schoolId === d.schoolId);
    const kiosks = KIOSKS[d.schoolId]!;
    events.push({
      eventId:
        d.eventId ?? `${hex(8)}-${hex(4)}-7${hex(3)}-${"89ab"[int(0, 3)]}${hex(3)}-${hex(12)}`,
      schoolId: d.schoolId,
      pollId: registers[int(0, registers.length - 1)]!.id,
      kioskId: kiosks[int(0, kiosks.length - 1)]!,
      personId: d.personId,
      kind: d.kind,
      castAt,
      atMs,
      temperatureC: d.temperatureC ?? null,
      // an offline kiosk: received up to two days later
      receivedAt: Math.min(NOW, atMs + (random() < 0.1 ? int(1, 48 * 3600) : int(0, 5)) * 1000),
      streamSeq: 0,
    });
  }
  // Arrival order: shuffled (Fisher–Yates on the seeded PRNG), then numbered.
  for (let i = events.length - 1; i > 0; i--) {
    const j = int(0, i);
    [events[i], events[j]] = [events[j]!, events[i]!];
  }
  events.forEach((e, i) => {
    e.streamSeq = i + 1;
  });
  const votes = ["anna", "B-12", "chen"].map((voterId, i) => ({
    eventId: `00000000-0000-7000-9000-00000000000${i + 1}`,
    voterId,
    optionId: "in",
    castAt: `2026-03-2${4 + i}T09:00:00Z`,
  }));
  return {
    schools: SCHOOLS.map(({ ranges: _, ...s }) => s),
    people: PEOPLE,
    registers: REGISTERS,
    events,
    votes,
  };
}

/** Inserts the data set into a migrated database, as the API and the writer would have. */
export async function seedAttendanceDataset(pool: Pool, d: AttendanceDataset): Promise<void> {
  for (const s of d.schools) {
    const a = s.settings;
    await pool.query(
      `insert into schools (id, name, time_zone, attendance_day_ends_at,
         attendance_min_present_minutes, attendance_late_after, attendance_min_present_days_pct,
         attendance_weekdays, fever_threshold_c, temperature_min_c, temperature_max_c)
       values ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        s.id,
        s.timeZone,
        a.dayEndsAt,
        a.minPresentMinutes,
        a.lateAfter,
        a.minPresentDaysPct,
        a.weekdays,
        a.feverThresholdC,
        a.temperatureMinC,
        a.temperatureMaxC,
      ],
    );
    for (const day of s.holidays)
      await pool.query("insert into school_holidays (school_id, day, name) values ($1, $2, $3)", [
        s.id,
        day,
        `Holiday ${day}`,
      ]);
  }
  // As the API writes people: their groups logged for the registers (migration 059).
  await pool.query(
    insertPeopleSql(
      `(school_id, id, name, groups, active)
       select s, i, 'Name of ' || i, array(select json_array_elements_text(g)), a
       from unnest($1::text[], $2::text[], $3::json[], $4::boolean[]) as t(s, i, g, a)`,
      "count(*)",
    ),
    [
      d.people.map((p) => p.schoolId),
      d.people.map((p) => p.id),
      d.people.map((p) => JSON.stringify(p.groups)),
      d.people.map((p) => p.active),
    ],
  );
  // As the API records a roster or holiday change (migration 057).
  await peopleChanged(pool, [...new Set(d.people.map((p) => p.schoolId))]);
  await attendanceSchoolsChanged(
    pool,
    d.schools.filter((s) => s.holidays.length > 0).map((s) => s.id),
  );
  for (const [schoolId, kiosks] of Object.entries(KIOSKS))
    for (const [i, id] of kiosks.entries())
      await pool.query(
        "insert into kiosks (id, slug, name, token_hash, school_id) values ($1, $1, $1, $2, $3)",
        [id, Buffer.from(`${schoolId}-${i}`), schoolId],
      );
  for (const r of d.registers) {
    const tz = d.schools.find((s) => s.id === r.schoolId)!.timeZone;
    await pool.query(
      `insert into polls (id, slug, title, time_zone, school_id, kind, voters, group_ids)
       values ($1, $1, $1, $2, $3, 'attendance', 'roster', $4)`,
      [r.id, tz, r.schoolId, r.groupIds],
    );
    await pool.query(
      `insert into poll_options (poll_id, id, label, position)
       values ($1, 'in', 'In', 1), ($1, 'out', 'Out', 2)`,
      [r.id],
    );
  }
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at,
                        stored_at, stream_seq, temperature_c)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                          $6::timestamptz[], $7::timestamptz[], $7::timestamptz[], $8::bigint[],
                          $9::numeric[])`,
    [
      d.events.map((e) => e.eventId),
      d.events.map((e) => e.pollId),
      d.events.map((e) => e.kind),
      d.events.map((e) => e.kioskId),
      d.events.map((e) => e.personId),
      d.events.map((e) => e.castAt),
      d.events.map((e) => new Date(e.receivedAt).toISOString()),
      d.events.map((e) => e.streamSeq),
      d.events.map((e) => e.temperatureC),
    ],
  );
  // An ordinary poll of the same school, voters and option `in`: no attendance event.
  await pool.query(
    `insert into polls (id, slug, title, time_zone, school_id) values ('north-lunch', 'north-lunch', 'Lunch', 'Europe/London', 'north');
     insert into poll_options (poll_id, id, label, position) values ('north-lunch', 'in', 'In', 1)`,
  );
  await pool.query(
    `insert into votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at, received_at, stream_seq)
     select e, 'north-lunch', o, 'k-north-1', v, c, c, 0
     from unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[]) as t(e, v, o, c)`,
    [
      d.votes.map((v) => v.eventId),
      d.votes.map((v) => v.voterId),
      d.votes.map((v) => v.optionId),
      d.votes.map((v) => v.castAt),
    ],
  );
}
