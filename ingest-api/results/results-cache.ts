import { setTimeout as sleep } from "node:timers/promises";
import { RESP_TYPES } from "redis";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { resultsKeys } from "../../common/results-contract.ts";
import type { VersionEvent } from "./results-events.ts";

/** One poll's current publication as this process serves it: bytes exactly as stored. */
export interface Publication {
  readonly version: string;
  /** The quoted ETag, made once. */
  readonly etag: string;
  readonly json: Buffer;
  /** The chart of the same version: undefined until a PNG is asked for, null when it has none. */
  readonly png: Buffer | null | undefined;
}

export interface ResultsCacheOptions {
  /** How often the versions of the cached polls are compared with Redis (missed announcements). */
  checkMs: number;
  /** Most polls kept; the least recently read goes first. */
  maxPolls: number;
  /** Most bytes of JSON and PNG kept, likewise. */
  maxBytes: number;
}

interface Load {
  promise: Promise<Publication | null>;
  withPng: boolean;
  /** Set when the fetch running may have read an older version (or no PNG): fetch once more. */
  again: boolean;
}

/** Versions per MGET of the staleness check: one round trip each, none of them huge. */
const CHECK_CHUNK = 1_000;

/**
 * The API's in-process copy of the current publications, so a read costs no Redis round
 * trip. It is a cache of Redis, not the truth: an announcement on the results channel
 * replaces an entry (one fetch per process, shared by every reader waiting), and every
 * `checkMs` one MGET per thousand cached polls compares the versions with Redis, so a
 * missed announcement (a subscriber reconnecting) or an emptied Redis is seen within
 * that interval. A check that cannot reach Redis empties the cache: reads then go to
 * Redis and answer 503 as they did, rather than serve a copy nobody can vouch for.
 */
export class ResultsCache {
  /** Map order is recency: a read moves its entry to the end, eviction takes the first. */
  readonly #entries = new Map<string, Publication>();
  readonly #loads = new Map<string, Load>();
  readonly #redis: RedisClient;
  readonly #binary;
  readonly #keyPrefix: string;
  readonly #options: ResultsCacheOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  /** JSON and PNG bytes of the entries kept. */
  #bytes = 0;
  #fetches = 0;
  #checking: Promise<void> | undefined;
  #failing = false;

  constructor(redis: RedisClient, keyPrefix: string, options: ResultsCacheOptions, logger: Logger) {
    this.#redis = redis;
    this.#binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.#keyPrefix = keyPrefix;
    this.#options = options;
    this.#logger = logger.child({ component: "results-cache" });
  }

  start(): void {
    void this.#checkLoop();
  }

  stop(): void {
    this.#abort.abort();
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Fetches from Redis so far (first reads, announcements, checks that found a change). */
  get fetches(): number {
    return this.#fetches;
  }

  /**
   * The publication in memory, if there is one and no fetch of a newer one is running:
   * the hot path, with no promise. Otherwise call `load`.
   */
  current(pollId: string): Publication | undefined {
    if (this.#loads.has(pollId)) return undefined;
    const entry = this.#entries.get(pollId);
    if (entry === undefined) return undefined;
    this.#entries.delete(pollId);
    this.#entries.set(pollId, entry);
    return entry;
  }

  /** The current publication, fetched if need be; null when the poll has none. Throws if Redis is unreachable. */
  async load(pollId: string): Promise<Publication | null> {
    return this.current(pollId) ?? this.#refresh(pollId, false);
  }

  /** As `load`, with the PNG of that same version read (null in `png`: the version has none yet). */
  async loadWithPng(pollId: string): Promise<Publication | null> {
    const entry = this.current(pollId);
    // A version without a chart (a failed render) gets it when a later run renders the
    // same version again: until then each PNG read asks Redis (a missing chart is never cached).
    if (entry?.png) return entry;
    return this.#refresh(pollId, true);
  }

  /** An announcement from the results channel: fetch the new version if this poll is kept. */
  announce(event: VersionEvent): void {
    const entry = this.#entries.get(event.pollId);
    const load = this.#loads.get(event.pollId);
    if (load) {
      load.again = true;
      return;
    }
    // The same version announced again with a chart rendered at last: fetched too.
    if (entry === undefined || (entry.version === event.version && entry.png !== null)) return;
    this.#refresh(event.pollId, entry.png !== undefined).catch(() => {
      // Redis unreachable: the entry stays until the check replaces or drops it.
    });
  }

