import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { RESP_TYPES } from "redis";
import type { LocalDay } from "../../common/attendance/school-day.ts";
import {
  type AttendanceAnnouncement,
  attendanceDayKeys,
} from "../../common/attendance-contract.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import type { DayLayout } from "./day-splices.ts";

/** An answer made from a publication (a group's lists, with or without names), kept with it. */
export interface DayAnswer {
  readonly body: Buffer;
  readonly etag: string;
  /**
   * The same answer gzip'd, made at the first read that takes gzip (DayDocuments.gzipped),
   * or as the version is fetched when its predecessor was read gzip'd.
   */
  gzipped?: Promise<DayAnswer>;
  /** A read took it gzip'd: the next version's is made as that version is fetched. */
  readGzipped?: boolean;
  /** Its bytes once made (counted with the publication's). */
  gzippedBytes?: number;
}

/** What a kept answer holds in memory. */
const answerBytes = (a: DayAnswer) => a.body.length + (a.gzippedBytes ?? 0);

/** The gzip'd representation's ETag: another representation, another strong validator. */
export const gzipEtag = (etag: string) => `${etag.slice(0, -1)}-gz"`;

/** One school day's current publication as this process serves it. */
export interface DayPublication {
  readonly schoolId: string;
  readonly day: LocalDay;
  readonly version: string;
  /** The day document's bytes as stored. */
  readonly json: Buffer;
  /** The counts document's bytes as stored (same version). */
  readonly counts: Buffer;
  /** Answers made from it, by what they were made for: each made once per version. */
  readonly answers: Map<string, DayAnswer>;
  /** When this day's documents were last read here (carried from version to version). */
  readAtMs?: number;
  /** Where the document's parts lie (null: not as the publisher lays it out), found once. */
  layout?: DayLayout | null;
  /** The day document parsed, once, when an answer first needs it (layout null). */
  parsed?: unknown;
  parsedCounts?: unknown;
}

export interface DayDocumentsOptions {
  /** How often the kept versions are compared with Redis (RESULTS_CACHE_CHECK_MS). */
  checkMs: number;
  maxDocuments: number;
  maxBytes: number;
  /** ATTENDANCE_GZIP_MIN_BYTES: answers at least this large are offered gzip'd; 0 = never. */
  gzipMinBytes?: number;
  /**
   * ATTENDANCE_ANSWERS_WARM_MS: a new version's answers are made as it is fetched only while
   * its day was read within this long (default 60 s). A document read once stays kept for
   * long (LRU), and would otherwise cost a parse and its answers at each of its new versions
   * (every interval while its school is busy).
   */
  warmWhileReadMs?: number;
}

/** Answers kept per publication: the whole school, a few groups, with and without names. */
const MAX_ANSWERS = 16;
/** DayDocumentsOptions.warmWhileReadMs's default. */
const WARM_WHILE_READ_MS = 60_000;
/** Versions per MGET of the check. */
const CHECK_CHUNK = 1_000;

const keyOf = (schoolId: string, day: LocalDay) => `${schoolId}/${day}`;
const gzipAsync = promisify(gzip);

/**
 * The API's in-process copy of the schools' day documents, as ResultsCache is of the
 * results (ingest-api/results/results-cache.ts), so that a read costs no Redis round trip
 * and an answer (a group's lists, the names added) is made once per version, not once per
 * read: a 10,000-person document is 0.3-1.2 MB of JSON. An announcement on the attendance
 * channel replaces a kept document (one fetch, shared by the readers waiting); every
 * `checkMs` one MGET per thousand kept documents compares the versions with Redis, so a
 * missed announcement or an emptied Redis is seen within that; a check that cannot reach
 * Redis drops every copy (reads then answer 503 as Redis does).
 */
export class DayDocuments {
  /** Map order is recency: a read moves its entry to the end, eviction takes the first. */
  readonly #entries = new Map<string, DayPublication>();
  readonly #loads = new Map<string, { promise: Promise<DayPublication | null>; again: boolean }>();
  readonly #redis: RedisClient;
  readonly #binary;
  readonly #keyPrefix: string;
  readonly #options: DayDocumentsOptions;
  readonly #logger: Logger;
  readonly #abort = new AbortController();
  #bytes = 0;
  #fetches = 0;
  #checking: Promise<void> | undefined;
  #failing = false;
  #warm: ((next: DayPublication, keys: readonly string[]) => void) | undefined;

