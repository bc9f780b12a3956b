import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { loadRegistry, type RegistryPoll } from "./registry-store.ts";

export interface CachedPoll extends RegistryPoll {
  optionIds: ReadonlySet<string>;
  opensAtMs: number | null;
  closesAtMs: number | null;
}

export interface CachedKiosk {
  id: string;
  name: string;
  revoked: boolean;
  /** The polls this kiosk may vote in (kiosks.poll_ids, migration 012); null = any poll. */
  pollIds: ReadonlySet<string> | null;
}

/**
 * The ingest path never queries Postgres per vote: it reads this in-memory copy of the
 * registry. A change is seen within milliseconds through LISTEN/NOTIFY, and a full reload
 * every `refreshMs` bounds staleness if a notification is ever missed. While Postgres is
 * down the last snapshot keeps serving (votes still flow to NATS) and `ageMs` grows.
 */
export class RegistryCache {
  #polls = new Map<string, CachedPoll>();
  #kiosks = new Map<string, CachedKiosk>();
  #loadedAt = 0;
  #reloading: Promise<void> | undefined;
  #reloadAgain = false;
  #listener: pg.Client | undefined;
  readonly #abort = new AbortController();
  readonly #pool: Pool;
  readonly #databaseUrl: string;
  readonly #refreshMs: number;
  readonly #logger: Logger;
  #failing = false;

  constructor(pool: Pool, databaseUrl: string, refreshMs: number, logger: Logger) {
    this.#pool = pool;
    this.#databaseUrl = databaseUrl;
    this.#refreshMs = refreshMs;
    this.#logger = logger;
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

  kioskByTokenHash(hashHex: string): CachedKiosk | undefined {
    return this.#kiosks.get(hashHex);
  }

  get ageMs(): number {
    return Date.now() - this.#loadedAt;
  }

  /** Reloads now; concurrent callers share one reload, and a call during one queues another. */
  async reload(): Promise<void> {
    if (this.#reloading) {
      this.#reloadAgain = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      try {
        do {
          this.#reloadAgain = false;
          await this.#load();
        } while (this.#reloadAgain);
      } finally {
        this.#reloading = undefined;
      }
    })();
    return this.#reloading;
  }

  async #load(): Promise<void> {
    const snapshot = await loadRegistry(this.#pool);
    const polls = new Map<string, CachedPoll>();
    for (const p of snapshot.polls) {
      polls.set(p.id, {
        ...p,
        optionIds: new Set(p.options.map((o) => o.id)),
        opensAtMs: p.opensAt === null ? null : Date.parse(p.opensAt),
        closesAtMs: p.closesAt === null ? null : Date.parse(p.closesAt),
      });
    }
    const kiosks = new Map<string, CachedKiosk>();
    for (const k of snapshot.kiosks) {
      kiosks.set(k.tokenHash.toString("hex"), {
        id: k.id,
        name: k.name,
        revoked: k.revokedAt !== null,
        pollIds: k.pollIds === null ? null : new Set(k.pollIds),
      });
    }
    this.#polls = polls;
    this.#kiosks = kiosks;
    this.#loadedAt = Date.now();
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

  /** One dedicated connection LISTENs; it is re-opened after any error. */
  async #listenLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      const client = new pg.Client({ connectionString: this.#databaseUrl });
      this.#listener = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.on("error", () => resolve());
          client.on("end", () => resolve());
        });
        await client.connect();
        client.on("notification", () => {
          this.reload().catch(() => {}); // the refresh loop reports persistent failures
        });
        await client.query("listen tallyflow_registry");
        // Changes made while we were not listening: catch up once.
        await this.reload().catch(() => {});
        await ended;
      } catch {
        // Postgres unreachable: retry below; the refresh loop logs the outage.
      }
      await client.end().catch(() => {});
      try {
        await sleep(1_000, undefined, { signal });
      } catch {
        return;
      }
    }
  }
}
