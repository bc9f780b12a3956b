import pg from "pg";
import type { Lifecycle } from "./lifecycle.ts";
import type { Logger } from "./logger.ts";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

// bigint (type 20) comes back as a JS number, not pg's default string: every bigint here
// is a count or a stream sequence, far below 2^53. timestamptz keeps pg's default (Date).
pg.types.setTypeParser(20, (value) => Number.parseInt(value, 10));

/** How a service's connections find out that Postgres stopped answering. */
export interface PgLiveness {
  /** A query not answered within this is failed, and its connection dropped (PG_QUERY_TIMEOUT_MS). */
  queryTimeoutMs?: number;
  /** Idle time before TCP keepalive probes (PG_KEEPALIVE_MS): a dead host is found by the kernel. */
  keepAliveMs?: number;
}

export function createPool(
  databaseUrl: string,
  logger: Logger,
  options: { max?: number; applicationName?: string } & PgLiveness = {},
): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 10,
    application_name: options.applicationName ?? "tallyflow",
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    // A connection whose peer went silent (a partition, a host gone without a FIN) would
    // hold its query, and its caller, for ever: the query fails at the timeout, and the
    // pool drops a client released with an error, so the next query gets a new connection.
    ...(options.queryTimeoutMs === undefined ? {} : { query_timeout: options.queryTimeoutMs }),
    ...(options.keepAliveMs === undefined
      ? {}
      : { keepAlive: true, keepAliveInitialDelayMillis: options.keepAliveMs }),
  });
  // An idle client losing its connection emits here; without a listener it would crash the process.
  pool.on("error", (err) => logger.warn({ err }, "idle postgres client error"));
  // A checked-out client whose connection drops emits "error" as well, and the pool only
  // listens while the client is idle: unheard, it would crash the process. The query in
  // flight rejects with that error anyway, and the pool discards the client on release.
  pool.on("connect", (client) =>
    client.on("error", (err) => logger.debug({ err }, "postgres client error")),
  );
  return pool;
}

/** How a dedicated connection (a LISTEN) finds out that Postgres stopped answering. */
export interface ListenLiveness {
  /** How often it is checked with `select 1` (PG_LISTEN_CHECK_MS). */
  checkIntervalMs: number;
  /** A check not answered within this ends the connection (PG_LISTEN_CHECK_TIMEOUT_MS). */
  checkTimeoutMs: number;
  /** Idle time before TCP keepalive probes (PG_KEEPALIVE_MS). */
  keepAliveMs: number;
}

/** A dedicated connection (LISTEN), not connected yet, with TCP keepalive; watch it with watchListener. */
export function newListenClient(
  databaseUrl: string,
  applicationName: string,
  liveness: ListenLiveness,
): pg.Client {
  return new pg.Client({
    connectionString: databaseUrl,
    application_name: applicationName,
    keepAlive: true,
    keepAliveInitialDelayMillis: liveness.keepAliveMs,
  });
}

/**
 * A LISTEN connection only receives: if its peer goes silent (a partition, a host gone
 * without a FIN), it hears no more notifications and reports no error, for hours, until
 * the kernel gives up. So it is asked `select 1` every interval; one not answered in time
 * ends the client (pg destroys the socket of a client with a query in flight), which emits
 * "end" and so sends its owner down the path that opens a new connection and catches up.
 * The checks stop when the client ends.
 */
export function watchListener(client: pg.Client, liveness: ListenLiveness, logger: Logger): void {
  let ended = false;
  let timer: NodeJS.Timeout | undefined;
  client.once("end", () => {
    ended = true;
    clearTimeout(timer);
  });
  const check = () => {
    // query_timeout per query is pg's, missing from its type declarations.
    const query = { text: "select 1", query_timeout: liveness.checkTimeoutMs } as pg.QueryConfig;
    client.query(query).then(
      () => {
        if (!ended) timer = setTimeout(check, liveness.checkIntervalMs);
      },
      (err: unknown) => {
        if (ended) return;
        logger.warn({ err }, "a LISTEN connection did not answer its check; opening a new one");
        client.end().catch(() => {});
      },
    );
  };
  timer = setTimeout(check, liveness.checkIntervalMs);
}

/** A service's pool, registered with its lifecycle so that it is ended last-in-first-out. */
export function addPool(
  lifecycle: Lifecycle,
  databaseUrl: string,
  logger: Logger,
  options: { max: number; applicationName: string } & PgLiveness,
): Pool {
  return lifecycle.add("postgres", createPool(databaseUrl, logger, options), (p) => p.end());
}

/** Creates the database named in the URL when it is missing (connecting to `postgres`). */
export async function ensureDatabase(databaseUrl: string): Promise<boolean> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (name === "") throw new Error("DATABASE_URL names no database");
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (rowCount) return false;
    try {
      await client.query(`create database ${pg.escapeIdentifier(name)}`);
    } catch (err) {
      // 42P04 duplicate_database: another process created it at the same moment.
      if (pgCode(err) !== "42P04") throw err;
    }
    return true;
  } finally {
    await client.end();
  }
}

export async function dropDatabase(databaseUrl: string): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ""));
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`drop database if exists ${pg.escapeIdentifier(name)} with (force)`);
  } finally {
    await client.end();
  }
}

export function pgCode(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** The constraint a Postgres error names (a unique violation: which key clashed). */
export function pgConstraint(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "constraint" in err) {
    const name = (err as { constraint: unknown }).constraint;
    return typeof name === "string" ? name : undefined;
  }
  return undefined;
}

/**
 * Runs `work` in one transaction on one client (`begin`: the statement that opens it, e.g.
 * with an isolation level), committed when it resolves, rolled back when it throws. A
 * client that cannot even roll back is destroyed, not given back to the pool
 * mid-transaction.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  begin = "begin",
): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query("commit");
    return result;
  } catch (err) {
    await client.query("rollback").catch((rollbackErr: unknown) => {
      broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
