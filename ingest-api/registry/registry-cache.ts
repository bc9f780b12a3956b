import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Logger } from "../../common/logger.ts";
import {
  type ListenLiveness,
  newListenClient,
  type Pool,
  watchListener,
} from "../../common/postgres.ts";
import type { School } from "../../common/registry-types.ts";
import { loadTeacherCredentials, type TeacherCredential } from "../registers/teacher-store.ts";
import {
  loadSchoolAdminCredentials,
  loadSchools,
  type SchoolAdminCredential,
} from "../schools/school-store.ts";
import { RegisterIndex } from "./register-index.ts";
import {
  type KioskCredential,
  loadKioskCredentials,
  loadRegistry,
  loadRegistryPolls,
  type RegistryPoll,
} from "./registry-store.ts";

export interface CachedPoll extends RegistryPoll {
  optionIds: ReadonlySet<string>;
  /** The row's creation: a publication older than it is of an earlier poll under this id. */
  createdAtMs: number;
  opensAtMs: number | null;
  closesAtMs: number | null;
}

function cachedPoll(p: RegistryPoll): CachedPoll {
  return {
    ...p,
    optionIds: new Set(p.options.map((o) => o.id)),
    createdAtMs: Date.parse(p.createdAt),
    opensAtMs: p.opensAt === null ? null : Date.parse(p.opensAt),
    closesAtMs: p.closesAt === null ? null : Date.parse(p.closesAt),
  };
}

export interface CachedKiosk {
  id: string;
  /** The kiosk votes only in its school's polls. */
  schoolId: string;
  name: string;
  revoked: boolean;
  /** The polls this kiosk may vote in (kiosks.poll_ids, migration 012); null = any poll. */
  pollIds: ReadonlySet<string> | null;
}

/** A burst of more row changes than this (a bulk UPDATE) is one full reload instead. */
const MAX_ROWS_PER_LOAD = 500;

/** A school admin's credential as the cache holds it: who it is, and for which school. */
export interface CachedSchoolAdmin {
  id: string;
  schoolId: string;
}

/** The changes heard and not applied yet. */
interface Pending {
  full: boolean;
  polls: Set<string>;
  kiosks: Set<string>;
  schools: Set<string>;
  admins: Set<string>;
  teachers: Set<string>;
}

const nothingPending = (): Pending => ({
  full: false,
  polls: new Set(),
  kiosks: new Set(),
  schools: new Set(),
  admins: new Set(),
  teachers: new Set(),
});

const pendingRows = (p: Pending) =>
  p.polls.size + p.kiosks.size + p.schools.size + p.admins.size + p.teachers.size;

/**
 * The ingest path never queries Postgres per vote: it reads this in-memory copy of the
 * registry. A change is seen within milliseconds through LISTEN/NOTIFY, whose payload
 * names the row (`polls:<id>`, `poll_options:<pollId>`, `kiosks:<id>`, `schools:<id>`; sent
 * by each write's transaction: registry-changes.ts, migration 052): only that poll (with
 * its options) or that kiosk is read again. A full reload runs at
 * start, after the LISTEN connection is re-opened (notifications may have been missed),
 * for a payload naming a table alone, and every `refreshMs` as the safety net. While
 * Postgres is down the last snapshot keeps serving (votes still flow to NATS) and `ageMs`
 * grows. `version` counts the changes applied, for what is built from the registry.
 */
