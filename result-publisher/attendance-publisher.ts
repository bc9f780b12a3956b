import { dayRules, type LocalDay, schoolDays } from "../common/attendance/school-day.ts";
import {
  attendanceChannel,
  attendanceCursorKey,
  attendanceDayKeys,
  keptDays,
  keptUntilMs,
  versionDayOver,
} from "../common/attendance-contract.ts";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { type BuiltDay, buildDayDocument } from "./attendance-document.ts";
import { LiveDay } from "./attendance-live-day.ts";
import {
  type AttendanceChangeLog,
  type AttendanceSchool,
  type DayRow,
  deleteAttendanceChanges,
  loadActiveRoster,
  loadAttendanceChangeLog,
  loadAttendanceSchools,
  loadChangedDayRows,
  loadDayRows,
  loadGroupsOf,
  loadHolidays,
} from "./attendance-store.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";
import { type Queryable, readSnapshot } from "./rollup-store.ts";

/** `<schoolId>/<day>`: a school id holds no `/` (its id pattern). */
type DocKey = string;
const docKey = (schoolId: string, day: LocalDay): DocKey => `${schoolId}/${day}`;
const schoolOf = (key: DocKey) => key.slice(0, key.indexOf("/"));

/** A document the schools' kept days call for at this run. */
interface Target {
  key: DocKey;
  school: AttendanceSchool;
  day: LocalDay;
  today: boolean;
  /** The day's dayEndsAt has passed at this run. */
  over: boolean;
}

interface Build {
  target: Target;
  built: BuiltDay;
}

interface SnapshotRead {
  /** What the run read of the change logs: consumed once the run has published. */
  log: AttendanceChangeLog;
  schools: Set<string>;
  targets: Map<DocKey, Target>;
  /** Built, and their version differs from Redis's: to write. */
  writes: Build[];
  /** Todays to build from what the publisher keeps (#live), after the snapshot is closed. */
  fromLive: Target[];
  /** Built from reads this run: todays (kept from now on) and earlier days. */
  fromReads: { today: number; earlier: number };
  /** Versions found in Redis this run. */
  inRedis: Map<DocKey, string>;
  /** Built, and Redis holds that version already. */
  unchanged: { key: DocKey; version: string }[];
  /** Owed and left for the next runs (the budget). */
  owed: Set<DocKey>;
  lost: DocKey[];
}

export interface AttendanceRunSummary {
  schools: number;
  /** Documents the schools' kept days call for (schools × ATTENDANCE_DAYS_KEPT). */
  documents: number;
  /** Built this run (`<schoolId>/<day>`), written or found unchanged in Redis. */
  built: string[];
  /** Of those, the todays built from the kept today (LiveDay: no read); the rest from reads. */
  keptToday: string[];
  /** Written and announced: their version changed. */
  published: string[];
  /** Found missing (or not ours) in Redis, and rebuilt this run or owed. */
  restored: string[];
  /** Left for the next runs by ATTENDANCE_MAX_DOCUMENTS_PER_RUN. */
  owed: number;
  /** Documents of schools deleted since the last run, removed. */
  removed: string[];
}

export interface AttendancePublisherDeps {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  /** ATTENDANCE_DAYS_KEPT. */
  daysKept: number;
  /** ATTENDANCE_MAX_DOCUMENTS_PER_RUN: documents built from reads per run. */
  maxDocumentsPerRun: number;
  /**
   * ATTENDANCE_KEPT_TODAY_MAX_GAP_MS: the kept todays are brought up to date from the rows
   * changed since the last run only if it ended at most this long ago; else dropped (and
   * built from reads again), so one delta read never holds the writes of an hour.
   */
  keptTodayMaxGapMs?: number;
  /**
   * The leader's lock session pid (Leadership.lockSessionPid), read when the run deletes
   * the change log rows it consumed: the delete then does nothing once that session has
   * ended. Undefined (a test's publisher without a leadership): deleted unconditionally.
   */
  leaderPid?: () => number | undefined;
  logger: Logger;
  metrics: PublisherMetrics;
}

/** ATTENDANCE_KEPT_TODAY_MAX_GAP_MS's default. */
export const DEFAULT_KEPT_TODAY_MAX_GAP_MS = 60_000;
/** Version keys per MGET, as the results' check (publisher.ts). */
const MGET_CHUNK = 1_000;
/** Documents sent to Redis together (each its own MULTI, pipelined): a school's is ~100 KB. */
const WRITE_CHUNK = 50;

