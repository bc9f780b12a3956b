import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setImmediate } from "node:timers/promises";
import { from as copyFrom } from "pg-copy-streams";
import {
  type AttendanceEvent,
  continuesDay,
  type DayReplay,
  replayDay,
} from "../common/attendance/person-day.ts";
import { type Pool, type PoolClient, pgCode } from "../common/postgres.ts";
import { field } from "./copy-rows.ts";

// The presence state (attendance_days, migrations 019, 020 and 025), kept by the writer in the
// transaction that stores the events, as it keeps the rollups: per school, person and
// school-local day, only for the person-days the batch inserted events into (duplicates
// insert nothing, so they change nothing), plus up to `dirtyLimit` dirty ones
// (attendance_dirty: a register deleted since). The state is the replay of the day's events
// in time order (common/attendance/person-day.ts), so the order they arrive in never matters:
// - a person-day without a row has no events but the batch's own (every person-day with
//   events has its row or is dirty: migration 020), replayed from the start;
// - one whose stored replay they all come after (the common case: an out after its in)
//   continues it (replayDay from the stored DayReplay: the same state as replaying all);
//   the stored replay is the one this writer wrote, from memory (WrittenDays, with the
//   tx_id it wrote), else read by primary key;
// - one they do not (an event arriving late, out of order) is replayed from all its events,
//   read through votes_poll_voter_cast_idx (poll, voter, cast time) over the school's
//   registers, never a scan.
//
// Two writers storing events of one person-day at once would each miss the other's
// uncommitted events, and the last to write would lose the first's. So the batch's write is
// conditional: a row is written only if its tx_id is still the one read with it, and a new
// one only if still missing. Every writer of a person-day changes its tx_id in the
// transaction that stores its events: an unchanged tx_id means no events came in since.
// (ON CONFLICT DO UPDATE waits for a row being written, then judges its latest version.)
// New rows go in by one COPY (the fastest insert: the morning's check-ins are all new),
// which fails whole on a row another writer created meanwhile (23505, undone to a
// savepoint); they are then written as the others are. A person-day that changed meanwhile
// (rare: two writers on one person within a batch's time) is done the locking way, as dirty
// ones are: its row locked first (created when missing), then all its events read, in a
// statement of their own (READ COMMITTED: it sees all that committed before the lock was
// granted). Rows are written and locked in key order, so that writers on the same
// person-days wait for each other in one order; a deadlock left (a transaction holding its
// written rows while it locks a changed one) is retried as any (pg-errors.ts: class 40 is
// transient).
//
// The batch's person-days travel by COPY (into attendance_days when new, else into a
// temporary table), not as array parameters: at 100,000 rows, sixteen arrays cost more to
// pass than the rows cost to write.
//
// Updates stay heap-only (migration 025): they change no indexed column (tx_id is not
// indexed; the person index covers the settled copies, which stay null until the idle
// writer settles a past day, and are rewritten with the row once set). Each transaction logs
// the school-days it wrote in attendance_day_changes, for the publisher.

/** An inserted event of an attendance register, with its school and the school's zone. */
export interface RegisterEvent {
  eventId: string;
  optionId: string;
  voterId: string;
  /** As sent (ISO 8601) or as Postgres prints it: what the local day is computed from. */
  castAt: string;
  /** castAt in milliseconds since 1970. */
  atMs: number;
  temperatureC: number | null;
  schoolId: string;
  timeZone: string;
}

export interface PresenceResult {
  /** Person-days recomputed (kept or removed). */
  personDays: number;
  /** Of which had no event left (a register deleted): their row removed. */
  removed: number;
}

interface PersonDay {
  school: string;
  person: string;
  /** "YYYY-MM-DD", school-local. */
  day: string;
}

interface Replayed {
  day: PersonDay;
  replay: DayReplay;
  /** The row's tx_id when read; null: no row then. */
  readTxId: string | null;
}

// Per connection, created in the first transaction that needs it, and known to exist once
// that one committed (a rolled-back batch discards its connection: store-batch.ts), emptied
// at every commit.
const CREATE_TEMP_TABLES = `
  create temp table if not exists presence_days (
    school_id text not null, person_id text not null, day date not null,
    closed_seconds integer not null, closed_ms integer not null, first_in timestamptz,
    last_out timestamptz, open_since timestamptz, max_temperature_c numeric(4, 1),
    outs_without_in integer not null, double_ins integer not null, double_outs integer not null,
    events integer not null, last_event_at timestamptz, last_event_id uuid, read_tx_id xid8
  ) on commit delete rows`;

// Instants come back as milliseconds since 1970 (cut to the millisecond, as JavaScript reads
// an event's castAt), so that every path replays the same numbers.
const MS = (col: string) => `floor(extract(epoch from ${col}) * 1000)::float8`;

// The school-local day of an instant, as every part of tallyflow computes it in SQL.
const LOCAL_DAY = (at: string, tz: string) => `(${at} at time zone ${tz})::date`;

const STORED_COLUMNS = `a.tx_id::text as tx_id, a.closed_ms, ${MS("a.first_in")} as first_in_ms,
  ${MS("a.last_out")} as last_out_ms, ${MS("a.open_since")} as open_since_ms,
  a.max_temperature_c::float8 as max_temperature_c, a.outs_without_in, a.double_ins,
  a.double_outs, a.events, ${MS("a.last_event_at")} as last_event_ms,
  a.last_event_id::text as last_event_id`;

