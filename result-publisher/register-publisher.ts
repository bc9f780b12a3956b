import type { Gauge } from "prom-client";
import type { Logger } from "../common/logger.ts";
import { gauge } from "../common/metrics.ts";
import type { Pool } from "../common/postgres.ts";
import type { RedisClient } from "../common/redis.ts";
import { registerChannel, registerKeys } from "../common/register-contract.ts";
import { currentSnapshot } from "./attendance-store.ts";
import type { PublisherMetrics } from "./publisher-metrics.ts";
import { buildRegisterDocument } from "./register-document.ts";
import {
  countOverdue,
  loadChangedRegisters,
  loadChangedRosters,
  loadKeptRegisters,
  loadRegisterRows,
} from "./register-store.ts";
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
  logger: Logger;
  metrics: PublisherMetrics;
}

export interface RegisterRunSummary {
  /** Registers of the kept window. */
  registers: number;
  built: number;
  /** Written and announced (`pollId`s): their version changed. */
  published: string[];
  owed: number;
  overdue: number;
}

const MGET_CHUNK = 1_000;
const WRITE_CHUNK = 100;

/**
 * Publishes each lesson register's document (common/register-contract.ts) as the leader,
 * beside the results: the publisher reads the registers the writer changed since its last
 * run (register_states.tx_id, the snapshot it did not see), those of a school whose roster
 * changed (a register not completed lists the group's members still to be said), a new
 * register, and any document missing from Redis; each is built from the writer's
 * precomputed rows, never from raw events. The writer keeps the state (a register's truth
 * changes with its events, in their transaction); the publisher only turns it into
 * documents, as it does for the attendance days. At most `maxDocumentsPerRun` a run: the
 * rest are owed. Also sets `tallyflow_registers_overdue`.
 *
 * The cursor is this process's (a new leader rebuilds the kept window within the budget).
 */
export class RegisterPublisher {
  readonly #published = new Map<string, string>();
  #owed = new Set<string>();
  #cursor: string | null = null;
  readonly #deps: RegisterPublisherDeps;
  readonly #overdue: Gauge;

  constructor(deps: RegisterPublisherDeps) {
    this.#deps = deps;
    this.#overdue = gauge(
      deps.metrics.registry,
      "tallyflow_registers_overdue",
      "Lesson registers of the kept window not completed by their end plus REGISTER_COMPLETION_GRACE_MS",
    );
  }

  reset(): void {
    this.#published.clear();
    this.#owed = new Set();
    this.#cursor = null;
  }

  async run(nowMs = Date.now()): Promise<RegisterRunSummary> {
    const { pool, redis, keyPrefix, daysKept, maxDocumentsPerRun, completionGraceMs } = this.#deps;
    const read = await readSnapshot(pool, async (db) => {
      const snapshot = await currentSnapshot(db);
      const kept = await loadKeptRegisters(db, nowMs, daysKept);
      const needed = new Set(this.#owed);
      const versions = await this.#versions(kept.map((k) => k.pollId));
      const inRedis = new Map<string, string>();
      kept.forEach((k, i) => {
        const version = versions[i];
        if (version != null) inRedis.set(k.pollId, version);
        if (version == null || this.#published.get(k.pollId) !== version) needed.add(k.pollId);
      });
      if (this.#cursor !== null) {
        for (const id of await loadChangedRegisters(db, this.#cursor)) needed.add(id);
        const schools = new Set(await loadChangedRosters(db, this.#cursor));
        if (schools.size > 0)
          for (const k of kept) if (!k.completed && schools.has(k.schoolId)) needed.add(k.pollId);
      }
      const keptIds = new Set(kept.map((k) => k.pollId));
      const ordered = [...needed].filter((id) => keptIds.has(id));
      const now = ordered.slice(0, maxDocumentsPerRun);
      const rows = await loadRegisterRows(db, now);
      const overdue = await countOverdue(db, nowMs, completionGraceMs, daysKept);
      const owed = new Set(ordered.slice(maxDocumentsPerRun));
      return { snapshot, kept, rows, owed, overdue, inRedis };
    });
    const built = read.rows.map((r) => ({ r, doc: buildRegisterDocument(r, nowMs) }));
    const writes = built.filter(({ r, doc }) => {
      if (read.inRedis.get(r.pollId) !== doc.version) return true;
      this.#published.set(r.pollId, doc.version); // found as built: nothing to write
      return false;
    });
    const published: string[] = [];
    const ttlMs = (endsAt: Date) =>
      Math.max(60_000, endsAt.getTime() + daysKept * 86_400_000 - nowMs);
    for (let i = 0; i < writes.length; i += WRITE_CHUNK)
      await Promise.all(
        writes.slice(i, i + WRITE_CHUNK).map(async ({ r, doc }) => {
          const keys = registerKeys(keyPrefix, r.pollId);
          const expiration = { expiration: { type: "PX", value: ttlMs(r.endsAt) } } as const;
          await redis
            .multi()
            .set(keys.json, doc.json, expiration)
            .set(keys.version, doc.version, expiration)
            .publish(
              registerChannel(keyPrefix),
              JSON.stringify({ pollId: r.pollId, version: doc.version }),
            )
            .exec();
          this.#published.set(r.pollId, doc.version);
          published.push(r.pollId);
        }),
      );
    const keptIds = new Set(read.kept.map((k) => k.pollId));
    for (const id of this.#published.keys()) if (!keptIds.has(id)) this.#published.delete(id);
    this.#owed = read.owed;
    this.#cursor = read.snapshot;
    this.#overdue.set(read.overdue);
    return {
      registers: read.kept.length,
      built: built.length,
      published,
      owed: read.owed.size,
      overdue: read.overdue,
    };
  }

  async #versions(pollIds: string[]): Promise<(string | null)[]> {
    const { redis, keyPrefix } = this.#deps;
    const chunks: Promise<(string | null)[]>[] = [];
    for (let i = 0; i < pollIds.length; i += MGET_CHUNK)
      chunks.push(
        redis.mGet(
          pollIds.slice(i, i + MGET_CHUNK).map((id) => registerKeys(keyPrefix, id).version),
        ),
      );
    return (await Promise.all(chunks)).flat();
  }
}
