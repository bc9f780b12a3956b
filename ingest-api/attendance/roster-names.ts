import { createHash } from "node:crypto";
import type { Pool } from "../../common/postgres.ts";

/** A school's names as read at one moment, and a stamp of them (part of an answer's ETag). */
export interface SchoolNames {
  names: ReadonlyMap<string, string>;
  /** 8 hex digits of a hash of every (id, name): the same names give the same stamp in every process. */
  stamp: string;
}

export interface RosterNamesOptions {
  /** Schools kept (ATTENDANCE_NAMES_CACHE_SCHOOLS); the least recently read goes first. */
  maxSchools: number;
  /** A school's names are read again after this at the latest (PEOPLE_REFRESH_MS). */
  maxAgeMs: number;
}

interface Entry {
  loadedAt: number;
  names: Promise<SchoolNames>;
  /** The names once read. */
  read?: SchoolNames;
}

/**
 * The names of a school's people, for the one reader who sees them: the school's own admin
 * reading a day document (the documents hold ids only; ingest-api/people/people-service.ts
 * `seesNames` is who sees names). One query per school, kept in memory and dropped when the
 * roster changes: the known-people set hears each change of a school's people (NOTIFY
 * `tallyflow_people`) and tells this (KnownPeople.onChange), so an erased or renamed person's
 * name is gone from the next read; `maxAgeMs` is the safety net, as PEOPLE_REFRESH_MS is
 * the known people's. Names are never logged: this holds them in memory only.
 */
export class RosterNames {
  /** Map order is recency. */
  readonly #entries = new Map<string, Entry>();
  readonly #pool: Pool;
  readonly #options: RosterNamesOptions;

  constructor(pool: Pool, options: RosterNamesOptions) {
    this.#pool = pool;
    this.#options = options;
  }

  /**
   * A school's people changed (null: any school may have). A read in flight is dropped too:
   * the next get reads again, after the change.
   */
  changed(schoolId: string | null): void {
    if (schoolId === null) this.#entries.clear();
    else this.#entries.delete(schoolId);
  }

  async get(schoolId: string, nowMs = Date.now()): Promise<SchoolNames> {
    const kept = this.#entries.get(schoolId);
    if (kept !== undefined && nowMs - kept.loadedAt < this.#options.maxAgeMs) {
      this.#entries.delete(schoolId);
      this.#entries.set(schoolId, kept);
      return kept.names;
    }
    const entry: Entry = { loadedAt: nowMs, names: this.#read(schoolId) };
    entry.names.then(
      (names) => {
        entry.read = names;
      },
      () => {},
    );
    this.#entries.set(schoolId, entry);
    while (this.#entries.size > this.#options.maxSchools) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    try {
      return await entry.names;
    } catch (err) {
      if (this.#entries.get(schoolId) === entry) this.#entries.delete(schoolId);
      throw err;
    }
  }

  /** A school's names if read and not too old, without reading them (null otherwise). */
  kept(schoolId: string, nowMs = Date.now()): SchoolNames | null {
    const kept = this.#entries.get(schoolId);
    if (kept?.read === undefined || nowMs - kept.loadedAt >= this.#options.maxAgeMs) return null;
    return kept.read;
  }

  get schools(): number {
    return this.#entries.size;
  }

  async #read(schoolId: string): Promise<SchoolNames> {
    const { rows } = await this.#pool.query<{ id: string; name: string }>(
      "select id, name from people where school_id = $1 and name is not null order by id",
      [schoolId],
    );
    const hash = createHash("sha256");
    const names = new Map<string, string>();
    for (const { id, name } of rows) {
      names.set(id, name);
      hash.update(id).update("\0").update(name).update("\n");
    }
    return { names, stamp: hash.digest("hex").slice(0, 8) };
  }
}
