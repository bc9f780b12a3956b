import { hash } from "node:crypto";
import { dayBounds, type LocalDay, localDay } from "../../common/attendance/school-day.ts";
import { UnavailableError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { READ, RECORD } from "./attendance-state-scripts.ts";

// "Already checked in": whether a person is in or out today and since when, for a kiosk to
// show at once, from Redis (never Postgres per scan). The API writes it after an attendance
// event's publish ack; the day's state expires by itself; a Redis that comes back empty is
// refilled from attendance_days (attendance-state-rebuild.ts). The writer's attendance_days
// stay the record: this is the fast answer, as the voter claims are for one vote per voter.
//
// Layout, memory-lean as the voter claims' (votes/voter-guard.ts): each school's day is
// spread over 2^bits hashes, `<prefix>attendance-state:<schoolId>:<day>:<bucket>`, the bucket
// from the first bits of sha256(personId); a person is one listpack entry, field = the next
// 6 bytes of that digest, value = the packed state, an integer: seconds since the school-local
// day began × 2, + 1 for `out`. Below 2^23 even on a 25-hour day, so listpack keeps it in 5
// bytes (a 24-bit integer and its back-length) and the field in 8: ~13 bytes a person before
// the buckets' own cost, under 20 at 10,000 people a school (`npm run bench:attendance-state`). Small hashes stay
// listpack-encoded while they hold at most hash-max-listpack-entries (128 by default): 2^7
// buckets keep a school of up to ~12,000 people checked in under it.
//
// The latest event wins: a write replaces an entry only with a greater packed value (a later
// second, or `out` over `in` in the same second), in one script, so the state is the same
// whatever order the events arrive in (an offline kiosk's flush, a retried batch). Each
// bucket expires at the end of the school-local day plus a margin (EXPIREAT, set with each
// write); an event whose day has expired already is not written (EXPIREAT in the past would
// delete the bucket).
//
// A Redis that restarted empty would answer "none" for everyone: so a read is only answered
// while Redis says the state is complete, as a voter claim is (the marker
// `<prefix>attendance-state-rebuild:restored`, or the school listed in `…:rebuilt` while a
// rebuild goes on), checked in the same script as the read.

/** A check-in or check-out the API accepted (its publish acked). */
export interface PresenceEvent {
  schoolId: string;
  /** The school's time zone: the event counts in the school-local day of `atMs`. */
  timeZone: string;
  personId: string;
  kind: "in" | "out";
  atMs: number;
}

export type PresenceState = "in" | "out" | "none";

/** What a kiosk is told about a person today. */
export interface PresenceAnswer {
  day: LocalDay;
  state: PresenceState;
  /** When the latest event took place, to the second; null with "none". */
  sinceMs: number | null;
}

/** Where the state lives: the one home of the layout, for the API, the rebuild and the bench. */
export interface StateLayout {
  keyPrefix: string;
  bucketBits: number;
  /** A day's buckets expire this long after the school-local day ends. */
  expiryMarginMs: number;
}

/** A school-local day: its date and its instants [startMs, endMs) (23 to 25 hours). */
export interface SchoolDay {
  day: LocalDay;
  startMs: number;
  endMs: number;
}

/**
 * The school-local day of an instant, remembering the last one per time zone: nearly every
 * event is of today, and luxon's zone arithmetic costs microseconds a call.
 */
export class SchoolDays {
  readonly #last = new Map<string, SchoolDay>();

  of(ms: number, timeZone: string): SchoolDay {
    const last = this.#last.get(timeZone);
    if (last !== undefined && ms >= last.startMs && ms < last.endMs) return last;
    const day = localDay(ms, timeZone);
    const found = { day, ...dayBounds(day, timeZone) };
    this.#last.set(timeZone, found);
    return found;
  }
}

/** A person's place in a school's day: the bucket key and the field. */
export interface StateSlot {
  key: string;
  field: Buffer;
}

/** One write: the slot, the packed state, and the bucket's expiry (unix seconds). */
export interface StateEntry extends StateSlot {
  packed: number;
  expireAtS: number;
}

const FIELD_BYTES = 6;

export function stateSlot(
  layout: StateLayout,
  schoolId: string,
  day: LocalDay,
  personId: string,
): StateSlot {
  const digest = hash("sha256", personId, "buffer");
  const bits = layout.bucketBits;
  const bucket = bits === 0 ? 0 : digest.readUInt32BE(0) >>> (32 - bits);
  return {
    key: `${layout.keyPrefix}attendance-state:${schoolId}:${day}:${bucket.toString(16)}`,
    field: digest.subarray(4, 4 + FIELD_BYTES),
  };
}

/** The packed value: seconds into the day × 2, + 1 for `out` (greater = later; out over in). */
export function packState(kind: "in" | "out", atMs: number, day: SchoolDay): number {
  return Math.floor((atMs - day.startMs) / 1000) * 2 + (kind === "out" ? 1 : 0);
}

export function unpackState(
  packed: number,
  day: SchoolDay,
): { state: "in" | "out"; sinceMs: number } {
  return {
    state: packed % 2 === 1 ? "out" : "in",
    sinceMs: day.startMs + Math.floor(packed / 2) * 1000,
  };
}

/** The write of a person's event on a school-local day: what the API and the rebuild send. */
export function stateEntry(
  layout: StateLayout,
  schoolId: string,
  personId: string,
  day: SchoolDay,
  kind: "in" | "out",
  atMs: number,
): StateEntry {
  return {
    ...stateSlot(layout, schoolId, day.day, personId),
    packed: packState(kind, atMs, day),
    expireAtS: Math.ceil((day.endMs + layout.expiryMarginMs) / 1000),
  };
}

/** The keys that say whether Redis holds the complete state (see the comment at the top). */
export function attendanceStateKeys(keyPrefix: string) {
  const base = `${keyPrefix}attendance-state-rebuild`;
  return {
    /** Written once the state was rebuilt; gone when Redis lost its data. */
    restored: `${base}:restored`,
    /** Hash: school id → 1 for each school rebuilt so far by the rebuild in progress. */
    rebuilt: `${base}:rebuilt`,
    /** SET NX PX lock: one rebuild at a time across every API process. */
    lock: `${base}:lock`,
  };
}

/** Appends an entry to a script call's KEYS and ARGV (RECORD, REBUILD_WRITE). */
export function pushEntry(keys: string[], args: (string | Buffer)[], e: StateEntry): void {
  keys.push(e.key);
  args.push(e.field, String(e.packed), String(e.expireAtS));
}

export class AttendanceState {
  readonly #redis: RedisClient;
  readonly #layout: StateLayout;
  readonly #logger: Logger;
  readonly #keys: ReturnType<typeof attendanceStateKeys>;
  readonly #days = new SchoolDays();
  readonly #sha = new Map<string, string>();
  #onStateMissing: () => void = () => {};
  #onWriteFailed: () => void = () => {};
  /** A write failed and none succeeded since: one WARN per outage, one INFO after it. */
  #failing = false;

  constructor(redis: RedisClient, layout: StateLayout, logger: Logger) {
    this.#redis = redis;
    this.#layout = layout;
    this.#logger = logger.child({ component: "attendance-state" });
    this.#keys = attendanceStateKeys(layout.keyPrefix);
  }

  get layout(): StateLayout {
    return this.#layout;
  }

  /** The school-local day of an instant (shared with the rebuild). */
  dayOf(ms: number, timeZone: string): SchoolDay {
    return this.#days.of(ms, timeZone);
  }

  /** Called (without waiting) when a read finds that Redis lost the state. */
  onStateMissing(listener: () => void): void {
    this.#onStateMissing = listener;
  }

  /** Called (without waiting) when a write failed: the state may miss that event. */
  onWriteFailed(listener: () => void): void {
    this.#onWriteFailed = listener;
  }

  /**
   * Writes the events' state, after their publish ack. Never throws: the events are durable
   * already and the state is only the fast answer. A failure is reported to onWriteFailed,
   * whose rebuild merges attendance_days in again once Redis answers.
   */
  async record(events: readonly PresenceEvent[], nowMs = Date.now()): Promise<void> {
    const keys: string[] = [];
    const args: (string | Buffer)[] = [];
    for (const e of events) {
      const day = this.#days.of(e.atMs, e.timeZone);
      const entry = stateEntry(this.#layout, e.schoolId, e.personId, day, e.kind, e.atMs);
      // That day's state has expired: nobody asks for it any more.
      if (entry.expireAtS * 1000 <= nowMs) continue;
      pushEntry(keys, args, entry);
    }
    if (keys.length === 0) return;
    try {
      await this.#run(RECORD, keys, args);
      if (this.#failing) this.#logger.info("attendance state writes recovered");
      this.#failing = false;
    } catch (err) {
      if (!this.#failing)
        this.#logger.warn(
          { err },
          "cannot write the attendance state to Redis; the events are kept, and the state is merged from attendance_days once Redis answers",
        );
      this.#failing = true;
      this.#onWriteFailed();
    }
  }

  /** A person's state today (the school-local day of `nowMs`). 503 while Redis lacks it. */
  async read(
    schoolId: string,
    timeZone: string,
    personId: string,
    nowMs = Date.now(),
  ): Promise<PresenceAnswer> {
    const day = this.#days.of(nowMs, timeZone);
    const slot = stateSlot(this.#layout, schoolId, day.day, personId);
    let packed: number;
    try {
      packed = await this.#run(
        READ,
        [this.#keys.restored, this.#keys.rebuilt, slot.key],
        [schoolId, slot.field],
      );
    } catch (err) {
      throw new UnavailableError(
        "redis_unavailable",
        "the attendance state is unavailable; retry shortly",
        2,
        err,
      );
    }
    if (packed === -1) {
      this.#onStateMissing();
      throw new UnavailableError(
        "attendance_state_rebuilding",
        `the attendance state of school "${schoolId}" is being restored after a Redis restart; retry shortly`,
        2,
      );
    }
    if (packed === -2) return { day: day.day, state: "none", sinceMs: null };
    return { day: day.day, ...unpackState(packed, day) };
  }

  async #run(script: string, keys: string[], args: (string | Buffer)[]): Promise<number> {
    let sha = this.#sha.get(script);
    if (sha === undefined) {
      sha = await this.#redis.scriptLoad(script);
      this.#sha.set(script, sha);
    }
    try {
      return Number(
        await this.#redis.sendCommand(["EVALSHA", sha, String(keys.length), ...keys, ...args]),
      );
    } catch (err) {
      // NOSCRIPT: Redis restarted and lost its script cache; load again once.
      if (!(err instanceof Error) || !err.message.startsWith("NOSCRIPT")) throw err;
      this.#sha.delete(script);
      return this.#run(script, keys, args);
    }
  }
}
