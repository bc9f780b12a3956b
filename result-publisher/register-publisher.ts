import type { Gauge } from "prom-client";
import type { Logger } from "../common/logger.ts";
import { gauge } from "../common/metrics.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import {
  REGISTER_SENTINEL,
  registerKeys,
  registerSentinelKey,
} from "../common/register-contract.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";
import { buildRegisterDocument, type RegisterRows } from "./register-document.ts";
import {
  countOverdue,
  deleteRegisterChangeLog,
  expandRosterChanges,
  type KeptRegister,
  loadExistingPolls,
  loadKeptAmong,
  loadKeptRegisters,
  loadRegisterChangeLog,
  loadRegisterRows,
} from "./register-store.ts";
import { takeRegisterEpoch, writeRegisterDocument } from "./register-writes.ts";
import { readSnapshot } from "./rollup-store.ts";

export interface RegisterPublisherDeps {
  pool: Pool;
  redis: RedisClient;
  keyPrefix: string;
  /** REGISTER_DAYS_KEPT: registers started within these last days are published. */
  daysKept: number;
  /** REGISTER_MAX_DOCUMENTS_PER_RUN. */
  maxDocumentsPerRun: number;
  /** REGISTER_COMPLETION_GRACE_MS. */
  completionGraceMs: number;
  /**
   * REGISTER_OVERDUE_RECOUNT_MS: the overdue registers are counted (a scan of the kept
   * window) when this long has passed since the last count, by the run's clock; 0: every run.
   */
  overdueRecountMs?: number;
  /**
   * The leader's lock session pid now (Leadership.lockSessionPid; undefined: not the
   * leader). Given, the change log's delete happens only while that session holds the
   * lock; without it (a publisher no other process competes with: tests, benchmarks) it is
   * unconditional. As PublisherDeps.leaderPid.
   */
  leaderPid?: () => number | undefined;
  logger: Logger;
  metrics: PublisherMetrics;
}

export interface RegisterRunSummary {
  /** Registers this run found to (re)build: changed, owed, or the kept window in a rebuild. */
  registers: number;
  built: number;
  /** Written and announced (`pollId`s): their version changed. */
  published: string[];
  /** Registers deleted since the last run whose documents were removed (`pollId`s). */
  removed: string[];
  owed: number;
  /** The last count of the overdue (this run's, or one at most overdueRecountMs old). */
  overdue: number;
  /** The run read the kept window (a first leader, Redis lost, a rebuild still owed). */
  rebuilt: boolean;
  /** Schools whose roster change this run turned into register changes (migration 056). */
  rosters: number;
  /**
   * Documents the leadership epoch refused (register-writes.ts): a deposed leader, or a
   * Redis emptied. Such a run consumes nothing and leaves its state as it was.
   */
  refused: number;
}

const MGET_CHUNK = 1_000;
const WRITE_CHUNK = 100;

/**
 * Publishes each lesson register's document (common/register-contract.ts) as the leader,
 * beside the results. A run first turns the rosters' log (register_roster_change_log,
 * migration 056: the groups whose members changed, by school) into register changes: the
 * kept registers of those groups not completed (their pending list is the group's members
 * now; expandRosterChanges). It then reads what changed: the log of registers whose
 * document may have changed since it was last consumed (register_change_log, migration 050:
 * written by the writer with their state, by the API's create, edit or delete of a
 * register's poll (migration 055's polls_inserted, polls_updated, delete_polls), by an
 * erasure, and by that first step); plus what earlier runs owed
 * (their rows stay in the log until built: a new leader finds them). Each is built
 * from the writer's precomputed rows, never from raw events. A run with nothing changed
 * reads no register row: its cost does not grow with the kept window (2.45 million at a
 * country's 350,000 lessons a day, 7 days kept), nor with a long transaction elsewhere. At
 * most `maxDocumentsPerRun` are built a run, nearest to now first (today's lessons): the
 * rest are owed. Once published, it deletes the log rows it read but of the owed (fenced by
 * the leader's lock, deleteRegisterChangeLog). Also sets `tallyflow_registers_overdue`,
 * counted at most every `overdueRecountMs` (a scan of the kept window, the one read of a
 * run that grows with it).
 *
 * No transaction id is compared: a long transaction elsewhere changes nothing in what a run
 * reads. The sentinel in Redis (registerSentinelKey) says whether a new leader may resume
 * from the logs or must rebuild; without it (the first leader ever, Redis lost, an upgrade
 * from before 056) a run reads the kept window's ids and owes every document, within the
 * budget a run.
 *
 * No state of a document depends on the clock: the overdue registers are listed by the API
 * from Postgres and counted here, not in the documents (register-document.ts), so the time
 * passing changes no document and needs no trigger of its own.
 */