// The stored replay and tx_id of the given person-days that have a row, by their index in
// the list: one primary-key probe each (LATERAL: never a scan of attendance_days).
const STORED_DAYS = `
  select k.i::int as i, a.*
  from unnest($1::text[], $2::text[], $3::date[]) with ordinality as k(school_id, person_id, day, i)
  join lateral (
    select ${STORED_COLUMNS} from attendance_days a
    where a.school_id = k.school_id and a.day = k.day and a.person_id = k.person_id collate "C"
  ) a on true`;

// The school-local day at the first and the last millisecond of 15-minute slots of time
// ($2: their starts in ms since 1970) in zones ($1), computed by Postgres as every part of
// tallyflow computes a local day in SQL. Offsets are whole quarter hours and change at
// quarter hours, so a slot whose two ends share a day has that day throughout; the instants
// of a slot that does not (midnight, or a change of offset across it) are asked one by one.
const SLOT_MS = 15 * 60_000;
const SLOT_DAYS = `
  select ((to_timestamp(s / 1000.0) at time zone tz)::date)::text as first,
         ((to_timestamp((s + ${SLOT_MS} - 1) / 1000.0) at time zone tz)::date)::text as last
  from unnest($1::text[], $2::float8[]) as u(tz, s)`;
const INSTANT_DAYS = `
  select ((at at time zone tz)::date)::text as day
  from unnest($1::timestamptz[], $2::text[]) as u(at, tz)`;

// All events of the given person-days, by their index in the list: per person-day one index
// range per register of its school over the day's instants (wider by a few hours, so that a
// zone whose midnight is skipped or repeated loses nothing; the local-day test is the exact
// one).
const DAY_EVENTS = `
  select k.i::int as i, v.event_id::text as event_id, v.option_id, ${MS("v.cast_at")} as at_ms,
         v.temperature_c::float8 as temperature_c
  from (select u.*, s.time_zone
        from unnest($1::text[], $2::text[], $3::date[]) with ordinality
          as u(school_id, person_id, day, i)
        join schools s on s.id = u.school_id) k
  join polls p on p.school_id = k.school_id and p.kind = 'attendance'
  join votes v on v.poll_id = p.id and v.voter_id is not null and v.voter_id = k.person_id
    and v.cast_at >= (k.day::timestamp at time zone k.time_zone) - interval '3 hours'
    and v.cast_at < ((k.day + 1)::timestamp at time zone k.time_zone) + interval '3 hours'
    and ${LOCAL_DAY("v.cast_at", "k.time_zone")} = k.day`;

const DAY_COLUMNS = `school_id, person_id, day, closed_seconds, closed_ms, first_in, last_out,
  open_since, max_temperature_c, outs_without_in, double_ins, double_outs, events,
  last_event_at, last_event_id`;

// New person-days straight into attendance_days; tx_id and updated_at take their defaults
// (this transaction, now).
const COPY_NEW_DAYS = `copy attendance_days (${DAY_COLUMNS}) from stdin`;
const withTempTables = new WeakSet<PoolClient>();
const COPY_DAYS = `copy presence_days (${DAY_COLUMNS}, read_tx_id) from stdin`;

const UPSERT_SET = `
  closed_seconds = excluded.closed_seconds, closed_ms = excluded.closed_ms,
  first_in = excluded.first_in, last_out = excluded.last_out,
  open_since = excluded.open_since, max_temperature_c = excluded.max_temperature_c,
  outs_without_in = excluded.outs_without_in, double_ins = excluded.double_ins,
  double_outs = excluded.double_outs, events = excluded.events,
  last_event_at = excluded.last_event_at, last_event_id = excluded.last_event_id,
  settled_closed_seconds = case when a.settled_closed_seconds is not null
                                then excluded.closed_seconds end,
  settled_open_since = case when a.settled_closed_seconds is not null then excluded.open_since end,
  tx_id = pg_current_xact_id(), updated_at = now()`;

// The school-days this transaction wrote person-days of, for the publisher (migration 025).
const LOG_CHANGES = `
  insert into attendance_day_changes (school_id, day)
  select distinct school_id, day from unnest($1::text[], $2::date[]) as u(school_id, day)`;

// presence_days written if unchanged since read, in the order copied (key order):
// excluded.tx_id is the tx_id read, or (no row read) this transaction's, which no other
// writer's row has. Done: written by this transaction. Not done: changed since, or a row
// inserted where one was read (deleted since, its register deleted: its tx_id is the read
// one); those are done the locking way.
const WRITE_IF_UNCHANGED = `
  with written as (
    insert into attendance_days as a (${DAY_COLUMNS}, tx_id, updated_at)
    select ${DAY_COLUMNS}, coalesce(read_tx_id, pg_current_xact_id()), now() from presence_days
    on conflict (school_id, day, person_id) do update set ${UPSERT_SET}
    where a.tx_id = excluded.tx_id
    returning a.tx_id = pg_current_xact_id() as done
  )
  select count(*) filter (where done)::int as done, pg_current_xact_id()::text as tx_id
  from written`;

// The person-days of presence_days this transaction did not write.
const NOT_WRITTEN = `
  select p.school_id as school, p.person_id as person, p.day::text as day
  from presence_days p
  left join attendance_days a
    on a.school_id = p.school_id and a.day = p.day and a.person_id = p.person_id collate "C"
  where a.tx_id is distinct from pg_current_xact_id()`;