/**
 * Publishes every school's day documents for its kept days (common/attendance-contract.ts),
 * one run per publisher tick, as the leader. A run builds only the documents that may have
 * changed since the last run: a day with rows written since (logged in attendance_day_changes,
 * migration 051), every kept day of a school whose roster or rules changed
 * (attendance_school_change_log), a day whose dayEndsAt passed since it was published (the
 * version's `-c`), a new day, and any document missing from Redis or not the version
 * remembered. Each is built from the school's active roster, that day's rows and the school's
 * holidays (three queries per school, whatever its number of days), all in the snapshot the
 * logs were read in; once published, the log rows read are deleted (fenced by the leader's
 * lock), and a row committed meanwhile stays for the next run: nothing is missed, and no
 * transaction id is compared.
 *
 * At most `maxDocumentsPerRun` are built per run, today's first: the rest are owed to the
 * next runs (a metric), so a cold start or an emptied Redis (every school's every kept day)
 * never makes one run hold a snapshot for minutes. A document owed because of a logged
 * change stays in the log (its day's rows are not deleted; a changed school's owed days are
 * logged as days), so a new leader owes it too. A marker in Redis (attendanceCursorKey) says
 * that Redis's documents are those of a leader that consumed the log: a leader that does not
 * find it (a first start, a Redis restarted empty) rebuilds every kept day, and writes it
 * once a run owes nothing.
 *
 * Each school's today, once built from reads, is kept in memory (LiveDay,
 * attendance-live-day.ts) and brought up to date by each run from the logged rows
 * (loadChangedDayRows: one query for every school), so the morning peak,
 * when every school changes every interval, costs a run no roster or day read and no view of
 * the people who did not change: a few ms a school instead of ~60-75 ms (BENCHMARKS.md). A kept
 * today is dropped, and built from reads again, when its school's roster or rules change
 * (attendance_school_change_log), when a row names someone it has no place for, when its day
 * ends (dayEndsAt: every open check-in's view changes) or is no longer today, when the school
 * is deleted, at a new leadership, and after a gap of more than keptTodayMaxGapMs between
 * runs. Builds from it are outside the budget: they read nothing and hold no snapshot.
 */
export class AttendancePublisher {
  /** Document → version known to be in Redis. */
  readonly #published = new Map<DocKey, string>();
  /** Owed documents (changed, not built yet). */
  #owed = new Set<DocKey>();
  /**
   * Whether Redis's documents may be taken as published (the marker was found, or this
   * leadership wrote it): false, the next run rebuilds every kept day; undefined, the marker
   * is not read yet (a new leadership).
   */
  #trusted: boolean | undefined;
  /** Whether the marker is in Redis for this leadership (found there or written). */
  #marked = false;
  /** Each school's today, in step with the consumed log once a run has ended (see the class). */
  readonly #live = new Map<string, LiveDay>();
  /** performance.now() at the end of the last run. */
  #lastRunAt: number | undefined;
  /** dayEndsAt instants by zone, time and day: ~1,000 schools share a few of them. */
  #dayEnds = new Map<string, number>();
  readonly #deps: AttendancePublisherDeps;

  constructor(deps: AttendancePublisherDeps) {
    this.#deps = deps;
  }

  /** Forget everything (a new leadership: Redis may have moved on). */
  reset(): void {
    this.#published.clear();
    this.#owed = new Set();
    this.#trusted = undefined;
    this.#marked = false;
    this.#live.clear();
    this.#lastRunAt = undefined;
  }

  /** Frees the kept todays (the leadership lost); the next leadership starts with reset(). */
  dropKeptTodays(): void {
    this.#live.clear();
  }

  /** Schools whose today is kept in memory. */
  get keptTodays(): number {
    return this.#live.size;
  }

