import assert from "node:assert/strict";
import { type AttendanceEvent, replayDay } from "../common/attendance/person-day.ts";
import { localDay } from "../common/attendance/school-day.ts";
import type { Pool } from "../common/postgres.ts";

// Writer tests of presence state: schools and registers straight in SQL (the writer's tests
// run without the API), attendance_days as rows to compare, and the same rows computed
// independently from the stored events (the local day through luxon, not Postgres).

/** A school with its time zone (the attendance settings keep their defaults). */
export async function insertSchool(pool: Pool, id: string, timeZone: string): Promise<void> {
  await pool.query("insert into schools (id, name, time_zone) values ($1, $2, $3)", [
    id,
    `School ${id}`,
    timeZone,
  ]);
}

/** An attendance register of a school: options in and out, the school's roster. */
export async function insertRegister(pool: Pool, id: string, schoolId: string): Promise<void> {
  await pool.query(
    `insert into polls (id, slug, title, school_id, kind, voters) values ($1, $1, $2, $3, 'attendance', 'roster')`,
    [id, `Register ${id}`, schoolId],
  );
  await pool.query(
    `insert into poll_options (poll_id, id, label, position)
     values ($1, 'in', 'Check in', 1), ($1, 'out', 'Check out', 2)`,
    [id],
  );
}

/** One attendance_days row, its clock-independent state (no change_id, no updated_at). */
export interface DayRow {
  school: string;
  person: string;
  day: string;
  closedSeconds: number;
  firstIn: string | null;
  lastOut: string | null;
  openSince: string | null;
  maxTemperatureC: number | null;
  outsWithoutIn: number;
  doubleIns: number;
  doubleOuts: number;
  events: number;
  /** Where the replay stands (migration 020): the closed time in ms, the last event. */
  closedMs: number;
  lastEventAt: string | null;
  lastEventId: string | null;
}

const iso = (d: Date | null) => (d === null ? null : d.toISOString());
const isoMs = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const byKey = (a: DayRow, b: DayRow) =>
  `${a.school}\u0000${a.day}\u0000${a.person}` < `${b.school}\u0000${b.day}\u0000${b.person}`
    ? -1
    : 1;

/** Every attendance_days row, in key order. */
export async function readAttendanceDays(pool: Pool): Promise<DayRow[]> {
  const { rows } = await pool.query<{
    school_id: string;
    person_id: string;
    day: string;
    closed_seconds: number;
    first_in: Date | null;
    last_out: Date | null;
    open_since: Date | null;
    max_temperature_c: string | null;
    outs_without_in: number;
    double_ins: number;
    double_outs: number;
    events: number;
    closed_ms: number;
    last_event_at: Date | null;
    last_event_id: string | null;
  }>("select *, day::text as day from attendance_days");
  return rows
    .map((r) => ({
      school: r.school_id,
      person: r.person_id,
      day: r.day,
      closedSeconds: r.closed_seconds,
      firstIn: iso(r.first_in),
      lastOut: iso(r.last_out),
      openSince: iso(r.open_since),
      maxTemperatureC: r.max_temperature_c === null ? null : Number(r.max_temperature_c),
      outsWithoutIn: r.outs_without_in,
      doubleIns: r.double_ins,
      doubleOuts: r.double_outs,
      events: r.events,
      closedMs: r.closed_ms,
      lastEventAt: iso(r.last_event_at),
      lastEventId: r.last_event_id,
    }))
    .sort(byKey);
}

/**
 * The rows attendance_days should hold, from every stored event of every register: grouped
 * by school, person and the school-local day luxon gives, each day replayed from its first
 * event (replayDay, the rules of dayState()).
 */
export async function expectedAttendanceDays(pool: Pool): Promise<DayRow[]> {
  const { rows } = await pool.query<{
    school_id: string;
    time_zone: string;
    voter_id: string;
    event_id: string;
    option_id: "in" | "out";
    cast_at: Date;
    temperature_c: string | null;
  }>(`
    select p.school_id, s.time_zone, v.voter_id, v.event_id, v.option_id, v.cast_at, v.temperature_c
    from votes v join polls p on p.id = v.poll_id join schools s on s.id = p.school_id
    where p.kind = 'attendance'`);
  const days = new Map<
    string,
    { school: string; person: string; day: string; events: AttendanceEvent[] }
  >();
  for (const r of rows) {
    const day = localDay(r.cast_at.getTime(), r.time_zone);
    const key = `${r.school_id}\u0000${r.voter_id}\u0000${day}`;
    let entry = days.get(key);
    if (!entry) {
      entry = { school: r.school_id, person: r.voter_id, day, events: [] };
      days.set(key, entry);
    }
    entry.events.push({
      eventId: r.event_id,
      kind: r.option_id,
      atMs: r.cast_at.getTime(),
      temperatureC: r.temperature_c === null ? null : Number(r.temperature_c),
    });
  }
  return [...days.values()]
    .map(({ school, person, day, events }) => {
      const replay = replayDay(null, events);
      const s = replay.state;
      return {
        school,
        person,
        day,
        closedSeconds: s.closedSeconds,
        firstIn: isoMs(s.firstInMs),
        lastOut: isoMs(s.lastOutMs),
        openSince: isoMs(s.openSinceMs),
        maxTemperatureC: s.maxTemperatureC,
        outsWithoutIn: s.outsWithoutIn,
        doubleIns: s.doubleIns,
        doubleOuts: s.doubleOuts,
        events: s.events,
        closedMs: replay.closedMs,
        lastEventAt: isoMs(replay.last?.atMs ?? null),
        lastEventId: replay.last?.eventId ?? null,
      };
    })
    .sort(byKey);
}

/** Asserts attendance_days equals its recomputation from the stored events; returns its rows. */
export async function assertAttendanceDaysMatchEvents(pool: Pool): Promise<DayRow[]> {
  const stored = await readAttendanceDays(pool);
  assert.deepEqual(stored, await expectedAttendanceDays(pool), "attendance_days vs the events");
  return stored;
}