  constructor(redis: RedisClient, keyPrefix: string, options: DayDocumentsOptions, logger: Logger) {
    this.#redis = redis;
    this.#binary = redis.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    this.#keyPrefix = keyPrefix;
    this.#options = options;
    this.#logger = logger.child({ component: "attendance-documents" });
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

  /** Fetches from Redis so far. */
  get fetches(): number {
    return this.#fetches;
  }

  /** The publication in memory, unless a fetch of a newer one is running. */
  current(schoolId: string, day: LocalDay): DayPublication | undefined {
    const key = keyOf(schoolId, day);
    if (this.#loads.has(key)) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    entry.readAtMs = Date.now();
    return entry;
  }

  /** The current publication, fetched if need be; null when there is none. Throws if Redis is unreachable. */
  async load(schoolId: string, day: LocalDay): Promise<DayPublication | null> {
    const publication = this.current(schoolId, day) ?? (await this.#refresh(schoolId, day));
    if (publication !== null) publication.readAtMs = Date.now();
    return publication;
  }

  /**
   * Called with each fetched publication that replaces a kept one read within the last
   * minute, and the keys of the answers made from the one it replaces
   * (DayDocuments.remember), before the readers
   * waiting for the fetch get it: the routes make those answers again here, so that the
   * first read of a new version finds its answer made (spliced from the stored bytes,
   * day-splices.ts: ~1.5 ms for a 10,000-person document, on the read that needs it
   * otherwise).
   */
  onReplaced(warm: (next: DayPublication, keys: readonly string[]) => void): void {
    this.#warm = warm;
  }

  /** Keeps an answer made from a publication, while it is the one kept (its bytes count). */
  remember(publication: DayPublication, key: string, answer: DayAnswer): void {
    if (publication.answers.size >= MAX_ANSWERS) {
      for (const a of publication.answers.values()) this.#count(publication, -answerBytes(a));
      publication.answers.clear();
    }
    publication.answers.set(key, answer);
    this.#count(publication, answer.body.length);
    this.#evict();
  }

  /** An announcement from the attendance channel: fetch the new version if this day is kept. */
  announce(event: AttendanceAnnouncement): void {
    const key = keyOf(event.schoolId, event.day);
    const load = this.#loads.get(key);
    if (load) {
      load.again = true;
      return;
    }
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.version === event.version) return;
    this.#refresh(event.schoolId, event.day).catch(() => {
      // Redis unreachable: the entry stays until the check replaces or drops it.
    });
  }

