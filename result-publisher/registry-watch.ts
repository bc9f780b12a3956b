import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { Logger } from "../common/logger.ts";
import { type ListenLiveness, newListenClient, watchListener } from "../common/postgres.ts";

/** Channel of the registry's change notifications (sent by each write: migration 052). */
const REGISTRY_CHANNEL = "tallyflow_registry";
/** Pause before listening again after the connection failed. */
const RECONNECT_DELAY_MS = 1_000;
/**
 * A full registry read at least this often even with no notification: a safety net for a
 * notification lost in a way nobody saw (there is none known), cheap at this rate.
 */
const RESYNC_INTERVAL_MS = 300_000;

/**
 * Tells the publisher when its in-memory registry may be stale, so that an idle run reads
 * no registry rows at all: a LISTEN on the registry's notification channel marks it stale, and
 * so does any moment without a working LISTEN (start, an error, a reconnect, a connection
 * that stopped answering its check), and the resync interval. takeStale() is called before a run's snapshot is taken: a change whose
 * notification arrives after that call is read by the next run at the latest.
 */
export class RegistryWatch {
  #stale = true;
  #listening = false;
  #lastFullMs = 0;
  #client: pg.Client | undefined;
  readonly #stop = new AbortController();
  readonly #loop: Promise<void>;
  readonly #databaseUrl: string;
  readonly #logger: Logger;
  readonly #liveness: ListenLiveness;

  constructor(databaseUrl: string, logger: Logger, liveness: ListenLiveness) {
    this.#databaseUrl = databaseUrl;
    this.#logger = logger;
    this.#liveness = liveness;
    this.#loop = this.#listenLoop();
  }

  /** Marks the registry stale (after losing leadership, say). */
  markStale(): void {
    this.#stale = true;
  }

  /** Whether the next run must read the whole registry; clears the mark. */
  takeStale(nowMs = Date.now()): boolean {
    const stale = this.#stale || !this.#listening || nowMs - this.#lastFullMs >= RESYNC_INTERVAL_MS;
    this.#stale = false;
    if (stale) this.#lastFullMs = nowMs;
    return stale;
  }

  async #listenLoop(): Promise<void> {
    const signal = this.#stop.signal;
    let failing = false;
    while (!signal.aborted) {
      const client = newListenClient(
        this.#databaseUrl,
        "result-publisher-registry",
        this.#liveness,
      );
      this.#client = client;
      try {
        const ended = new Promise<void>((resolve) => {
          client.on("error", () => resolve());
          client.on("end", () => resolve());
        });
        await client.connect();
        // The payload is `<table>:<key>` (or the table alone); kiosks are no part of any
        // publication, so a kiosk's change (a pairing, a token rotated) costs no registry read.
        client.on("notification", (msg) => {
          if (msg.payload?.split(":", 1)[0] !== "kiosks") this.#stale = true;
        });
        await client.query(`listen ${REGISTRY_CHANNEL}`);
        // A connection gone silent hears nothing and reports nothing: checked, and ended.
        watchListener(client, this.#liveness, this.#logger);
        // Changes made while nobody listened: the next run reads everything.
        this.#stale = true;
        this.#listening = true;
        if (failing) this.#logger.info("registry notifications restored");
        failing = false;
        await ended;
      } catch (err) {
        if (!failing && !signal.aborted)
          this.#logger.warn({ err }, "registry LISTEN failed; every run reads the whole registry");
        failing = true;
      }
      this.#listening = false;
      this.#stale = true;
      await client.end().catch(() => {});
      await sleep(RECONNECT_DELAY_MS, undefined, { signal }).catch(() => {});
    }
  }

  async close(): Promise<void> {
    this.#stop.abort();
    await this.#client?.end().catch(() => {});
    await this.#loop;
  }
}
