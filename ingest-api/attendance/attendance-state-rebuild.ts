import { randomUUID } from "node:crypto";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { RedisClient } from "../../common/redis.ts";
import { RebuildInterruptedError } from "../votes/voter-claims-rebuild.ts";
// The lock-holding steps every rebuild of API state shares (lock check first, so a lock
// gone with a Redis restart stops the rebuild): extend, mark one unit done, complete, unlock.
import { COMPLETE, EXTEND, POLL_DONE, UNLOCK } from "../votes/voter-claims-scripts.ts";
import { type StreamProgress, waitForWriter } from "../votes/votes-stream-progress.ts";
import {
  type AttendanceState,
  attendanceStateKeys,
  pushEntry,
  type SchoolDay,
  stateEntry,
} from "./attendance-state.ts";
import { REBUILD_WRITE } from "./attendance-state-scripts.ts";

// Gives Redis back the "already checked in" state it lost (a Redis without persistence
// restarts empty) from the writer's attendance_days, as votes/voter-claims-rebuild.ts does
// the voter claims from voter_ballots, and for the same reasons in the API: the keys are
// its own, it has the pool, and it is the one that must not answer "none" meanwhile.
//
// Every API process checks the marker (on start, on Redis reconnect, when a read finds it
// missing, and every ATTENDANCE_STATE_CHECK_MS); one of them rebuilds, under a Redis lock
// renewed by each step. Only today's state is rebuilt: each school's school-local day now,
// one keyset-ordered step of batchRows person-days at a time. A person-day open since a
// check-in is `in` since then; one closed is `out` since its last check-out; a day of
// check-outs without a check-in has neither and stays `none`. A rebuilt entry is written by
// the same rule as a live one (the greater packed value wins), so events the API records
// while the rebuild runs are never overwritten by an older row.
//
// A write that failed (Redis unreachable after a publish ack) asks for the same rebuild with
// the marker still in place: reads go on, and the rows merge in what the failed write missed.
//
// Before reading it waits for the writer to store the events already in the stream: an event
// accepted just before Redis emptied is in no table yet.

const NUDGE_MIN_MS = 1_000;
/** How often the rebuild looks at the stream while it waits for the writer. */
const WRITER_POLL_MS = 100;

export interface StateRebuildSettings {
  /** How often each API process checks that the state is complete. */
  checkIntervalMs: number;
  /** attendance_days rows read and written to Redis per step. */
  batchRows: number;
  /** Lock lifetime; renewed after each step, so a dead rebuilder frees it this soon. */
  lockMs: number;
  /** Longest wait for the writer to store the events already in the stream; 0 = no wait. */
  writerWaitMs: number;
}

interface DayRow {
  person_id: string;
  open_since: Date | null;
  last_out: Date | null;
}

export interface StateRebuildSummary {
  schools: number;
  people: number;
  durationMs: number;
}