export class RegistryCache {
  #polls = new Map<string, CachedPoll>();
  /** The lesson registers among #polls by school and start day (`registersStarting`). */
  readonly #registers = new RegisterIndex<CachedPoll>();
  /** By token hash (hex): what a vote's credential is looked up by. */
  #kiosks = new Map<string, CachedKiosk>();
  /** Kiosk id to its token hash, to replace or drop one kiosk. */
  #kioskHashes = new Map<string, string>();
  #schools = new Map<string, School>();
  /** School admins by token hash (hex), and their id to that hash. */
  #admins = new Map<string, CachedSchoolAdmin>();
  #adminHashes = new Map<string, string>();
  /** Teachers (lesson registers, migration 026) by token hash (hex), and their id to that hash. */
  #teachers = new Map<string, CachedSchoolAdmin>();
  #teacherHashes = new Map<string, string>();
  #version = 0;
  /** When the copy was last known to match Postgres. */
  #syncedAt = 0;
  /** LISTENing: every change since the last load reaches us as it commits. */
  #listening = false;
  /** A load failed: the copy may miss changes until a full reload succeeds. */
  #behind = false;
  #pending = nothingPending();
  #applying: Promise<void> | undefined;
  #listener: pg.Client | undefined;
  readonly #abort = new AbortController();
  readonly #pool: Pool;
  readonly #databaseUrl: string;
  readonly #refreshMs: number;
  readonly #logger: Logger;
  readonly #liveness: ListenLiveness;
  #failing = false;

  constructor(
    pool: Pool,
    databaseUrl: string,
    refreshMs: number,
    logger: Logger,
    liveness: ListenLiveness,
  ) {
    this.#pool = pool;
    this.#databaseUrl = databaseUrl;
    this.#refreshMs = refreshMs;
    this.#logger = logger;
    this.#liveness = liveness;
  }

  /** Loads once (throws if Postgres is unreachable), then keeps itself fresh. */
  async start(): Promise<void> {
    await this.reload();
    void this.#listenLoop();
    void this.#refreshLoop();
  }

  stop(): void {
    this.#abort.abort();
    this.#listener?.end().catch(() => {});
  }

  poll(id: string): CachedPoll | undefined {
    return this.#polls.get(id);
  }

  /** Every poll of the current snapshot (archived ones too). */
  polls(): IterableIterator<CachedPoll> {
    return this.#polls.values();
  }

  /** A school's lesson registers starting in [fromMs, toMs) (archived ones too), from an index. */
  registersStarting(schoolId: string, fromMs: number, toMs: number): Iterable<CachedPoll> {
    return this.#registers.starting(schoolId, fromMs, toMs);
  }

  kioskByTokenHash(hashHex: string): CachedKiosk | undefined {
    return this.#kiosks.get(hashHex);
  }

  schoolAdminByTokenHash(hashHex: string): CachedSchoolAdmin | undefined {
    return this.#admins.get(hashHex);
  }

  teacherByTokenHash(hashHex: string): CachedSchoolAdmin | undefined {
    return this.#teachers.get(hashHex);
  }

  school(id: string): School | undefined {
    return this.#schools.get(id);
  }

  /** Bumped by every change applied: what is built from the registry is built again. */
  get version(): number {
    return this.#version;
  }

  /**
   * How far behind Postgres the copy may be: 0 while LISTENing with every change applied
   * (the periodic reload is only a safety net, its interval says nothing of staleness),
   * otherwise the time since it was last known to match.
   */
  get ageMs(): number {
    return this.#listening && !this.#behind ? 0 : Date.now() - this.#syncedAt;
  }

  /** Reloads everything; resolves once applied (with any change heard meanwhile). */
  reload(): Promise<void> {
    this.#pending.full = true;
    return this.#apply();
  }

  /** Reads one poll and its options again (gone from Postgres: dropped). */
  refreshPoll(id: string): Promise<void> {
    this.#pending.polls.add(id);
    return this.#apply();
  }

  /** Reads one kiosk again (gone: dropped, its token refused). */
  refreshKiosk(id: string): Promise<void> {
    this.#pending.kiosks.add(id);
    return this.#apply();
  }

  /** Reads one school again (gone: dropped). */
  refreshSchool(id: string): Promise<void> {
    this.#pending.schools.add(id);
    return this.#apply();
  }

  /** Reads one school admin again (gone, i.e. revoked: its token refused). */
  refreshSchoolAdmin(id: string): Promise<void> {
    this.#pending.admins.add(id);
    return this.#apply();
  }

  /** Reads one teacher again (gone, i.e. revoked: its token refused). */
  refreshTeacher(id: string): Promise<void> {
    this.#pending.teachers.add(id);
    return this.#apply();
  }