// The locking way: claims up to $4 dirty person-days (SKIP LOCKED: another writer's claims
// are its own; claiming never waits), adds the given ones, and locks them all in key order
// without a new row version: a missing one is inserted empty, an existing one locked by ON
// CONFLICT DO UPDATE … WHERE false (it locks the row, then updates nothing).
const LOCK_PERSON_DAYS = `
  with claimed as (
    delete from attendance_dirty d
    where (d.school_id, d.person_id, d.day) in (
      select school_id, person_id, day from attendance_dirty
      order by school_id, person_id, day limit $4 for update skip locked)
    returning d.school_id, d.person_id, d.day
  ), person_days as (
    select school_id, person_id, day from claimed
    union
    select school_id, person_id collate "C", day
    from unnest($1::text[], $2::text[], $3::date[]) as u(school_id, person_id, day)
  ), locked as (
    insert into attendance_days as a (school_id, person_id, day)
    select school_id, person_id, day from person_days
    order by school_id collate "C", day, person_id
    on conflict (school_id, day, person_id) do update set events = a.events where false
  )
  select school_id as school, person_id as person, day::text as day from person_days`;

// Locked person-days written: those with events take their replay ($1-$15), those without
// any (their register deleted) go ($16-$18).
const TIMESTAMP = (ms: string) => `'epoch'::timestamptz + ${ms} * interval '1 millisecond'`;
const WRITE_LOCKED = `
  with gone as (
    delete from attendance_days a
    using unnest($16::text[], $17::text[], $18::date[]) as g(school_id, person_id, day)
    where a.school_id = g.school_id and a.day = g.day and a.person_id = g.person_id
    returning 1
  )
  insert into attendance_days as a (${DAY_COLUMNS}, tx_id, updated_at)
  select u.school_id, u.person_id, u.day, u.closed_seconds, u.closed_ms,
         ${TIMESTAMP("u.first_in_ms")}, ${TIMESTAMP("u.last_out_ms")},
         ${TIMESTAMP("u.open_since_ms")}, u.max_temperature_c, u.outs_without_in, u.double_ins,
         u.double_outs, u.events, ${TIMESTAMP("u.last_event_ms")}, u.last_event_id,
         pg_current_xact_id(), now()
  from unnest($1::text[], $2::text[], $3::date[], $4::int[], $5::int[], $6::float8[],
              $7::float8[], $8::float8[], $9::numeric[], $10::int[], $11::int[], $12::int[],
              $13::int[], $14::float8[], $15::uuid[])
    as u(school_id, person_id, day, closed_seconds, closed_ms, first_in_ms, last_out_ms,
         open_since_ms, max_temperature_c, outs_without_in, double_ins, double_outs, events,
         last_event_ms, last_event_id)
  on conflict (school_id, day, person_id) do update set ${UPSERT_SET}`;

interface StoredColumns {
  tx_id: string | null;
  closed_ms: number | null;
  first_in_ms: number | null;
  last_out_ms: number | null;
  open_since_ms: number | null;
  max_temperature_c: number | null;
  outs_without_in: number | null;
  double_ins: number | null;
  double_outs: number | null;
  events: number | null;
  last_event_ms: number | null;
  last_event_id: string | null;
}

interface EventRow {
  i: number;
  event_id: string;
  option_id: string;
  at_ms: number;
  temperature_c: number | null;
}

/**
 * Key order: the order every writer writes and locks person-days in (as LOCK_PERSON_DAYS
 * sorts: ids compared by their characters, collation "C").
 */
function byKey(a: PersonDay, b: PersonDay): number {
  if (a.school !== b.school) return a.school < b.school ? -1 : 1;
  if (a.day !== b.day) return a.day < b.day ? -1 : 1;
  return a.person < b.person ? -1 : a.person > b.person ? 1 : 0;
}

const keyColumns = (days: readonly PersonDay[]) => [
  days.map((d) => d.school),
  days.map((d) => d.person),
  days.map((d) => d.day),
];

function toEvent(e: {
  eventId: string;
  optionId: string;
  atMs: number;
  temperatureC: number | null;
}): AttendanceEvent | undefined {
  // A register's options are `in` and `out` (the API allows no other).
  if (e.optionId !== "in" && e.optionId !== "out") return undefined;
  return { eventId: e.eventId, kind: e.optionId, atMs: e.atMs, temperatureC: e.temperatureC };
}

/** A stored row's replay (a row has all its columns when tx_id is there). */
function fromRow(r: StoredColumns): DayReplay {
  const closedMs = r.closed_ms ?? 0;
  return {
    state: {
      closedSeconds: Math.floor(closedMs / 1000),
      firstInMs: r.first_in_ms,
      lastOutMs: r.last_out_ms,
      openSinceMs: r.open_since_ms,
      maxTemperatureC: r.max_temperature_c,
      outsWithoutIn: r.outs_without_in ?? 0,
      doubleIns: r.double_ins ?? 0,
      doubleOuts: r.double_outs ?? 0,
      events: r.events ?? 0,
    },
    closedMs,
    last:
      r.last_event_ms === null || r.last_event_id === null
        ? null
        : { atMs: r.last_event_ms, eventId: r.last_event_id },
  };
}