export class AttendanceStateRebuild {
  readonly #pool: Pool;
  readonly #redis: RedisClient;
  readonly #state: AttendanceState;
  readonly #settings: StateRebuildSettings;
  readonly #logger: Logger;
  readonly #streamProgress: () => Promise<StreamProgress>;
  readonly #keys: ReturnType<typeof attendanceStateKeys>;
  #inFlight: Promise<StateRebuildSummary | undefined> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** A live write failed: merge attendance_days in again, though the marker is there. */
  #repair = false;
  #healing = false;
  #failing = false;
  #lastCheckMs = 0;
  readonly #onReady = () => void this.ensure();
  /** A refused read asks for a check; at most one a second, however many reads arrive. */
  readonly #onNudge = () => {
    if (Date.now() - this.#lastCheckMs >= NUDGE_MIN_MS) void this.ensure();
  };
  readonly #onWriteFailed = () => {
    this.#repair = true;
  };

  constructor(
    pool: Pool,
    redis: RedisClient,
    state: AttendanceState,
    settings: StateRebuildSettings,
    logger: Logger,
    streamProgress: () => Promise<StreamProgress>,
  ) {
    this.#pool = pool;
    this.#redis = redis;
    this.#state = state;
    this.#settings = settings;
    this.#logger = logger.child({ component: "attendance-state" });
    this.#streamProgress = streamProgress;
    this.#keys = attendanceStateKeys(state.layout.keyPrefix);
  }

  /** Checks (and rebuilds) once before the API answers kiosks, then keeps watching. */
  async start(): Promise<void> {
    this.#state.onStateMissing(this.#onNudge);
    this.#state.onWriteFailed(this.#onWriteFailed);
    this.#redis.on("ready", this.#onReady);
    await this.ensure();
    this.#timer = setInterval(() => void this.ensure(), this.#settings.checkIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#redis.off("ready", this.#onReady);
    this.#state.onStateMissing(() => {});
    this.#state.onWriteFailed(() => {});
    await this.#inFlight;
  }

  /**
   * Rebuilds when Redis has no complete state (or a write failed) and no other process is
   * on it. Single-flight in this process; never throws (a failure is retried at the next
   * check). Resolves with what it rebuilt, or undefined when there was nothing to do here.
   */
  ensure(): Promise<StateRebuildSummary | undefined> {
    if (this.#inFlight) return this.#inFlight;
    this.#lastCheckMs = Date.now();
    this.#inFlight = this.#check()
      .then((summary) => {
        if (this.#failing) this.#logger.info("attendance state check recovered");
        this.#failing = false;
        return summary;
      })
      .catch((err: unknown) => {
        if (!this.#failing && !this.#stopped)
          this.#logger.warn({ err }, "attendance state rebuild failed; retrying at the next check");
        this.#failing = true;
        return undefined;
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
    return this.#inFlight;
  }

  async #check(): Promise<StateRebuildSummary | undefined> {
    if (this.#stopped) return undefined;
    const repair = this.#repair;
    if (!repair && (await this.#redis.exists(this.#keys.restored)) === 1) return undefined;
    const token = randomUUID();
    const locked = await this.#redis.set(this.#keys.lock, token, {
      condition: "NX",
      expiration: { type: "PX", value: this.#settings.lockMs },
    });
    if (locked === null) return undefined; // another API process is rebuilding
    // Writes failing from here on ask again; a rebuild that fails leaves the repair owed.
    this.#repair = false;
    try {
      return await this.#rebuild(token, repair);
    } catch (err) {
      this.#repair ||= repair;
      throw err;
    } finally {
      await this.#script(UNLOCK, [this.#keys.lock], [token]).catch(() => {});
    }
  }

  async #rebuild(token: string, repair: boolean): Promise<StateRebuildSummary> {
    const started = performance.now();
    const nowMs = Date.now();
    const { rows: schools } = await this.#pool.query<{ id: string; time_zone: string }>(
      "select id, time_zone from schools order by id",
    );
    const days = schools.map((s) => ({ ...s, day: this.#state.dayOf(nowMs, s.time_zone) }));
    // A first start (nobody checked in today) is not news; a state lost by Redis is.
    const lost = !repair && (await this.#anyCheckedIn(days));
    if (lost && !this.#healing)
      this.#logger.warn(
        { schools: schools.length },
        "the attendance state is missing from Redis (restarted empty?); rebuilding today's from attendance_days, kiosks' state reads answer 503 meanwhile",
      );
    this.#healing ||= lost;
    if (lost || repair) await this.#writerCaughtUp(token);
    // Schools a rebuild cut short already gave back (this Redis still lists them) are skipped.
    const done = new Set(Object.keys(await this.#redis.hGetAll(this.#keys.rebuilt)));
    let people = 0;
    for (const school of days) {
      if (done.has(school.id)) continue;
      people += await this.#rebuildSchool(school.id, school.day, token);
      await this.#holding(POLL_DONE, [this.#keys.lock, this.#keys.rebuilt], [token, school.id]);
    }
    const marker = JSON.stringify({ at: new Date().toISOString(), schools: days.length, people });
    const { lock, restored, rebuilt } = this.#keys;
    await this.#holding(COMPLETE, [lock, restored, rebuilt], [token, marker]);
    const summary = { schools: days.length, people, durationMs: performance.now() - started };
    if (this.#healing) this.#logger.info(summary, "attendance state restored in Redis");
    else if (repair) this.#logger.info(summary, "attendance state merged from attendance_days");
    this.#healing = false;
    return summary;
  }

  /** Whether any school has a person-day today (one index probe per school). */
  async #anyCheckedIn(days: { id: string; day: SchoolDay }[]): Promise<boolean> {
    if (days.length === 0) return false;
    const { rows } = await this.#pool.query<{ any: boolean }>(
      `select exists (
         select 1 from unnest($1::text[], $2::date[]) as t(school_id, day)
         where exists (select 1 from attendance_days a where a.school_id = t.school_id and a.day = t.day)
       ) as any`,
      [days.map((d) => d.id), days.map((d) => d.day.day)],
    );
    return rows[0]?.any === true;
  }

  async #writerCaughtUp(token: string): Promise<void> {
    const { writerWaitMs, lockMs } = this.#settings;
    const wait = await waitForWriter(this.#streamProgress, {
      waitMs: writerWaitMs,
      pollMs: WRITER_POLL_MS,
      between: async () => {
        if (this.#stopped) throw new RebuildInterruptedError("the API is shutting down");
        await this.#holding(EXTEND, [this.#keys.lock], [token, String(lockMs)]);
      },
    });
    if (wait.outcome === "unknown")
      this.#logger.warn(
        { err: wait.err },
        "cannot tell whether the writer stored the events in the stream; rebuilding the attendance state without waiting",
      );
    else if (wait.outcome === "timed_out")
      this.#logger.warn(
        { writerWaitMs, publishedSeq: wait.publishedSeq },
        "the writer has not stored the events already in the stream; rebuilding the attendance state without them (their people show their earlier state until their next event)",
      );
  }

  /**
   * One school's person-days of today in keyset-ordered steps of batchRows, each written by
   * one script; the next step is read while Redis runs the previous one.
   */
  async #rebuildSchool(schoolId: string, day: SchoolDay, token: string): Promise<number> {
    const { batchRows } = this.#settings;
    let after = "";
    let written = 0;
    let writing: Promise<void> = Promise.resolve();
    for (;;) {
      if (this.#stopped) throw new RebuildInterruptedError("the API is shutting down");
      const { rows } = await this.#pool.query<DayRow>(
        `select person_id, open_since, last_out from attendance_days
         where school_id = $1 and day = $2 and person_id > $3
           and (open_since is not null or last_out is not null)
         order by person_id limit $4`,
        [schoolId, day.day, after, batchRows],
      );
      if (rows.length === 0) break;
      const keys = [this.#keys.lock];
      const args: (string | Buffer)[] = [token, String(this.#settings.lockMs)];
      const nowMs = Date.now();
      for (const r of rows) {
        // Open: in since the check-in; closed: out since the last check-out.
        const kind = r.open_since !== null ? "in" : "out";
        const at = (r.open_since ?? r.last_out)!.getTime();
        const entry = stateEntry(this.#state.layout, schoolId, r.person_id, day, kind, at);
        if (entry.expireAtS * 1000 > nowMs) pushEntry(keys, args, entry);
      }
      const step = this.#holding(REBUILD_WRITE, keys, args, -1);
      // Awaited below or at the next step; a failure meanwhile must not count as unhandled.
      step.catch(() => {});
      await writing;
      writing = step;
      written += rows.length;
      if (rows.length < batchRows) break;
      after = rows[rows.length - 1]!.person_id;
    }
    await writing;
    return written;
  }

  /** Runs a step that needs the lock; stops the rebuild when the lock is not ours any more. */
  async #holding(
    script: string,
    keys: string[],
    args: (string | Buffer)[],
    lost = 0,
  ): Promise<void> {
    if ((await this.#script(script, keys, args)) === lost)
      throw new RebuildInterruptedError("the rebuild lock was lost (Redis restarted again?)");
  }

  async #script(script: string, keys: string[], args: (string | Buffer)[]): Promise<number> {
    return Number(await this.#redis.eval(script, { keys, arguments: args }));
  }
}
