import { pgCode } from "../common/postgres.ts";

// How the writer reacts to a failed batch. Three kinds, kept as data tables:
// - "transient": the database (or the way to it) is unavailable for now. The batch waits
//   in hand and is retried with back-off for as long as it takes: nothing is ever
//   dead-lettered because Postgres is down, restarting, failing over or overloaded.
// - "poison": Postgres refused the data itself (SQLSTATE class 22/23). The message is
//   isolated by halving the batch and dead-lettered at once.
// - "permanent": anything else (a trigger raising, a revoked privilege, a missing table,
//   an internal error, a bug). It may clear up (a migration half applied), so the batch is
//   retried a bounded number of times; then it is isolated and the messages that still
//   fail are dead-lettered with the error, so one bad poll cannot wedge every other.
export type FailureKind = "poison" | "transient" | "permanent";

const POISON_SQLSTATE_CLASSES: ReadonlySet<string> = new Set([
  "22", // data exception (bad timestamp, value out of range, invalid text representation)
  "23", // integrity constraint violation (check, not-null)
]);

const TRANSIENT_SQLSTATE_CLASSES: ReadonlySet<string> = new Set([
  "08", // connection exception (cannot connect, connection failure, protocol violation)
  "40", // transaction rollback: serialization failure, deadlock detected
  "53", // insufficient resources: disk full, out of memory, too many connections
  "57", // operator intervention: admin/crash shutdown, cannot connect now, query canceled
  "58", // system error: I/O error, undefined file (storage trouble on the server)
]);

const TRANSIENT_SQLSTATES: ReadonlySet<string> = new Set([
  "55P03", // lock_not_available: lock_timeout while a DDL or a poll delete holds the lock
  "55006", // object_in_use: an object another session holds (a concurrent DDL)
  "25006", // read_only_sql_transaction: connected to a standby during a failover
  "25P03", // idle_in_transaction_session_timeout: the server closed our session
  "3D000", // invalid_catalog_name: the database is not there (being restored, renamed back)
  "28000", // invalid_authorization_specification: pg_hba refuses us (a config reload)
  "28P01", // invalid_password: credentials being rotated
  "XX001", // data_corrupted / index_corrupted: the server's storage, not the batch
  "XX002",
]);

// Node socket errors on the way to the server (err.code set by the OS layer).
const TRANSIENT_SYSTEM_CODES: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "EADDRNOTAVAIL",
]);

// node-postgres and pg-pool report a lost or unobtainable connection with a plain Error
// and no code at all, so their messages are the only thing to go by (pg/lib/client.js,
// pg-pool/index.js). Prefixes, matched only when the error carries no code.
const TRANSIENT_DRIVER_MESSAGES: readonly string[] = [
  "Connection terminated", // "... unexpectedly", "... due to connection timeout"
  "timeout exceeded when trying to connect",
  "timeout expired",
  "Query read timeout",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
  "Cannot use a pool after calling end on the pool",
];

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function classifyFailure(err: unknown): FailureKind {
  const code = pgCode(err);
  // First: "EPIPE" has the shape of a SQLSTATE too.
  if (code !== undefined && TRANSIENT_SYSTEM_CODES.has(code)) return "transient";
  if (code !== undefined && SQLSTATE.test(code)) {
    const klass = code.slice(0, 2);
    if (POISON_SQLSTATE_CLASSES.has(klass)) return "poison";
    if (TRANSIENT_SQLSTATE_CLASSES.has(klass) || TRANSIENT_SQLSTATES.has(code)) return "transient";
    return "permanent";
  }
  if (code !== undefined) return "permanent";
  if (hasTransientCause(err)) return "transient";
  return "permanent";
}

/** A codeless driver error about the connection, or one whose cause is a socket error. */
function hasTransientCause(err: unknown, depth = 0): boolean {
  if (!(err instanceof Error) || depth > 3) return false;
  if (TRANSIENT_DRIVER_MESSAGES.some((m) => err.message.startsWith(m))) return true;
  const causeCode = pgCode(err.cause);
  if (causeCode !== undefined && TRANSIENT_SYSTEM_CODES.has(causeCode)) return true;
  return hasTransientCause(err.cause, depth + 1);
}

/** "SQLSTATE: message" (or the message alone), as stored in dead_letters.error. */
export function describeFailure(err: unknown): string {
  if (err instanceof Error) {
    const code = pgCode(err);
    return code !== undefined ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