  /** A NOTIFY payload (registry-changes.ts; 010's format); anything else is a full reload. */
  #heard(payload: string | undefined): Promise<void> {
    const colon = payload?.indexOf(":") ?? -1;
    const table = colon < 0 ? undefined : payload!.slice(0, colon);
    const id = colon < 0 ? "" : payload!.slice(colon + 1);
    if (id !== "" && (table === "polls" || table === "poll_options")) return this.refreshPoll(id);
    if (id !== "" && table === "kiosks") return this.refreshKiosk(id);
    if (id !== "" && table === "schools") return this.refreshSchool(id);
    if (id !== "" && table === "school_admins") return this.refreshSchoolAdmin(id);
    if (id !== "" && table === "school_teachers") return this.refreshTeacher(id);
    return this.reload();
  }

  /**
   * One load at a time, in the order heard: a change heard during a load is applied by
   * the next one, whose query starts after the change's commit (NOTIFY is delivered after
   * it), so nothing is applied from an older snapshot than one already applied.
   */
  #apply(): Promise<void> {
    this.#applying ??= (async () => {
      try {
        while (this.#pending.full || pendingRows(this.#pending) > 0) {
          const work = this.#pending;
          this.#pending = nothingPending();
          try {
            if (work.full || pendingRows(work) > MAX_ROWS_PER_LOAD) await this.#loadAll();
            else await this.#loadRows(work);
          } catch (err) {
            // What failed is owed as a full reload, at the next change or safety-net tick.
            this.#pending.full = true;
            this.#behind = true;
            throw err;
          }
          this.#version++;
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
    // Everything is read before anything is replaced: a map emptied before an await (the
    // teachers' were, for the length of their query) refuses every token it held to the
    // requests that arrive meanwhile (a national morning's teachers got 401 at a reload).
    const [snapshot, teacherCredentials] = await Promise.all([
      loadRegistry(this.#pool),
      loadTeacherCredentials(this.#pool),
    ]);
    const polls = new Map<string, CachedPoll>();
    for (const p of snapshot.polls) polls.set(p.id, cachedPoll(p));
    this.#registers.clear();
    for (const p of polls.values()) this.#registers.add(p);
    const kiosks = new Map<string, CachedKiosk>();
    const hashes = new Map<string, string>();
    for (const k of snapshot.kiosks) {
      const hash = k.tokenHash.toString("hex");
      kiosks.set(hash, cachedKiosk(k));
      hashes.set(k.id, hash);
    }
    this.#polls = polls;
    this.#kiosks = kiosks;
    this.#kioskHashes = hashes;
    this.#schools = new Map(snapshot.schools.map((school) => [school.id, school]));
    const admins = new Map<string, CachedSchoolAdmin>();
    const adminHashes = new Map<string, string>();
    for (const a of snapshot.schoolAdmins) {
      const hash = a.tokenHash.toString("hex");
      admins.set(hash, { id: a.id, schoolId: a.schoolId });
      adminHashes.set(a.id, hash);
    }
    this.#admins = admins;
    this.#adminHashes = adminHashes;
    const teachers = new Map<string, CachedSchoolAdmin>();
    const teacherHashes = new Map<string, string>();
    applyCredentials(teachers, teacherHashes, [], teacherCredentials);
    this.#teachers = teachers;
    this.#teacherHashes = teacherHashes;
  }

  async #loadRows(work: Pending): Promise<void> {
    const pollIds = [...work.polls];
    const kioskIds = [...work.kiosks];
    const schoolIds = [...work.schools];
    const adminIds = [...work.admins];
    const teacherIds = [...work.teachers];
    const [polls, kiosks, schools, admins, teachers] = await Promise.all([
      pollIds.length > 0 ? loadRegistryPolls(this.#pool, pollIds) : [],
      kioskIds.length > 0 ? loadKioskCredentials(this.#pool, kioskIds) : [],
      schoolIds.length > 0 ? loadSchools(this.#pool, schoolIds) : [],
      adminIds.length > 0 ? loadSchoolAdminCredentials(this.#pool, adminIds) : [],
      teacherIds.length > 0 ? loadTeacherCredentials(this.#pool, teacherIds) : [],
    ]);
    applyCredentials(this.#teachers, this.#teacherHashes, teacherIds, teachers);
    for (const id of schoolIds) this.#schools.delete(id);
    for (const school of schools) this.#schools.set(school.id, school);
    this.#applyAdmins(adminIds, admins);
    for (const id of pollIds) {
      const old = this.#polls.get(id);
      if (old !== undefined) this.#registers.remove(old);
      this.#polls.delete(id);
    }
    for (const p of polls) {
      const cached = cachedPoll(p);
      this.#polls.set(p.id, cached);
      this.#registers.add(cached);
    }
    for (const id of kioskIds) {
      const hash = this.#kioskHashes.get(id);
      if (hash !== undefined) this.#kiosks.delete(hash);
      this.#kioskHashes.delete(id);
    }
    for (const k of kiosks) {
      const hash = k.tokenHash.toString("hex");
      this.#kiosks.set(hash, cachedKiosk(k));
      this.#kioskHashes.set(k.id, hash);
    }
  }

  #applyAdmins(ids: readonly string[], admins: readonly SchoolAdminCredential[]): void {
    for (const id of ids) {
      const hash = this.#adminHashes.get(id);
      if (hash !== undefined) this.#admins.delete(hash);
      this.#adminHashes.delete(id);
    }
    for (const a of admins) {
      const hash = a.tokenHash.toString("hex");
      this.#admins.set(hash, { id: a.id, schoolId: a.schoolId });
      this.#adminHashes.set(a.id, hash);
    }
  }

  async #refreshLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.#refreshMs, undefined, { signal });
      } catch {
        return;
      }
      try {
        await this.reload();
        if (this.#failing) this.#logger.info("registry reload recovered");
        this.#failing = false;
      } catch (err) {
        if (!this.#failing)
          this.#logger.warn({ err }, "registry reload failed; serving the last snapshot");
        this.#failing = true;
      }
    }
  }

  /** One dedicated connection LISTENs; it is re-opened after any error, or once it goes silent. */
  async #listenLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const client = newListenClient(this.#databaseUrl, "ingest-api-registry", this.#liveness);
      this.#listener = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.on("error", () => resolve());
          client.on("end", () => resolve());
        });
        await client.connect();
        client.on("notification", (message) => {
          this.#heard(message.payload).catch(() => {}); // the refresh loop reports failures
        });
        await client.query("listen tallyflow_registry");
        watchListener(client, this.#liveness, this.#logger);
        this.#listening = true;
        // Changes made while we were not listening: catch up once.
        await this.reload().catch(() => {});
        await ended;
      } catch {
        // Postgres unreachable: retry below; the refresh loop logs the outage.
      }
      if (this.#listening && !this.#behind) this.#syncedAt = Date.now();
      this.#listening = false;
      // Changes from now on are not heard: behind until a load succeeds (the catch-up one
      // of the next connection, or the safety net's).
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

/** A kiosk as the cache holds it, from a full load or a per-row one alike. */
function cachedKiosk(k: KioskCredential): CachedKiosk {
  return {
    id: k.id,
    schoolId: k.schoolId,
    name: k.name,
    revoked: k.revokedAt !== null,
    pollIds: k.pollIds === null ? null : new Set(k.pollIds),
  };
}

/** Drops the credentials of `ids`, then adds those loaded (a school admin's or a teacher's). */
function applyCredentials(
  byHash: Map<string, CachedSchoolAdmin>,
  hashes: Map<string, string>,
  ids: readonly string[],
  loaded: readonly TeacherCredential[],
): void {
  for (const id of ids) {
    const hash = hashes.get(id);
    if (hash !== undefined) byHash.delete(hash);
    hashes.delete(id);
  }
  for (const c of loaded) {
    const hash = c.tokenHash.toString("hex");
    byHash.set(hash, { id: c.id, schoolId: c.schoolId });
    hashes.set(c.id, hash);
  }
}