  /** Compares every kept version with Redis now; concurrent calls share one check. */
  check(): Promise<void> {
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  async #check(): Promise<void> {
    const entries = [...this.#entries.values()];
    const refreshes: Promise<unknown>[] = [];
    try {
      for (let i = 0; i < entries.length; i += CHECK_CHUNK) {
        const chunk = entries.slice(i, i + CHECK_CHUNK);
        const versions = await this.#redis.mGet(
          chunk.map((e) => attendanceDayKeys(this.#keyPrefix, e.schoolId, e.day).version),
        );
        chunk.forEach((e, n) => {
          const key = keyOf(e.schoolId, e.day);
          if (this.#entries.get(key) !== e || this.#loads.has(key)) return;
          const version = versions[n];
          if (version == null) this.#drop(key);
          else if (version !== e.version) refreshes.push(this.#refresh(e.schoolId, e.day));
        });
      }
      await Promise.all(refreshes);
      if (this.#failing) this.#logger.info("attendance documents check recovered");
      this.#failing = false;
    } catch (err) {
      if (!this.#failing)
        this.#logger.warn({ err }, "attendance documents check failed; dropping the kept copies");
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

  /** One fetch per document at a time; a caller arriving during one shares it. */
  #refresh(schoolId: string, day: LocalDay): Promise<DayPublication | null> {
    const key = keyOf(schoolId, day);
    const running = this.#loads.get(key);
    if (running) return running.promise;
    const load = { promise: Promise.resolve<DayPublication | null>(null), again: false };
    load.promise = (async () => {
      try {
        let publication: DayPublication | null;
        do {
          load.again = false;
          publication = await this.#fetch(schoolId, day);
        } while (load.again);
        return publication;
      } finally {
        this.#loads.delete(key);
      }
    })();
    this.#loads.set(key, load);
    return load.promise;
  }

  /** Version, JSON and counts in one MGET: one moment of Redis, so all of one version. */
  async #fetch(schoolId: string, day: LocalDay): Promise<DayPublication | null> {
    const key = keyOf(schoolId, day);
    const keys = attendanceDayKeys(this.#keyPrefix, schoolId, day);
    this.#fetches++;
    const [version, json, counts] = await this.#binary.mGet([keys.version, keys.json, keys.counts]);
    const previous = this.#entries.get(key);
    this.#drop(key);
    if (version == null || json == null || counts == null) return null;
    const publication: DayPublication = {
      schoolId,
      day,
      version: version.toString(),
      json,
      counts,
      answers: new Map(),
    };
    if (previous?.readAtMs !== undefined) publication.readAtMs = previous.readAtMs;
    this.#entries.set(key, publication);
    this.#bytes += json.length + counts.length;
    this.#evict();
    const readLately =
      previous?.readAtMs !== undefined &&
      Date.now() - previous.readAtMs < (this.#options.warmWhileReadMs ?? WARM_WHILE_READ_MS);
    if (previous !== undefined && readLately && previous.answers.size > 0 && this.#warm) {
      try {
        this.#warm(publication, [...previous.answers.keys()]);
      } catch (err) {
        // The read that needs the answer makes it (and answers its error) as without this.
        this.#logger.warn({ err, schoolId, day }, "making a new version's answers failed");
      }
      this.#gzipAhead(previous, publication);
    }
    return publication;
  }

  /** Whether an answer of this size is offered gzip'd (ATTENDANCE_GZIP_MIN_BYTES). */
  gzips(answer: DayAnswer): boolean {
    const min = this.#options.gzipMinBytes ?? 0;
    return min > 0 && answer.body.length >= min;
  }

  /**
   * The answer gzip'd: compressed once (on libuv's thread pool, not the event loop: ~10 ms
   * for a 10,000-person document), shared by the reads waiting for it and kept with the
   * answer, its bytes counted while the answer is kept. A whole school's document is ~10×
   * smaller gzip'd; writing 1 MB to every reader's socket was the API's largest remaining
   * cost on the event loop at 10,000 people (BENCHMARKS.md, bench:attendance).
   */
  gzipped(publication: DayPublication, answer: DayAnswer): Promise<DayAnswer> {
    answer.readGzipped = true;
    return this.#gzip(publication, answer);
  }

  #gzip(publication: DayPublication, answer: DayAnswer): Promise<DayAnswer> {
    answer.gzipped ??= gzipAsync(answer.body).then((body) => {
      answer.gzippedBytes = body.length;
      if ([...publication.answers.values()].includes(answer)) {
        this.#count(publication, body.length);
        this.#evict();
      }
      return { body, etag: gzipEtag(answer.etag) };
    });
    // A failed gzip (out of memory: nothing else fails on a buffer) is not kept: the next
    // read tries again instead of answering 500 for the rest of the version.
    answer.gzipped.catch(() => {
      answer.gzipped = undefined;
    });
    return answer.gzipped;
  }

  /**
   * The new version's answers gzip'd now, on the thread pool, for those whose predecessor a
   * reader took gzip'd (a read, not this: a version nobody reads gzip'd stops the chain).
   * Else the first read of each version waits for its gzip (3-25 ms for a 10,000-person
   * document on the loaded 2-core machine), and at a new version every interval that is
   * one read of every few (BENCHMARKS.md, bench:attendance, 2026-12-07).
   */
  #gzipAhead(previous: DayPublication, next: DayPublication): void {
    for (const [key, old] of previous.answers) {
      const made = next.answers.get(key);
      if (!old.readGzipped || made === undefined || !this.gzips(made)) continue;
      // A failure is the read's to answer, as when the read starts the gzip itself.
      this.#gzip(next, made).catch(() => {});
    }
  }

  /** Bytes of an answer added to (or taken from) a kept publication. */
  #count(publication: DayPublication, bytes: number): void {
    if (this.#entries.get(keyOf(publication.schoolId, publication.day)) === publication)
      this.#bytes += bytes;
  }

  /** The least recently read go first; the newest stays even alone above maxBytes. */
  #evict(): void {
    while (
      this.#entries.size > this.#options.maxDocuments ||
      (this.#bytes > this.#options.maxBytes && this.#entries.size > 1)
    ) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#drop(oldest);
    }
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.json.length + entry.counts.length;
    for (const a of entry.answers.values()) this.#bytes -= answerBytes(a);
  }
}
