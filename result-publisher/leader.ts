import pg from "pg";
import type { Logger } from "../common/logger.ts";

// Any fixed number; every publisher of one database uses the same.
const PUBLISHER_LOCK_KEY = 7_316_504_222;

/**
 * Exactly one active publisher per database: the one holding a session-level advisory
 * lock on its own connection. When that process dies, Postgres ends its session and
 * frees the lock; a standby takes it at its next tick (within one interval). A leader
 * that loses its connection stops publishing at once.
 */
export class Leadership {
  #client: pg.Client | undefined;
  #leader = false;
  readonly #databaseUrl: string;
  readonly #logger: Logger;
  readonly #id = `${process.pid}`;

  constructor(databaseUrl: string, logger: Logger) {
    this.#databaseUrl = databaseUrl;
    this.#logger = logger;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Tries to become (or checks it still is) the leader. */
  async acquire(): Promise<boolean> {
    if (this.#leader) return true;
    try {
      if (!this.#client) {
        const client = new pg.Client({
          connectionString: this.#databaseUrl,
          application_name: "result-publisher-lock",
        });
        client.on("error", (err) => this.#lost(err));
        client.on("end", () => this.#lost(undefined));
        await client.connect();
        this.#client = client;
      }
      const { rows } = await this.#client.query<{ locked: boolean }>(
        "select pg_try_advisory_lock($1) as locked",
        [PUBLISHER_LOCK_KEY],
      );
      this.#leader = rows[0]!.locked;
      if (this.#leader) this.#logger.info({ pid: this.#id }, "this publisher is now the leader");
      return this.#leader;
    } catch (err) {
      this.#lost(err);
      return false;
    }
  }

  #lost(err: unknown): void {
    if (this.#leader) this.#logger.warn({ err }, "lost the publisher lock connection; standing by");
    this.#leader = false;
    const client = this.#client;
    this.#client = undefined;
    client?.end().catch(() => {});
  }

  async release(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#leader = false;
    if (client) await client.end().catch(() => {});
  }
}