// COPY text: ids are COPY-safe (common/vote.ts; field() holds us to it), numbers and
// instants are.
const NULL = "\\N";
const DAY_MS = 86_400_000;
// 0001-01-01 and 10000-01-01: outside, toISOString's own (signed, six-digit) years.
const FAST_FROM_MS = -62_135_596_800_000;
const FAST_UNTIL_MS = 253_402_300_800_000;
const dayPrefixes = new Map<number, string>();
const pad2 = (n: number) => (n < 10 ? `0${n}` : `${n}`);

/**
 * `new Date(ms).toISOString()` for whole milliseconds, without a Date per instant: four
 * instants a person-day made this the writer's costliest line of Node (bench:attendance-
 * writer's CPU profile). The date part is kept per UTC day.
 */
export function isoInstant(ms: number): string {
  if (!Number.isInteger(ms) || ms < FAST_FROM_MS || ms >= FAST_UNTIL_MS)
    return new Date(ms).toISOString();
  const dayNo = Math.floor(ms / DAY_MS);
  let prefix = dayPrefixes.get(dayNo);
  if (prefix === undefined) {
    if (dayPrefixes.size >= 10_000) dayPrefixes.clear();
    prefix = new Date(dayNo * DAY_MS).toISOString().slice(0, -13);
    dayPrefixes.set(dayNo, prefix);
  }
  const r = ms - dayNo * DAY_MS;
  const milli = r % 1000;
  return `${prefix}${pad2(Math.floor(r / 3_600_000))}:${pad2(Math.floor(r / 60_000) % 60)}:${pad2(
    Math.floor(r / 1000) % 60,
  )}.${milli < 10 ? "00" : milli < 100 ? "0" : ""}${milli}Z`;
}

const copyInstant = (ms: number | null) => (ms === null ? NULL : isoInstant(ms));

function dayLine(d: Replayed, withReadTxId: boolean): string {
  const s = d.replay.state;
  const last = d.replay.last;
  return `${field(d.day.school)}\t${field(d.day.person)}\t${d.day.day}\t${s.closedSeconds}\t${
    d.replay.closedMs
  }\t${copyInstant(s.firstInMs)}\t${copyInstant(s.lastOutMs)}\t${copyInstant(s.openSinceMs)}\t${
    s.maxTemperatureC ?? NULL
  }\t${s.outsWithoutIn}\t${s.doubleIns}\t${s.doubleOuts}\t${s.events}\t${copyInstant(
    last?.atMs ?? null,
  )}\t${last?.eventId ?? NULL}${withReadTxId ? `\t${d.readTxId ?? NULL}` : ""}\n`;
}

const CHUNK_ROWS = 2_000;

/** `lines` as COPY text in chunks of 2,000 rows (one stream write per chunk). */
function* chunks<T>(items: readonly T[], line: (item: T, i: number) => string): Generator<string> {
  for (let start = 0; start < items.length; start += CHUNK_ROWS) {
    let chunk = "";
    const end = Math.min(start + CHUNK_ROWS, items.length);
    for (let i = start; i < end; i++) chunk += line(items[i]!, i);
    yield chunk;
  }
}

/** The same chunks made now, yielding to the event loop between them (see preparePresence). */
async function madeChunks<T>(
  items: readonly T[],
  line: (item: T, i: number) => string,
  yielding: boolean,
): Promise<string[]> {
  const made: string[] = [];
  for (const chunk of chunks(items, line)) {
    made.push(chunk);
    if (yielding) await setImmediate();
  }
  return made;
}

async function copyIn(client: PoolClient, sql: string, text: Iterable<string>): Promise<void> {
  await pipeline(Readable.from(text), client.query(copyFrom(sql)));
}

/**
 * Inserts person-days read as missing, by COPY, under a savepoint: false (nothing written)
 * when another writer created one of them meanwhile.
 */
async function copyNewDays(
  client: PoolClient,
  days: readonly Replayed[],
  text: Iterable<string> = chunks(days, (d) => dayLine(d, false)),
): Promise<boolean> {
  await client.query("savepoint presence_new_days");
  try {
    await copyIn(client, COPY_NEW_DAYS, text);
  } catch (err) {
    if (pgCode(err) !== "23505") throw err;
    await client.query("rollback to savepoint presence_new_days");
    return false;
  }
  await client.query("release savepoint presence_new_days");
  return true;
}

/** Every event of the given person-days, as stored (this transaction's included). */
async function readDayEvents(
  client: PoolClient,
  days: readonly PersonDay[],
): Promise<AttendanceEvent[][]> {
  const events: AttendanceEvent[][] = days.map(() => []);
  if (days.length === 0) return events;
  const { rows } = await client.query<EventRow>(DAY_EVENTS, keyColumns(days));
  for (const r of rows) {
    const e = toEvent({
      eventId: r.event_id,
      optionId: r.option_id,
      atMs: r.at_ms,
      temperatureC: r.temperature_c,
    });
    if (e) events[r.i - 1]!.push(e);
  }
  return events;
}

/** What this writer last wrote for a person-day: its replay, and the transaction's tx_id. */
interface Written {
  replay: DayReplay;
  txId: string;
}

/**
 * The person-days this writer wrote, their replay and tx_id as committed, the most recently
 * written last, up to `limit` (the oldest are forgotten first). What a batch would otherwise
 * read back from attendance_days before continuing a day: the write stays conditional on the
 * tx_id, so an entry another writer (or the sweep, or an erasure) has since made stale only
 * sends its person-day the locking way, as a changed row does.
 */