export class RegisterPublisher {
  /** Owed documents (changed, not built yet), with their start for the order. */
  #owed = new Map<string, number>();
  /**
   * Whether the next run must read the kept window (a rebuild); undefined: the sentinel was
   * not read from Redis yet.
   */
  #rebuild: boolean | undefined;
  /** Documents of a rebuild are owed (in memory only): the sentinel says so to a new leader. */
  #rebuildOwed = false;
  /** The epoch this leader writes under, taken when its lock session (pid) began leading. */
  #epoch: { pid: number; value: string } | undefined;
  readonly #deps: RegisterPublisherDeps;
  readonly #overdue: Gauge;
  /** The last overdue count and the run's clock then. */
  #overdueCount: { n: number; atMs: number } | undefined;

  constructor(deps: RegisterPublisherDeps) {
    this.#deps = deps;
    this.#overdue = gauge(
      deps.metrics.registry,
      "tallyflow_registers_overdue",
      "Lesson registers of the kept window not completed by their end plus REGISTER_COMPLETION_GRACE_MS",
    );
  }

  /** Forget everything (a new leadership: Redis may have moved on). */
  reset(): void {
    this.#owed = new Map();
    this.#rebuild = undefined;
    this.#rebuildOwed = false;
    this.#overdueCount = undefined;
    this.#epoch = undefined;
  }

  async run(nowMs = Date.now()): Promise<RegisterRunSummary> {
    const { pool, redis, keyPrefix, metrics, logger } = this.#deps;
    const { daysKept, maxDocumentsPerRun, completionGraceMs } = this.#deps;
    // One GET a run, the documents' sentinel (written at every run): a Redis restarted empty
    // (or flushed) lost it with them, and everything is rebuilt. Checking every kept document's version instead (an
    // MGET each, as before) costs a run what the kept window holds, the cost this class
    // avoids. A document evicted alone is not seen here (the API answers 503
    // register_not_ready; its next change republishes it): they expire by themselves, and
    // Redis should not evict keys of tallyflow's.
    const key = registerSentinelKey(keyPrefix);
    const inRedis = await redis.get(key);
    if (this.#rebuild === undefined) {
      // "" (a rebuild owed), nothing (the first leader ever), or a cursor of before 056.
      this.#rebuild = inRedis !== REGISTER_SENTINEL;
    } else if (inRedis === null) {
      metrics.registerLost.inc();
      logger.warn(
        "lesson register sentinel missing from Redis (restarted empty?); rebuilding every kept register's document",
      );
      this.#rebuild = true;
      this.#owed = new Map();
    }
    const rebuild = this.#rebuild;
    const { leaderPid } = this.#deps;
    // Not the leader (any more): it consumes nothing, as the log's delete below.
    const pid = leaderPid === undefined ? null : (leaderPid() ?? false);
    // Its documents are written under its epoch (register-writes.ts), taken before its first
    // snapshot as leader; not leading, under none that can match ("").
    let epoch: string | undefined;
    if (pid === false) epoch = "";
    else if (pid !== null) {
      if (this.#epoch?.pid !== pid)
        this.#epoch = { pid, value: await takeRegisterEpoch(redis, keyPrefix) };
      epoch = this.#epoch.value;
    }
    // Before the run's snapshot, which then reads the register changes it logged.
    const rosters =
      pid === false
        ? { schools: 0, registers: 0 }
        : await expandRosterChanges(pool, nowMs, daysKept, pid ?? undefined);
    let rowsRead = rosters.schools;
    const read = await readSnapshot(pool, async (db) => {
      const candidates = new Map(this.#owed);
      const add = (list: KeptRegister[]) => {
        rowsRead += list.length;
        for (const k of list) candidates.set(k.pollId, k.startsAtMs);
      };
      // The log, rebuild or not: what changed since it was last consumed (its rows of
      // registers still owed included: they are deleted once built).
      const logged = await loadRegisterChangeLog(db);
      rowsRead += logged.size;
      if (rebuild) add(await loadKeptRegisters(db, nowMs, daysKept));
      // Those already candidates (owed) are known to be kept: during a backlog the log holds
      // them until they are built, and is not looked up again whole each run.
      const changed = [...logged.keys()].filter((id) => !candidates.has(id));
      const kept = await loadKeptAmong(db, nowMs, daysKept, changed);
      add(kept);
      // A logged poll that no longer exists was deleted: its document goes.
      const keptIds = new Set(kept.map((k) => k.pollId));
      const unkept = changed.filter((id) => !keptIds.has(id));
      const existing = await loadExistingPolls(db, unkept);
      const gone = unkept.filter((id) => !existing.has(id));
      for (const id of gone) candidates.delete(id);
      // Nearest to now first: today's lessons, then the most recent days (and tomorrow's).
      const ordered = [...candidates]
        .sort((a, b) => Math.abs(a[1] - nowMs) - Math.abs(b[1] - nowMs))
        .map(([id]) => id);
      const now = ordered.slice(0, maxDocumentsPerRun);
      const rows = await loadRegisterRows(db, now);
      // One deleted while it was owed: no rows, and its document goes too.
      const found = new Set(rows.map((r) => r.pollId));
      for (const id of now) if (!found.has(id)) gone.push(id);
      rowsRead += rows.reduce((n, r) => n + 1 + r.people.length + r.members.length, 0);
      const recountMs = this.#deps.overdueRecountMs ?? 0;
      const counted = this.#overdueCount;
      const fresh =
        counted !== undefined && nowMs >= counted.atMs && nowMs - counted.atMs < recountMs;
      const overdue = fresh
        ? counted.n
        : await countOverdue(db, nowMs, completionGraceMs, daysKept);
      if (!fresh) this.#overdueCount = { n: overdue, atMs: nowMs };
      const owed = new Map(
        ordered.slice(maxDocumentsPerRun).map((id) => [id, candidates.get(id)!]),
      );
      return { logged, candidates: candidates.size, rows, owed, overdue, gone };
    });
    metrics.registerRowsRead.inc(rowsRead);
    const built = read.rows.map((r) => ({ r, doc: buildRegisterDocument(r, nowMs) }));
    // Only the documents built are checked in Redis (a rebuilt document found unchanged is
    // not written again): at most the budget's, not the window's.
    const versions = await this.#versions(read.rows);
    const writes = built.filter(({ doc }, i) => versions[i] !== doc.version);
    const { published, refused } = await this.#write(writes, nowMs, epoch);
    if (refused > 0)
      // Before it consumes the log or writes the sentinel: what it read stays owed (a
      // rebuild stays a rebuild), for this process's next run under a new epoch if it leads
      // then, or for its successor.
      return {
        registers: read.candidates,
        built: built.length,
        published,
        removed: [],
        owed: read.owed.size,
        overdue: read.overdue,
        rebuilt: rebuild,
        rosters: rosters.schools,
        refused,
      };
    if (read.gone.length > 0)
      await redis.del(read.gone.flatMap((id) => Object.values(registerKeys(keyPrefix, id))));
    // Only now, with what it read published: a run that failed before this leaves the log as
    // it was. The rows of registers still owed stay (a new leader, whose memory holds none of
    // them, reads them there); the others were built, removed, or are not kept. Fenced: an
    // old leader whose lock a new one may hold meanwhile deletes nothing.
    const consumed = new Map([...read.logged].filter(([id]) => !read.owed.has(id)));
    if (leaderPid === undefined) await deleteRegisterChangeLog(pool, consumed);
    else {
      const pid = leaderPid();
      if (pid !== undefined) await deleteRegisterChangeLog(pool, consumed, pid);
    }

    // A rebuild's owed documents are in this memory only (the others' rows stay in the
    // log): until none is owed, a new leader must rebuild too.
    this.#rebuildOwed = read.owed.size > 0 && (rebuild || this.#rebuildOwed);
    this.#owed = read.owed;
    this.#rebuild = false;
    // XX where a sentinel was found: a Redis emptied during this run stays without one, and
    // the next run rebuilds what it lost.
    await redis.set(
      key,
      this.#rebuildOwed ? "" : REGISTER_SENTINEL,
      inRedis === null ? {} : { condition: "XX" },
    );
    this.#overdue.set(read.overdue);
    return {
      registers: read.candidates,
      built: built.length,
      published,
      removed: read.gone,
      owed: read.owed.size,
      overdue: read.overdue,
      rebuilt: rebuild,
      rosters: rosters.schools,
      refused: 0,
    };
  }

  async #write(
    writes: { r: RegisterRows; doc: { version: string; json: string } }[],
    nowMs: number,
    epoch: string | undefined,
  ): Promise<{ published: string[]; refused: number }> {
    const { redis, keyPrefix, daysKept, logger } = this.#deps;
    const published: string[] = [];
    let refused = 0;
    const ttlMs = (endsAt: Date) =>
      Math.max(60_000, endsAt.getTime() + daysKept * 86_400_000 - nowMs);
    for (let i = 0; i < writes.length; i += WRITE_CHUNK)
      await Promise.all(
        writes.slice(i, i + WRITE_CHUNK).map(async ({ r, doc }) => {
          const written = await writeRegisterDocument(redis, keyPrefix, epoch, {
            pollId: r.pollId,
            json: doc.json,
            version: doc.version,
            ttlMs: ttlMs(r.endsAt),
          });
          if (written) published.push(r.pollId);
          else refused++;
        }),
      );
    if (refused > 0) {
      // A successor's epoch, or a Redis emptied (which lost the epoch with the documents):
      // this process takes a new one at its next run only if it leads then.
      this.#epoch = undefined;
      logger.warn(
        { refused },
        "register documents not written: another leader's epoch holds (this one was deposed, or Redis restarted); the run consumed nothing",
      );
    }
    return { published, refused };
  }

  async #versions(rows: RegisterRows[]): Promise<(string | null)[]> {
    const { redis, keyPrefix } = this.#deps;
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < rows.length; i += MGET_CHUNK)
      chunks.push(
        redis.mGet(
          rows.slice(i, i + MGET_CHUNK).map((r) => registerKeys(keyPrefix, r.pollId).version),
        ),
      );
    return (await Promise.all(chunks)).flat();
  }
}