  async run(nowMs = Date.now()): Promise<AttendanceRunSummary> {
    const { pool, redis, keyPrefix, metrics, logger } = this.#deps;
    const started = performance.now();
    if (this.#trusted === undefined) {
      this.#marked = (await redis.get(attendanceCursorKey(keyPrefix))) !== null;
      this.#trusted = this.#marked;
    }
    const maxGapMs = this.#deps.keptTodayMaxGapMs ?? DEFAULT_KEPT_TODAY_MAX_GAP_MS;
    if (this.#lastRunAt === undefined || started - this.#lastRunAt > maxGapMs) this.#live.clear();
    const read = await readSnapshot(pool, (db) => this.#read(db, nowMs));
    // The kept todays, built outside the snapshot: memory only.
    for (const target of read.fromLive) {
      const built = this.#live.get(target.school.id)!.build(nowMs);
      if (read.inRedis.get(target.key) === built.version)
        read.unchanged.push({ key: target.key, version: built.version });
      else read.writes.push({ target, built });
    }
    const summary: AttendanceRunSummary = {
      schools: read.schools.size,
      documents: read.targets.size,
      built: [...read.writes.map((w) => w.target.key), ...read.unchanged.map((u) => u.key)],
      keptToday: read.fromLive.map((t) => t.key),
      published: [],
      restored: read.lost,
      owed: read.owed.size,
      removed: [],
    };
    for (const { key, version } of read.unchanged) this.#published.set(key, version);
    await this.#write(read.writes, summary, nowMs);
    await this.#remove(read.schools, summary);
    // Days no longer kept expire in Redis by themselves (keptUntilMs).
    for (const key of this.#published.keys())
      if (!read.targets.has(key)) this.#published.delete(key);

    // Only now, with everything it read published or owed: a run that failed before this
    // leaves the log as it was, and the next run (or a new leader) reads it again.
    await this.#consume(read);
    this.#trusted = true;
    this.#lastRunAt = performance.now();
    this.#owed = read.owed;
    // The marker, once this leadership's documents stand for the log: found at its start, or
    // a run that owed nothing (a rebuild done). Until then a new leader rebuilds everything.
    if (this.#marked || read.owed.size === 0) {
      await redis.set(attendanceCursorKey(keyPrefix), new Date(nowMs).toISOString());
      this.#marked = true;
    }

    if (read.lost.length > 0) {
      metrics.attendanceLost.inc(read.lost.length);
      logger.warn(
        { documents: read.lost.length, sample: read.lost.slice(0, 10) },
        "attendance documents missing from Redis (restarted empty?); rebuilding them",
      );
    }
    metrics.attendanceBuilt.inc(summary.built.length);
    // Which path the documents took: what a benchmark must show it measured (the peaks' todays
    // are the kept ones in a deployment; a past day is always built from reads).
    metrics.attendanceBuiltByPath.inc({ path: "kept_today" }, read.fromLive.length);
    metrics.attendanceBuiltByPath.inc({ path: "today_from_reads" }, read.fromReads.today);
    metrics.attendanceBuiltByPath.inc({ path: "earlier_day_from_reads" }, read.fromReads.earlier);
    metrics.attendancePublished.inc(summary.published.length);
    metrics.attendanceOwed.set(read.owed.size);
    metrics.attendanceRunDuration.observe((performance.now() - started) / 1000);
    if (summary.published.length > 0)
      logger.debug(
        { published: summary.published.length, owed: summary.owed },
        "attendance published",
      );
    return summary;
  }

  /**
   * Deletes the log rows the run consumed (fenced by the leader's lock): every row read but
   * a school-day's whose document is owed; a changed school's owed days are logged again as
   * days (deleteAttendanceChanges).
   */
  async #consume(read: SnapshotRead): Promise<void> {
    const { pool } = this.#deps;
    const days = read.log.days.filter((d) => !read.owed.has(docKey(d.schoolId, d.day)));
    const changedSchools = new Set(read.log.schools.map((s) => s.schoolId));
    const owedDays = [...read.owed]
      .map((key) => read.targets.get(key)!)
      .filter((t) => changedSchools.has(t.school.id))
      .map((t) => ({ schoolId: t.school.id, day: t.day }));
    const consumed = { days, schools: read.log.schools };
    const leaderPid = this.#deps.leaderPid;
    if (leaderPid === undefined) await deleteAttendanceChanges(pool, consumed, owedDays);
    else {
      const pid = leaderPid();
      if (pid !== undefined) await deleteAttendanceChanges(pool, consumed, owedDays, pid);
    }
  }

  async #read(db: Queryable, nowMs: number): Promise<SnapshotRead> {
    const { daysKept, maxDocumentsPerRun } = this.#deps;
    const log = await loadAttendanceChangeLog(db);
    const schoolRows = await loadAttendanceSchools(db);
    const targets = new Map<DocKey, Target>();
    let firstDay: LocalDay | undefined;
    for (const school of schoolRows) {
      keptDays(nowMs, school.timeZone, daysKept).forEach((day, i) => {
        const key = docKey(school.id, day);
        targets.set(key, {
          key,
          school,
          day,
          today: i === 0,
          over: nowMs >= this.#dayEnd(school, day),
        });
        if (firstDay === undefined || day < firstDay) firstDay = day;
      });
    }

    // What Redis holds is checked every run (as the results are): a Redis restarted empty is
    // refilled within a run or a few, whatever the change log says.
    const keys = [...targets.keys()];
    const versions = await this.#versions(keys);
    const trusted = this.#trusted === true;
    const needed = new Set<DocKey>();
    const lost: DocKey[] = [];
    const inRedis = new Map<DocKey, string>();
    keys.forEach((key, i) => {
      const version = versions[i];
      const known = this.#published.get(key);
      if (version == null) {
        needed.add(key);
        if (known !== undefined) {
          lost.push(key);
          this.#published.delete(key);
        }
        return;
      }
      inRedis.set(key, version);
      if (known === undefined && trusted) this.#published.set(key, version);
      else if (known !== undefined && known !== version) {
        needed.add(key);
        lost.push(key);
      }
      if (versionDayOver(version) !== targets.get(key)!.over) needed.add(key);
    });
    for (const key of this.#owed) if (targets.has(key)) needed.add(key);
    // A kept today stands while it is its school's today, on the same side of dayEndsAt.
    for (const [schoolId, live] of this.#live) {
      const target = targets.get(docKey(schoolId, live.day));
      if (target === undefined || !target.today || target.over !== live.dayOver)
        this.#live.delete(schoolId);
    }
    if (!trusted) {
      this.#live.clear();
      for (const key of keys) needed.add(key);
    } else {
      const changed = new Set(log.schools.map((s) => s.schoolId));
      if (changed.size > 0) {
        for (const t of targets.values()) if (changed.has(t.school.id)) needed.add(t.key);
        for (const schoolId of changed) this.#live.delete(schoolId);
      }
      if (firstDay !== undefined && this.#live.size > 0) {
        // The rows themselves: the kept todays take theirs, every row names its day.
        const rows = await loadChangedDayRows(db, firstDay);
        this.#deps.metrics.attendanceRowsRead.inc(rows.length);
        const bySchool = new Map<string, DayRow[]>();
        for (const row of rows) {
          const key = docKey(row.schoolId, row.day);
          if (!targets.has(key)) continue;
          needed.add(key);
          if (this.#live.get(row.schoolId)?.day !== row.day) continue;
          let list = bySchool.get(row.schoolId);
          if (list === undefined) {
            list = [];
            bySchool.set(row.schoolId, list);
          }
          list.push(row);
        }
        for (const [schoolId, list] of bySchool)
          if (!this.#live.get(schoolId)!.apply(list)) this.#live.delete(schoolId);
      }
      // Every logged school-day (those the kept todays took rows for, and the others: a day
      // whose rows were since rewritten by a transaction logged too, or deleted).
      for (const { schoolId, day } of log.days) {
        const key = docKey(schoolId, day);
        if (targets.has(key)) needed.add(key);
      }
    }

    // Today's first (what screens show), then the most recent days.
    const ordered = [...needed]
      .map((key) => targets.get(key)!)
      .sort(
        (a, b) => Number(b.today) - Number(a.today) || (a.day < b.day ? 1 : a.day > b.day ? -1 : 0),
      );
    // A kept today is built from memory, outside the budget (it reads nothing).
    const fromLive: Target[] = [];
    const fromReads: Target[] = [];
    for (const t of ordered)
      (t.today && this.#live.get(t.school.id)?.day === t.day ? fromLive : fromReads).push(t);
    const now = fromReads.slice(0, maxDocumentsPerRun);
    const todayFromReads = now.filter((t) => t.today).length;
    const owed = new Set(fromReads.slice(maxDocumentsPerRun).map((t) => t.key));

    const writes: Build[] = [];
    const unchanged: { key: DocKey; version: string }[] = [];
    const bySchool = Map.groupBy(now, (t) => t.school.id);
    for (const list of bySchool.values()) {
      const school = list[0]!.school;
      const roster = await loadActiveRoster(db, school.id);
      const rows = await loadDayRows(
        db,
        school.id,
        list.map((t) => t.day),
      );
      const active = new Set(roster.map((p) => p.id));
      const others = rows.filter((r) => !active.has(r.personId));
      if (others.length > 0) {
        const groups = await loadGroupsOf(db, school.id, [
          ...new Set(others.map((r) => r.personId)),
        ]);
        for (const r of others) r.groups = groups.get(r.personId) ?? null;
      }
      this.#deps.metrics.attendanceRowsRead.inc(roster.length + rows.length);
      const rowsByDay = Map.groupBy(rows, (r) => r.day);
      const holidays = await loadHolidays(
        db,
        school.id,
        list.map((t) => t.day),
      );
      for (const target of list) {
        const dayRows: DayRow[] = rowsByDay.get(target.day) ?? [];
        const { day } = target;
        const schoolDay = schoolDays(day, day, school.settings.weekdays, holidays).length === 1;
        let built: BuiltDay;
        if (target.today) {
          // Kept from now on: the next runs bring it up to date from the changed rows.
          const live = new LiveDay(school, day, schoolDay, roster, dayRows, nowMs);
          this.#live.set(school.id, live);
          built = live.build(nowMs);
        } else built = buildDayDocument(school, day, schoolDay, roster, dayRows, nowMs);
        if (inRedis.get(target.key) === built.version)
          unchanged.push({ key: target.key, version: built.version });
        else writes.push({ target, built });
      }
    }
    return {
      log,
      schools: new Set(schoolRows.map((s) => s.id)),
      targets,
      writes,
      fromLive,
      fromReads: { today: todayFromReads, earlier: now.length - todayFromReads },
      inRedis,
      unchanged,
      owed,
      lost,
    };
  }

  /** The instant of a school's dayEndsAt on a day (memoised: luxon is not free at 7,000 a run). */
  #dayEnd(school: AttendanceSchool, day: LocalDay): number {
    const memo = `${school.timeZone}|${school.settings.dayEndsAt}|${day}`;
    let at = this.#dayEnds.get(memo);
    if (at === undefined) {
      if (this.#dayEnds.size > 100_000) this.#dayEnds.clear();
      at = dayRules(school.settings, school.timeZone, day).dayEndMs;
      this.#dayEnds.set(memo, at);
    }
    return at;
  }

  /**
   * One MULTI per document: JSON, counts, version and the announcement. Each key expires when
   * its day is no longer kept, counted from this run's clock (PX, not PXAT: a publisher's
   * idea of the time is what decided the day's kept days).
   */
  async #write(writes: Build[], summary: AttendanceRunSummary, nowMs: number): Promise<void> {
    const { redis, keyPrefix, daysKept } = this.#deps;
    const channel = attendanceChannel(keyPrefix);
    for (let i = 0; i < writes.length; i += WRITE_CHUNK) {
      await Promise.all(
        writes.slice(i, i + WRITE_CHUNK).map(async ({ target, built }) => {
          const { school, day, key } = target;
          const keys = attendanceDayKeys(keyPrefix, school.id, day);
          const ttlMs = Math.max(60_000, keptUntilMs(day, school.timeZone, daysKept) - nowMs);
          const expiration = { expiration: { type: "PX", value: ttlMs } } as const;
          await redis
            .multi()
            .set(keys.json, built.json, expiration)
            .set(keys.counts, built.countsJson, expiration)
            .set(keys.version, built.version, expiration)
            .publish(channel, JSON.stringify({ schoolId: school.id, day, version: built.version }))
            .exec();
          this.#published.set(key, built.version);
          summary.published.push(key);
        }),
      );
    }
  }

  /** Deletes the documents of schools deleted since the last run (pipelined). */
  async #remove(schools: Set<string>, summary: AttendanceRunSummary): Promise<void> {
    const { redis, keyPrefix } = this.#deps;
    const gone = [...this.#published.keys()].filter((key) => !schools.has(schoolOf(key)));
    await Promise.all(
      gone.map(async (key) => {
        const schoolId = schoolOf(key);
        const keys = attendanceDayKeys(keyPrefix, schoolId, key.slice(schoolId.length + 1));
        await redis.del([keys.json, keys.counts, keys.version]);
        this.#published.delete(key);
        summary.removed.push(key);
      }),
    );
  }

  /** Version keys in order (null where absent), MGETs of MGET_CHUNK sent together. */
  async #versions(keys: DocKey[]): Promise<(string | null)[]> {
    const { redis, keyPrefix } = this.#deps;
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < keys.length; i += MGET_CHUNK)
      chunks.push(
        redis.mGet(
          keys.slice(i, i + MGET_CHUNK).map((key) => {
            const schoolId = schoolOf(key);
            return attendanceDayKeys(keyPrefix, schoolId, key.slice(schoolId.length + 1)).version;
          }),
        ),
      );
    return (await Promise.all(chunks)).flat();
  }
}
