import pg from "pg";
import { TallyflowError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";

// Any fixed number; every publisher of one database uses the same.
const PUBLISHER_LOCK_KEY = 7_316_504_222;

/**
 * SQL condition: the backend whose pid is `pid` (SQL) holds the publisher lock now. A
 * session-level advisory lock on a bigint key shows in pg_locks as classid = high 32 bits,
 * objid = low 32 bits, objsubid = 1.
 */
export const HOLDS_PUBLISHER_LOCK = (pid: string) => `exists (
  select 1 from pg_locks
  where locktype = 'advisory' and granted and pid = ${pid}
    and database = (select oid from pg_database where datname = current_database())
    and classid::bigint = (${PUBLISHER_LOCK_KEY}::bigint >> 32)
    and objid::bigint = (${PUBLISHER_LOCK_KEY}::bigint & 4294967295)
    and objsubid = 1)`;

/** Sessions that hold (or compete for) the lock carry this name in pg_stat_activity. */
export const LOCK_APPLICATION_NAME = "result-publisher-lock";

/**
 * Bound on connecting and on every query of the lock session (client side, and as
 * statement_timeout server side): a partitioned Postgres makes the check fail instead of
 * hanging the tick (LEADER_LOCK_TIMEOUT_MS).
 */
export const DEFAULT_LOCK_QUERY_TIMEOUT_MS = 2_000;

/**
 * TCP keepalive on both ends of the lock session. Without it Postgres keeps the session of
 * a dead or partitioned leader, and so its lock, until the kernel's TCP timeout (hours)
 * and no standby can take over. With these, the server drops the dead peer within about
 * idle + interval × count = 11 s (tcp_user_timeout covers data it could not deliver).
 */
const KEEPALIVE_INITIAL_DELAY_MS = 5_000;
const SERVER_KEEPALIVE_SETTINGS = {
  tcp_keepalives_idle: 5, // seconds
  tcp_keepalives_interval: 2, // seconds
  tcp_keepalives_count: 3,
  tcp_user_timeout: 10_000, // milliseconds
};

/**
 * Exactly one active publisher per database: the one holding a session-level advisory
 * lock on its own connection. When that process dies, Postgres ends its session and
 * frees the lock (at once for a crash, within seconds for a dead host, thanks to the
 * keepalives); a standby takes it at its next tick. Every tick the leader confirms it
 * still holds the lock: a leader whose lock session ended, or that cannot reach Postgres
 * within its lock timeout, stops publishing, sits one tick out (so a standby with a
 * healthy connection can take over) and then reconnects.
 */
export class Leadership {
  #client: pg.Client | undefined;
  /** The lock session's backend pid (pg_backend_pid()). */
  #pid: number | undefined;
  #leader = false;
  /** Leadership was lost between ticks: the next tick stands by before reconnecting. */
  #sitOut = false;
  readonly #databaseUrl: string;
  readonly #logger: Logger;
  readonly #id = `${process.pid}`;
  readonly #lockTimeoutMs: number;

  constructor(
    databaseUrl: string,
    logger: Logger,
    lockTimeoutMs: number = DEFAULT_LOCK_QUERY_TIMEOUT_MS,
  ) {
    this.#databaseUrl = databaseUrl;
    this.#logger = logger;
    this.#lockTimeoutMs = lockTimeoutMs;
  }

  get isLeader(): boolean {
    return this.#leader;
  }

  /** Tries to become the leader, or confirms it still is; false means stand by this tick. */
  async acquire(): Promise<boolean> {
    if (this.#leader) return this.#confirm();
    if (this.#sitOut) {
      this.#sitOut = false;
      return false;
    }
    try {
      const client = this.#client ?? (await this.#connect());
      const { rows } = await client.query<{ locked: boolean }>(
        "select pg_try_advisory_lock($1) as locked",
        [PUBLISHER_LOCK_KEY],
      );
      this.#leader = rows[0]!.locked;
      if (this.#leader) this.#logger.info({ pid: this.#id }, "this publisher is now the leader");
      return this.#leader;
    } catch (err) {
      // Not the leader, so no tick is sat out: a standby that failed retries next tick.
      this.#lost(this.#client, err);
      return false;
    }
  }

  /** The lock is still granted to this session; anything else ends leadership now. */
  async #confirm(): Promise<boolean> {
    const client = this.#client;
    try {
      if (!client) throw new LockLostError("the lock connection is gone");
      const { rows } = await client.query<{ held: boolean }>(
        `select ${HOLDS_PUBLISHER_LOCK("pg_backend_pid()")} as held`,
      );
      if (!rows[0]!.held) throw new LockLostError("the lock session no longer holds the lock");
      return true;
    } catch (err) {
      this.#lost(client, err);
      // This tick already stands by; the next one reconnects.
      this.#sitOut = false;
      return false;
    }
  }

  async #connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.#databaseUrl,
      application_name: LOCK_APPLICATION_NAME,
      keepAlive: true,
      keepAliveInitialDelayMillis: KEEPALIVE_INITIAL_DELAY_MS,
      connectionTimeoutMillis: this.#lockTimeoutMs,
      query_timeout: this.#lockTimeoutMs,
    });
    // Events of a client already discarded must not end its successor: #lost checks it.
    client.on("error", (err) => this.#lost(client, err));
    client.on("end", () => this.#lost(client, new LockLostError("the lock connection ended")));
    this.#client = client;
    await client.connect();
    // Set per session rather than as startup options, which parameters in DATABASE_URL
    // would override.
    await client.query(
      Object.entries({ ...SERVER_KEEPALIVE_SETTINGS, statement_timeout: this.#lockTimeoutMs })
        .map(([name, value]) => `set ${name} = ${value}`)
        .join("; "),
    );
    this.#pid = (await client.query<{ pid: number }>("select pg_backend_pid() as pid"))
      .rows[0]!.pid;
    return client;
  }

  #lost(client: pg.Client | undefined, err: unknown): void {
    if (client === undefined || client !== this.#client) return;
    if (this.#leader) {
      this.#logger.warn({ err }, "lost the publisher lock connection; standing by");
      this.#sitOut = true;
    }
    this.#leader = false;
    this.#client = undefined;
    // Not awaited: on a dead socket this waits for the kernel; pg destroys the socket of a
    // client with a query in flight, so nothing is left behind for long.
    client.end().catch(() => {});
  }

  /**
   * The lock session's backend pid while this process leads, else undefined. A statement
   * on another connection that only a leader may run names it in HOLDS_PUBLISHER_LOCK: it
   * then does nothing once this session has ended, whatever this process still believes
   * (the change log's delete, rollup-store.ts).
   */
  get lockSessionPid(): number | undefined {
    return this.#leader ? this.#pid : undefined;
  }

  async release(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    this.#leader = false;
    if (client) await client.end().catch(() => {});
  }
}

/** The leader's check found the lock, or the session holding it, gone. */
/** The leader's lock session ended: the run in progress must not publish. Not an HTTP error. */
export class LockLostError extends TallyflowError {
  override readonly name = "LockLostError";
  constructor(message: string, options: { cause?: unknown } = {}) {
    super("publisher_lock_lost", message, options);
  }
}