  /** The poll was deleted here: its keys are gone. */
  forget(pollId: string): void {
    this.#drop(pollId);
  }

  /**
   * Compares every kept version with Redis now (also after the subscriber reconnects:
   * announcements may have been missed). Concurrent calls share one check.
   */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const ids = [...this.#entries.keys()];
    const refreshes: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < ids.length; i += CHECK_CHUNK) {
        const chunk = ids.slice(i, i + CHECK_CHUNK);
        const versions = await this.#redis.mGet(
          chunk.map((id) => resultsKeys(this.#keyPrefix, id).version),
        );
        chunk.forEach((id, n) => {
          const entry = this.#entries.get(id);
          if (entry === undefined || this.#loads.has(id)) return;
          const version = versions[n];
          if (version == null) this.#drop(id);
          else if (version !== entry.version)
            refreshes.push(this.#refresh(id, entry.png !== undefined));
        });
      }
      // Settled before the check ends: once it has, every read sees what Redis held.
      await Promise.all(refreshes);
      if (this.#failing) this.#logger.info("results cache check recovered");
      this.#failing = false;
    } catch (err) {
      if (!this.#failing)
        this.#logger.warn({ err }, "results cache check failed; dropping the cached results");
      this.#failing = true;
      await Promise.allSettled(refreshes);
      this.#entries.clear();
      this.#bytes = 0;
    }
  }

  async #checkLoop(): Promise<void> {
    const signal = this.#abort.signal;
    for (;;) {
      try {
        await sleep(this.#options.checkMs, undefined, { signal });
      } catch {
        return;
      }
      await this.check();
    }
  }

  /** One fetch per poll at a time; a caller arriving during one shares it. */
  #refresh(pollId: string, withPng: boolean): Promise<Publication | null> {
    const running = this.#loads.get(pollId);
    if (running) {
      if (withPng && !running.withPng) {
        running.withPng = true;
        running.again = true;
      }
      return running.promise;
    }
    const load: Load = { promise: Promise.resolve(null), withPng, again: false };
    load.promise = (async () => {
      try {
        let publication: Publication | null;
        do {
          load.again = false;
          publication = await this.#fetch(pollId, load.withPng);
        } while (load.again);
        return publication;
      } finally {
        this.#loads.delete(pollId);
      }
    })();
    this.#loads.set(pollId, load);
    return load.promise;
  }

  /** Version, JSON and (if asked) PNG in one MGET: one moment of Redis, so all of one version. */
  async #fetch(pollId: string, withPng: boolean): Promise<Publication | null> {
    const keys = resultsKeys(this.#keyPrefix, pollId);
    this.#fetches++;
    const [version, json, png] = await this.#binary.mGet(
      withPng ? [keys.version, keys.json, keys.png] : [keys.version, keys.json],
    );
    if (version == null || json == null) {
      this.#drop(pollId);
      return null;
    }
    const v = version.toString();
    const publication: Publication = {
      version: v,
      etag: `"${v}"`,
      json,
      png: withPng ? (png ?? null) : undefined,
    };
    this.#drop(pollId);
    this.#entries.set(pollId, publication);
    this.#bytes += sizeOf(publication);
    // The newest stays even alone above maxBytes: it is being served.
    while (
      this.#entries.size > this.#options.maxPolls ||
      (this.#bytes > this.#options.maxBytes && this.#entries.size > 1)
    ) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest);
    }
    return publication;
  }

  #drop(pollId: string): void {
    const entry = this.#entries.get(pollId);
    if (entry === undefined) return;
    this.#entries.delete(pollId);
    this.#bytes -= sizeOf(entry);
  }
}

const sizeOf = (p: Publication) => p.json.length + (p.png?.length ?? 0);