/**
 * A written person-day as WrittenDays keeps it: one object of numbers (and the last event's
 * id) instead of the replay's four (replay, state, last event, entry). A writer keeps up to
 * a million of them, and the garbage collector walks each at every full collection: in
 * bench:attendance-writer's CPU profile it took 3.3 s of the writer's 11 s with presence
 * upkeep, against 0.6 s without.
 */
class Remembered {
  readonly closedMs: number;
  readonly firstInMs: number | null;
  readonly lastOutMs: number | null;
  readonly openSinceMs: number | null;
  readonly maxTemperatureC: number | null;
  readonly outsWithoutIn: number;
  readonly doubleIns: number;
  readonly doubleOuts: number;
  readonly events: number;
  readonly lastAtMs: number;
  readonly lastEventId: string | null;
  readonly txId: string;

  constructor({ replay, txId }: Written) {
    const s = replay.state;
    this.closedMs = replay.closedMs;
    this.firstInMs = s.firstInMs;
    this.lastOutMs = s.lastOutMs;
    this.openSinceMs = s.openSinceMs;
    this.maxTemperatureC = s.maxTemperatureC;
    this.outsWithoutIn = s.outsWithoutIn;
    this.doubleIns = s.doubleIns;
    this.doubleOuts = s.doubleOuts;
    this.events = s.events;
    this.lastAtMs = replay.last?.atMs ?? 0;
    this.lastEventId = replay.last?.eventId ?? null;
    this.txId = txId;
  }

  /** The replay as written (closedSeconds from closedMs, as replayDay computes it). */
  written(): Written {
    return {
      replay: {
        state: {
          closedSeconds: Math.floor(this.closedMs / 1000),
          firstInMs: this.firstInMs,
          lastOutMs: this.lastOutMs,
          openSinceMs: this.openSinceMs,
          maxTemperatureC: this.maxTemperatureC,
          outsWithoutIn: this.outsWithoutIn,
          doubleIns: this.doubleIns,
          doubleOuts: this.doubleOuts,
          events: this.events,
        },
        closedMs: this.closedMs,
        last: this.lastEventId === null ? null : { atMs: this.lastAtMs, eventId: this.lastEventId },
      },
      txId: this.txId,
    };
  }
}

export class WrittenDays {
  readonly #days = new Map<string, Remembered>();
  readonly #limit: number;
  /**
   * Whether the last person-days this writer knew nothing of were all new (no row): then
   * the next ones are copied in as new without a read first (the morning's check-ins), and
   * read first again once such a copy meets a stored row.
   */
  unknownAreNew = true;

  constructor(limit: number) {
    this.#limit = limit;
  }

  get size(): number {
    return this.#days.size;
  }

  get(key: string): Written | undefined {
    return this.#days.get(key)?.written();
  }

