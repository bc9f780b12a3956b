import { hash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import type { Logger } from "../../common/logger.ts";
import { type ListenLiveness, newListenClient, watchListener } from "../../common/postgres.ts";
import { GroupMembers, type GroupMembersBuilder } from "./group-members.ts";
import { LookupKeySet } from "./lookup-key-set.ts";
import { type SchoolKeys, SchoolKeysReader } from "./school-keys-reader.ts";

/** The channel a write of people notifies, with the school id as payload (migration 052). */
const CHANNEL = "tallyflow_people";
/** More schools than this changed while a load ran (a bulk statement) are one full load instead. */
const MAX_SCHOOLS_PER_LOAD = 100;
/** A failed load is tried again (in full) this soon: the roster is followed within 1 s. */
const RETRY_MS = 1_000;

export interface KnownPeopleOptions {
  databaseUrl: string;
  /** The safety net's full reload interval (PEOPLE_REFRESH_MS). */
  refreshMs: number;
  /** A load not done within this is abandoned, its connection closed (PEOPLE_LOAD_TIMEOUT_MS). */
  loadTimeoutMs: number;
  logger: Logger;
  liveness: ListenLiveness;
}

/** The changes heard and not applied yet. */
interface Pending {
  full: boolean;
  schools: Set<string>;
}

/**
 * The active people of every school, as the lookup keys of migration 017 (the first 64 bits
 * of md5 of the normalised id), one LookupKeySet per school: what a `voters: "roster"`
 * poll's votes are checked against, never Postgres per vote. ~14 bytes a person
 * (`npm run bench:roster-memory`), against a Set of the id strings' ~100.
 *
 * It follows the roster as the registry cache follows the registry: a full load at start
 * (after LISTEN is in place, so nothing committed meanwhile is missed), then one school's
 * keys again for each NOTIFY naming it (a write sends one per school it touched: an
 * import of 10,000 rows is one reload), a full reload after the LISTEN
 * connection is re-opened (notifications may have been missed) and every `refreshMs` as
 * the safety net. Loads run one at a time, and the notifications heard during one are one
 * load after it, whatever their number. A school's set is replaced whole once its keys are
 * read; a full load swaps every school at once. While Postgres is down the last snapshot
 * keeps answering and `ageMs` grows.
 *
 * Keys are read with a binary COPY on a connection of its own (not the pool's: its query
 * timeout would fire on a COPY, which pg never completes as a query), parsed as they stream.
 */
/**
 * Between a school's id and a group's in the COPY's first column: neither may hold it (both
 * are ids of the pattern in common/vote.ts), so `school/group` names one group's members.
 */
const GROUP_SEPARATOR = "/";

export class KnownPeople {
  #schools = new Map<string, LookupKeySet>();
  /** Each school's groups: the active members of each, as slots of the school's keys. */
  #groups = new Map<string, GroupMembers>();
  #people = 0;
  #bytes = 0;
  readonly #loads = { full: 0, schools: 0 };
  #pending: Pending = { full: false, schools: new Set() };
  #applying: Promise<void> | undefined;
  /** Loads begun: a LISTEN connection opened before the first needs no catch-up load. */
  #loadsStarted = 0;
  #syncedAt = 0;
  #listening = false;
  #behind = false;
  #failing = false;
  #listener: pg.Client | undefined;
  #loader: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  /** Told of every change heard: a school's id, or null when any school may have changed. */
  readonly #changeListeners: ((schoolId: string | null) => void)[] = [];
  readonly #abort = new AbortController();
  readonly #options: KnownPeopleOptions;

  constructor(options: KnownPeopleOptions) {
    this.#options = options;
  }

  /** Listens, then loads every school's keys (throws if Postgres is unreachable), then keeps them fresh. */
  async start(): Promise<void> {
    const listening = Promise.withResolvers<void>();
    void this.#listenLoop(listening.resolve);
    await listening.promise;
    await this.reload();
    void this.#refreshLoop();
  }

  stop(): void {
    this.#abort.abort();
    clearTimeout(this.#retry);
    this.#listener?.end().catch(() => {});
    this.#loader?.end().catch(() => {});
  }

  /**
   * Whether `personId` (in the normal form of common/vote.ts, as a vote's voterId is after
   * its schema) is an active person of the school. One md5 and a probe or two: no BigInt,
   * no allocation but the digest.
   */
  has(schoolId: string, personId: string): boolean {
    const keys = this.#schools.get(schoolId);
    if (keys === undefined) return false;
    const digest = hash("md5", personId, "buffer");
    return keys.has(digest.readUInt32BE(0), digest.readUInt32BE(4));
  }

  /**
   * Whether `personId` is an active person of the school in this group (a lesson register's).
   * Held for schools with a register only (read again at a school's first: its create notifies, migration 052).
   */
  inGroup(schoolId: string, groupId: string, personId: string): boolean {
    const groups = this.#groups.get(schoolId);
    const keys = this.#schools.get(schoolId);
    if (groups === undefined || keys === undefined) return false;
    const digest = hash("md5", personId, "buffer");
    return groups.has(groupId, keys.slotOf(digest.readUInt32BE(0), digest.readUInt32BE(4)));
  }

  /**
   * A lesson register's voter in one look (one md5, where `has` then `inGroup` take two):
   * `unknown` (not an active person of the school), `not_in_group`, or `member`.
   */
  memberOf(
    schoolId: string,
    groupId: string,
    personId: string,
  ): "unknown" | "not_in_group" | "member" {
    const keys = this.#schools.get(schoolId);
    if (keys === undefined) return "unknown";
    const digest = hash("md5", personId, "buffer");
    const slot = keys.slotOf(digest.readUInt32BE(0), digest.readUInt32BE(4));
    if (slot < 0) return "unknown";
    return this.#groups.get(schoolId)?.has(groupId, slot) === true ? "member" : "not_in_group";
  }

  /** Whether the school's groups' members are held (it has a register, and people in groups). */
  holdsGroupsOf(schoolId: string): boolean {
    return this.#groups.has(schoolId);
  }

  /**
   * Hears what this set hears of the roster, for what else the API keeps of it (the names
   * the attendance documents show): a school's id for each notification naming it, null
   * whenever notifications may have been missed (the LISTEN connection opened again).
   */
  onChange(listener: (schoolId: string | null) => void): void {
    this.#changeListeners.push(listener);
  }

  #changed(schoolId: string | null): void {
    for (const listener of this.#changeListeners) listener(schoolId);
  }

  /** Active people held, every school together. */
  get people(): number {
    return this.#people;
  }

  /** Bytes of the schools' key tables. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Loads done: full ones, and those of the schools named by notifications. */
  get loads(): Readonly<{ full: number; schools: number }> {
    return this.#loads;
  }

  /** Schools with at least one active person. */
  get schools(): number {
    return this.#schools.size;
  }

  /**
   * How far behind Postgres the set may be: 0 while LISTENing with every change applied,
   * otherwise the time since it was last known to match.
   */
  get ageMs(): number {
    return this.#listening && !this.#behind ? 0 : Date.now() - this.#syncedAt;
  }

  /** Loads every school again; resolves once applied (with any change heard meanwhile). */
  reload(): Promise<void> {
    this.#pending.full = true;
    return this.#apply();
  }

  /** Loads one school's keys again (none active: the school is dropped). */
  reloadSchool(schoolId: string): Promise<void> {
    this.#pending.schools.add(schoolId);
    return this.#apply();
  }

  /**
   * One load at a time: what is heard during a load waits for it, and is then one load
   * (a full one if any was asked, or one per school named), whose COPY starts after the
   * changes' commits (NOTIFY is delivered after them): nothing older replaces anything newer.
   */
  #apply(): Promise<void> {
    this.#applying ??= (async () => {
      try {
        while (this.#pending.full || this.#pending.schools.size > 0) {
          const work = this.#pending;
          this.#pending = { full: false, schools: new Set() };
          try {
            if (work.full || work.schools.size > MAX_SCHOOLS_PER_LOAD) await this.#loadAll();
            else await this.#loadSchools([...work.schools]);
          } catch (err) {
            // Owed as a full reload: soon, not at the safety net's next tick, as the LISTEN
            // connection may be fine and hear nothing that would ask for it.
            this.#pending.full = true;
            this.#behind = true;
            this.#scheduleRetry();
            throw err;
          }
          this.#syncedAt = Date.now();
          this.#behind = false;
        }
      } finally {
        this.#applying = undefined;
      }
    })();
    return this.#applying;
  }

  async #loadAll(): Promise<void> {
    const load = new Load();
    await this.#copy(undefined, (name, pairs, count) => load.keep(name, pairs, count));
    const { schools, groups } = load.done();
    this.#schools = schools;
    this.#groups = groups;
    this.#loads.full++;
    this.#recount();
  }

  /** The schools named, in one COPY; a school without active people is dropped. */
  async #loadSchools(schoolIds: string[]): Promise<void> {
    const load = new Load();
    await this.#copy(schoolIds, (name, pairs, count) => load.keep(name, pairs, count));
    const { schools: loaded, groups } = load.done();
    for (const id of schoolIds) {
      const keys = loaded.get(id);
      if (keys === undefined) this.#schools.delete(id);
      else this.#schools.set(id, keys);
      const members = groups.get(id);
      if (members === undefined) this.#groups.delete(id);
      else this.#groups.set(id, members);
    }
    this.#loads.schools++;
    this.#recount();
  }

  #recount(): void {
    let people = 0;
    let bytes = 0;
    for (const keys of this.#schools.values()) {
      people += keys.size;
      bytes += keys.bytes;
    }
    for (const groups of this.#groups.values()) bytes += groups.bytes;
    this.#people = people;
    this.#bytes = bytes;
  }

  /** Streams the active people's keys of these schools (undefined: of every school). */
  async #copy(schoolIds: string[] | undefined, onSchool: SchoolKeys): Promise<void> {
    this.#loadsStarted++;
    const { databaseUrl, liveness, loadTimeoutMs } = this.#options;
    const client = newListenClient(databaseUrl, "ingest-api-people", liveness);
    this.#loader = client;
    // A peer gone silent would hold the load, and every load after it, for ever.
    const deadline = setTimeout(() => client.end().catch(() => {}), loadTimeoutMs);
    try {
      client.on("error", () => {}); // the COPY fails with it
      await client.connect();
      const where =
        schoolIds === undefined
          ? "active"
          : `active and school_id in (${schoolIds.map((id) => client.escapeLiteral(id)).join(", ")})`;
      const reader = new SchoolKeysReader(onSchool);
      // Each school's keys, then each of its groups' under `school/group` (schools with a
      // lesson register only: a school's first is notified, migration 052): one stream, the
      // reader unchanged (it wants each name's rows together, which the order gives).
      const stream = client.query(
        copyTo(
          `copy (select school_id as name, lookup_key from people where ${where}
                 union all
                 select school_id || '${GROUP_SEPARATOR}' || g, lookup_key
                 from people, unnest(groups) g where ${where}
                   and school_id in (select school_id from polls where kind = 'register')
                 order by 1) to stdout (format binary)`,
        ),
      );
      for await (const chunk of stream) reader.push(chunk as Buffer);
      reader.end();
    } finally {
      clearTimeout(deadline);
      if (this.#loader === client) this.#loader = undefined;
      await client.end().catch(() => {});
    }
  }

  #scheduleRetry(): void {
    if (this.#retry !== undefined || this.#abort.signal.aborted) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      this.reload().then(
        () => this.#succeeded(),
        (err) => this.#failed(err),
      );
    }, RETRY_MS);
  }

  #succeeded(): void {
    if (this.#failing) this.#options.logger.info("known people reload recovered");
    this.#failing = false;
  }

  /** Logged once per outage: the last snapshot keeps answering meanwhile. */
  #failed(err: unknown): void {
    if (this.#abort.signal.aborted) return;
    if (!this.#failing)
      this.#options.logger.warn({ err }, "known people reload failed; serving the last snapshot");
    this.#failing = true;
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#abort.signal;
    const { refreshMs } = this.#options;
    while (!signal.aborted) {
      try {
        await sleep(refreshMs, undefined, { signal });
      } catch {
        return;
      }
      await this.reload().then(
        () => this.#succeeded(),
        (err) => this.#failed(err),
      );
    }
  }

  /** One dedicated connection LISTENs; re-opened after any error, or once it goes silent. */
  async #listenLoop(firstAttempt: () => void): Promise<void> {
    const signal = this.#abort.signal;
    const { databaseUrl, liveness, logger } = this.#options;
    while (!signal.aborted) {
      const client = newListenClient(databaseUrl, "ingest-api-people-listen", liveness);
      this.#listener = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.on("error", () => resolve());
          client.on("end", () => resolve());
        });
        await client.connect();
        client.on("notification", (message) => {
          const schoolId = message.payload ?? "";
          this.#changed(schoolId === "" ? null : schoolId);
          // The refresh loop reports failures.
          (schoolId === "" ? this.reload() : this.reloadSchool(schoolId)).catch(() => {});
        });
        await client.query(`listen ${CHANNEL}`);
        watchListener(client, liveness, logger);
        this.#listening = true;
        // Changes made while nobody listened: catch up once (not before the first load,
        // which starts after this and so reads them).
        if (this.#loadsStarted > 0) this.reload().catch(() => {});
        this.#changed(null);
        firstAttempt();
        await ended;
      } catch {
        // Postgres unreachable: retried below; start's load or the refresh loop reports it.
      }
      firstAttempt();
      if (this.#listening && !this.#behind) this.#syncedAt = Date.now();
      this.#listening = false;
      this.#behind = true;
      await client.end().catch(() => {});
      try {
        await sleep(1_000, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}

/**
 * What one COPY builds: each school's keys, and each of its groups' members as slots of
 * those keys (`school/group` rows come after the school's own: `order by 1`; a group read
 * before its school, were the order ever otherwise, waits for the COPY's end).
 */
class Load {
  readonly schools = new Map<string, LookupKeySet>();
  readonly #builders = new Map<string, GroupMembersBuilder>();
  readonly #early: { schoolId: string; groupId: string; pairs: Uint32Array }[] = [];

  keep(name: string, pairs: Uint32Array, count: number): void {
    const at = name.indexOf(GROUP_SEPARATOR);
    if (at < 0) {
      this.schools.set(name, LookupKeySet.fromPairs(pairs, count));
      return;
    }
    const schoolId = name.slice(0, at);
    const groupId = name.slice(at + 1);
    if (this.schools.has(schoolId)) this.#group(schoolId, groupId, pairs, count);
    else this.#early.push({ schoolId, groupId, pairs: pairs.slice(0, 2 * count) });
  }

  #group(schoolId: string, groupId: string, pairs: Uint32Array, count: number): void {
    const keys = this.schools.get(schoolId);
    if (keys === undefined) return; // no active person: no member either
    let builder = this.#builders.get(schoolId);
    if (builder === undefined) {
      builder = GroupMembers.builder(keys);
      this.#builders.set(schoolId, builder);
    }
    builder.add(groupId, pairs, count);
  }

  done(): { schools: Map<string, LookupKeySet>; groups: Map<string, GroupMembers> } {
    for (const e of this.#early) this.#group(e.schoolId, e.groupId, e.pairs, e.pairs.length / 2);
    const groups = new Map<string, GroupMembers>();
    for (const [schoolId, builder] of this.#builders) groups.set(schoolId, builder.build());
    return { schools: this.schools, groups };
  }
}