  set(key: string, written: Written): void {
    this.#days.delete(key);
    this.#days.set(key, new Remembered(written));
    if (this.#days.size > this.#limit)
      for (const oldest of this.#days.keys()) {
        this.#days.delete(oldest);
        if (this.#days.size <= this.#limit) break;
      }
  }

  delete(key: string): void {
    this.#days.delete(key);
  }
}

/** Person-days kept in memory per writer (ATTENDANCE_WRITTEN_DAYS) when not configured. */
export const DEFAULT_WRITTEN_DAYS = 1_000_000;
const writtenDaysByPool = new WeakMap<object, WrittenDays>();

/** The written person-days of the writer using `pool` (one per pool: one per database). */
export function writtenDaysOf(pool: object, limit = DEFAULT_WRITTEN_DAYS): WrittenDays {
  let written = writtenDaysByPool.get(pool);
  if (written === undefined) {
    written = new WrittenDays(limit);
    writtenDaysByPool.set(pool, written);
  }
  return written;
}

const dayKey = (d: PersonDay) => `${d.school}\u0000${d.person}\u0000${d.day}`;

// The local day of each 15-minute slot of each zone, as Postgres computed it (null: the slot
// holds a day's end or an offset change, its instants are asked one by one). The tz database
// does not change under a running writer; bounded all the same.
const slotDays = new Map<string, string | null>();
const SLOT_DAYS_KEPT = 100_000;

/** The school-local day of each event, as `(cast_at at time zone tz)::date` gives it. */
async function localDaysOf(
  client: PoolClient,
  events: readonly RegisterEvent[],
): Promise<string[]> {
  const slotKey = (e: RegisterEvent) => `${e.timeZone}\u0000${Math.floor(e.atMs / SLOT_MS)}`;
  const missing = new Map<string, { tz: string; startMs: number }>();
  for (const e of events) {
    const key = slotKey(e);
    if (!slotDays.has(key) && !missing.has(key))
      missing.set(key, { tz: e.timeZone, startMs: Math.floor(e.atMs / SLOT_MS) * SLOT_MS });
  }
  if (missing.size > 0) {
    const asked = [...missing.values()];
    const { rows } = await client.query<{ first: string; last: string }>(SLOT_DAYS, [
      asked.map((m) => m.tz),
      asked.map((m) => m.startMs),
    ]);
    if (slotDays.size + asked.length > SLOT_DAYS_KEPT) slotDays.clear();
    [...missing.keys()].forEach((key, i) => {
      const r = rows[i]!;
      slotDays.set(key, r.first === r.last ? r.first : null);
    });
  }
  const days: string[] = [];
  const split: number[] = [];
  events.forEach((e, i) => {
    const day = slotDays.get(slotKey(e)) ?? null;
    if (day === null) split.push(i);
    days.push(day ?? "");
  });
  if (split.length > 0) {
    const { rows } = await client.query<{ day: string }>(INSTANT_DAYS, [
      split.map((i) => events[i]!.castAt),
      split.map((i) => events[i]!.timeZone),
    ]);
    split.forEach((at, j) => {
      days[at] = rows[j]!.day;
    });
  }
  return days;
}

/** The local days of `events` when every one's slot is known to be whole (no query), else undefined. */
function cachedLocalDays(events: readonly RegisterEvent[]): string[] | undefined {
  const days: string[] = [];
  for (const e of events) {
    const day = slotDays.get(`${e.timeZone}\u0000${Math.floor(e.atMs / SLOT_MS)}`);
    if (day == null) return undefined;
    days.push(day);
  }
  return days;
}

/** What keepPresence did, and what to remember once the transaction has committed. */
export interface KeptPresence extends PresenceResult {
  /** To be called after the commit (never after a rollback): remembers what was written. */
  committed(): void;
}

interface BatchDay {
  day: PersonDay;
  events: AttendanceEvent[];
}

/**
 * A batch's person-days as far as memory decides them: grouped, continued from what this
 * writer wrote where in order, replayed afresh where unknown, and their COPY text made.
 * Pending: a local day needed a query first (keepPresence then does it all).
 */
export type PreparedPresence =
  | { pending: true }
  | {
      pending: false;
      total: number;
      /** Continued from memory in order, and those arriving out of order (`outOfOrder`). */
      replayed: Replayed[];
      outOfOrder: number[];
      unknown: BatchDay[];
      /** unknown replayed from their own events, in key order, if they are taken as new. */
      fresh: Replayed[] | undefined;
      freshText: string[] | undefined;
      /** replayed in key order and its COPY text, when none is out of order. */
      inOrder: Replayed[] | undefined;
      inOrderText: string[] | undefined;
      /** The school-days of all the batch's person-days. */
      schoolDays: Map<string, PersonDay>;
    };

const YIELD_EVERY = 2_000;

/**
 * The memory-only part of a batch's presence upkeep (no client, no statement), which the
 * direct path runs while Postgres stores the batch's events: it yields to the event loop
 * every 2,000 events, so that the votes' COPY keeps flowing, and the Node work of the
 * person-days (about as long as Postgres's own writes of them, bench:attendance-writer)
 * overlaps Postgres's instead of following it. Reads `written`, never changes it.
 */
export async function preparePresence(
  inserted: readonly RegisterEvent[],
  written: WrittenDays,
  yielding = true,
): Promise<PreparedPresence> {
  const localDays = cachedLocalDays(inserted);
  if (localDays === undefined) return { pending: true };
  return prepareDays(inserted, localDays, written, yielding);
}

async function prepareDays(
  inserted: readonly RegisterEvent[],
  localDays: readonly string[],
  written: WrittenDays,
  yielding: boolean,
): Promise<PreparedPresence> {
  const pause = async (n: number) => {
    if (yielding && n % YIELD_EVERY === YIELD_EVERY - 1) await setImmediate();
  };
  const byDay = new Map<string, BatchDay>();
  const schoolDays = new Map<string, PersonDay>();
  for (let n = 0; n < inserted.length; n++) {
    const e = inserted[n]!;
    const key = `${e.schoolId}\u0000${e.voterId}\u0000${localDays[n]!}`;
    let batchDay = byDay.get(key);
    if (batchDay === undefined) {
      const day = { school: e.schoolId, person: e.voterId, day: localDays[n]! };
      batchDay = { day, events: [] };
      byDay.set(key, batchDay);
      schoolDays.set(`${day.school}\u0000${day.day}`, day);
    }
    const event = toEvent(e);
    if (event) batchDay.events.push(event);
    await pause(n);
  }

  const replayed: Replayed[] = [];
  const outOfOrder: number[] = [];
  const unknown: BatchDay[] = [];
  let n = 0;
  for (const [key, d] of byDay) {
    const known = written.get(key);
    if (known === undefined) unknown.push(d);
    else continueFrom(replayed, outOfOrder, d, known.replay, known.txId);
    await pause(n++);
  }
  let fresh: Replayed[] | undefined;
  let freshText: string[] | undefined;
  if (unknown.length > 0 && written.unknownAreNew) {
    fresh = freshDays(unknown);
    freshText = await madeChunks(fresh, (d) => dayLine(d, false), yielding);
  }
  let inOrder: Replayed[] | undefined;
  let inOrderText: string[] | undefined;
  if (outOfOrder.length === 0 && replayed.length > 0) {
    inOrder = [...replayed].sort((a, b) => byKey(a.day, b.day));
    inOrderText = await madeChunks(inOrder, (d) => dayLine(d, true), yielding);
  }
  return {
    pending: false,
    total: byDay.size,
    replayed,
    outOfOrder,
    unknown,
    fresh,
    freshText,
    inOrder,
    inOrderText,
    schoolDays,
  };
}

/** A known person-day continued by the batch's events, or marked out of order. */
function continueFrom(
  replayed: Replayed[],
  outOfOrder: number[],
  d: BatchDay,
  from: DayReplay,
  txId: string,
): void {
  if (continuesDay(from, d.events))
    replayed.push({ day: d.day, replay: replayDay(from, d.events), readTxId: txId });
  else {
    outOfOrder.push(replayed.length);
    replayed.push({ day: d.day, replay: from, readTxId: txId });
  }
}

/** Person-days replayed from the batch's events alone (no row yet), in key order. */
const freshDays = (days: readonly BatchDay[]): Replayed[] =>
  days
    .map((d) => ({ day: d.day, replay: replayDay(null, d.events), readTxId: null }))
    .sort((a, b) => byKey(a.day, b.day));

/**
 * Keeps the person-days of `inserted` (this batch's inserted register events) and up to
 * `dirtyLimit` dirty ones, in the caller's transaction, after the events are inserted and
 * before the commit. The events are grouped by person-day in memory; a person-day this
 * writer wrote (`written`) is continued from what it wrote, one it knows nothing of is read
 * (its stored replay, by primary key), or copied in as new while such ones have been new;
 * those arriving out of order are replayed from all their events; the new person-days are
 * copied in, the others copied and written if unchanged. `prepared`: the memory part done
 * already (preparePresence, of the same `inserted` and `written`).
 */
export async function keepPresence(
  client: PoolClient,
  inserted: readonly RegisterEvent[],
  dirtyLimit: number,
  written: WrittenDays = new WrittenDays(0),
  prepared?: PreparedPresence,
): Promise<KeptPresence> {
  const changed =
    inserted.length > 0
      ? await keepBatchDays(client, inserted, written, prepared)
      : { total: 0, days: [], wrote: [], txId: "", schoolDays: new Map<string, PersonDay>() };
  const locked = await recomputeLocked(client, changed.days, dirtyLimit);
  // Every person-day of the batch that was written is in schoolDays; the locked ones add theirs.
  const schoolDays = new Map(changed.schoolDays);
  for (const d of locked.days) schoolDays.set(`${d.school}\u0000${d.day}`, d);
  await logChanges(client, schoolDays);
  return {
    personDays: changed.total + locked.personDays - changed.days.length,
    removed: locked.removed,
    committed: () => {
      if (inserted.length > 0) withTempTables.add(client);
      for (const d of changed.wrote)
        written.set(dayKey(d.day), { replay: d.replay, txId: changed.txId });
      for (const d of locked.days) written.delete(dayKey(d));
    },
  };
}

/** Logs the school-days (by `school\0day`) as changed by this transaction (one row each). */
async function logChanges(client: PoolClient, schoolDays: Map<string, PersonDay>): Promise<void> {
  if (schoolDays.size === 0) return;
  const pairs = [...schoolDays.values()];
  await client.query(LOG_CHANGES, [pairs.map((d) => d.school), pairs.map((d) => d.day)]);
}

/** The school-days of `days`, by `school\0day`. */
function schoolDaysOf(days: readonly PersonDay[]): Map<string, PersonDay> {
  const schoolDays = new Map<string, PersonDay>();
  for (const d of days) schoolDays.set(`${d.school}\u0000${d.day}`, d);
  return schoolDays;
}

/**
 * The batch's person-days, written if unchanged; returns those that changed meanwhile (to
 * be done the locking way) and those written, with this transaction's tx_id.
 */
async function keepBatchDays(
  client: PoolClient,
  inserted: readonly RegisterEvent[],
  written: WrittenDays,
  given: PreparedPresence | undefined,
): Promise<{
  total: number;
  days: PersonDay[];
  wrote: Replayed[];
  txId: string;
  schoolDays: Map<string, PersonDay>;
}> {
  if (!withTempTables.has(client)) await client.query(CREATE_TEMP_TABLES);
  let prepared = given;
  if (prepared === undefined || prepared.pending)
    prepared = await prepareDays(inserted, await localDaysOf(client, inserted), written, false);
  if (prepared.pending) throw new Error("unreachable: local days known");
  const { replayed, outOfOrder, unknown, total, schoolDays } = prepared;

  const copiedNew: Replayed[] = [];
  let toRead = unknown;
  if (prepared.fresh !== undefined) {
    if (await copyNewDays(client, prepared.fresh, prepared.freshText)) {
      copiedNew.push(...prepared.fresh);
      toRead = [];
    } else written.unknownAreNew = false;
  }
  const notCopied: Replayed[] = [];
  if (toRead.length > 0) {
    const { rows } = await client.query<StoredColumns & { i: number }>(
      STORED_DAYS,
      keyColumns(toRead.map((d) => d.day)),
    );
    const stored = new Map(rows.map((r) => [r.i - 1, r]));
    const missing: BatchDay[] = [];
    toRead.forEach((d, i) => {
      const row = stored.get(i);
      if (row === undefined || row.tx_id === null) missing.push(d);
      else continueFrom(replayed, outOfOrder, d, fromRow(row), row.tx_id);
    });
    written.unknownAreNew = rows.length === 0;
    const days = freshDays(missing);
    if (days.length > 0 && (await copyNewDays(client, days))) copiedNew.push(...days);
    else notCopied.push(...days);
  }
  if (outOfOrder.length > 0) {
    const all = await readDayEvents(
      client,
      outOfOrder.map((at) => replayed[at]!.day),
    );
    outOfOrder.forEach((at, j) => {
      replayed[at]!.replay = replayDay(null, all[j]!);
    });
  }
  // The text made while preparing holds while nothing was read since (then replayed is
  // exactly what it was made of: no out-of-order, no stored row continued).
  const asPrepared =
    prepared.inOrder !== undefined && toRead.length === 0 && outOfOrder.length === 0;
  const update = asPrepared
    ? prepared.inOrder!
    : [...replayed, ...notCopied].sort((a, b) => byKey(a.day, b.day));
  if (update.length === 0) {
    const { rows: tx } = await client.query<{ tx_id: string }>(
      "select pg_current_xact_id()::text as tx_id",
    );
    return { total, days: [], wrote: copiedNew, txId: tx[0]!.tx_id, schoolDays };
  }
  await copyIn(
    client,
    COPY_DAYS,
    asPrepared ? prepared.inOrderText! : chunks(update, (d) => dayLine(d, true)),
  );
  const { rows: result } = await client.query<{ done: number; tx_id: string }>(WRITE_IF_UNCHANGED);
  const txId = result[0]!.tx_id;
  if (result[0]!.done === update.length)
    return { total, days: [], wrote: [...copiedNew, ...update], txId, schoolDays };
  const { rows: notWritten } = await client.query<PersonDay>(NOT_WRITTEN);
  const changed = new Set(notWritten.map(dayKey));
  const wrote = [...copiedNew, ...update.filter((d) => !changed.has(dayKey(d.day)))];
  return {
    total,
    days: notWritten,
    wrote,
    txId,
    schoolDays: schoolDaysOf(wrote.map((d) => d.day)),
  };
}

/** The locking way, for `given` person-days and up to `dirtyLimit` dirty ones. */
async function recomputeLocked(
  client: PoolClient,
  given: readonly PersonDay[],
  dirtyLimit: number,
): Promise<PresenceResult & { days: PersonDay[] }> {
  const { rows: days } = await client.query<PersonDay>(LOCK_PERSON_DAYS, [
    ...keyColumns(given),
    dirtyLimit,
  ]);
  if (days.length === 0) return { personDays: 0, removed: 0, days };
  const events = await readDayEvents(client, days);
  const gone: PersonDay[] = [];
  const kept: { day: PersonDay; replay: DayReplay }[] = [];
  days.forEach((day, i) => {
    if (events[i]!.length === 0) gone.push(day);
    else kept.push({ day, replay: replayDay(null, events[i]!) });
  });
  await client.query(WRITE_LOCKED, [
    ...keyColumns(kept.map((k) => k.day)),
    kept.map((k) => k.replay.state.closedSeconds),
    kept.map((k) => k.replay.closedMs),
    kept.map((k) => k.replay.state.firstInMs),
    kept.map((k) => k.replay.state.lastOutMs),
    kept.map((k) => k.replay.state.openSinceMs),
    kept.map((k) => k.replay.state.maxTemperatureC),
    kept.map((k) => k.replay.state.outsWithoutIn),
    kept.map((k) => k.replay.state.doubleIns),
    kept.map((k) => k.replay.state.doubleOuts),
    kept.map((k) => k.replay.state.events),
    kept.map((k) => k.replay.last?.atMs ?? null),
    kept.map((k) => k.replay.last?.eventId ?? null),
    ...keyColumns(gone),
  ]);
  return { personDays: days.length, removed: gone.length, days };
}

/**
 * While no votes arrive, dirty person-days are recomputed on their own: transactions of up
 * to `limit` person-days, one after another while each finds a full `limit`, for at most
 * `budgetMs` (a vote arriving meanwhile waits no longer than that). Resolves to the
 * person-days recomputed.
 */
export async function sweepDirtyPersonDays(
  pool: Pool,
  limit: number,
  budgetMs: number,
  signal: AbortSignal,
): Promise<number> {
  const started = performance.now();
  let total = 0;
  for (;;) {
    const client = await pool.connect();
    let result: PresenceResult & { days: PersonDay[] };
    try {
      await client.query("begin");
      result = await recomputeLocked(client, [], limit);
      await logChanges(client, schoolDaysOf(result.days));
      await client.query("commit");
      const written = writtenDaysOf(pool);
      for (const d of result.days) written.delete(dayKey(d));
    } catch (err) {
      await client.query("rollback").catch(() => {});
      client.release(true);
      throw err;
    }
    client.release();
    total += result.personDays;
    if (result.personDays < limit || signal.aborted || performance.now() - started >= budgetMs)
      return total;
  }
}

/**
 * While no votes arrive, past person-days are settled (their covered copy for the period
 * reads, migration 025) and change rows no publisher reads any more pruned: statements of
 * up to `limit` rows, one after another while each finds a full `limit`, for at most
 * `budgetMs`. Resolves to the person-days settled.
 */
export async function settlePastDays(
  pool: Pool,
  limit: number,
  budgetMs: number,
  signal: AbortSignal,
): Promise<number> {
  const started = performance.now();
  let total = 0;
  for (;;) {
    const { rows } = await pool.query<{ n: number }>("select attendance_settle_days($1) as n", [
      limit,
    ]);
    total += rows[0]!.n;
    if (rows[0]!.n < limit || signal.aborted || performance.now() - started >= budgetMs) break;
  }
  while (!signal.aborted && performance.now() - started < budgetMs) {
    const { rows } = await pool.query<{ n: number }>(
      "select attendance_prune_day_changes($1) as n",
      [limit],
    );
    if (rows[0]!.n < limit) break;
  }
  // The register publisher's log of register polls (migration 042), pruned as the above.
  while (!signal.aborted && performance.now() - started < budgetMs) {
    const { rows } = await pool.query<{ n: number }>(
      "select register_prune_poll_changes($1) as n",
      [limit],
    );
    if (rows[0]!.n < limit) break;
  }
  return total;
}
