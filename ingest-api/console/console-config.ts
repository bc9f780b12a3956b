import { type Env, readInt } from "../../common/env.ts";

/** The operator console: invites, sessions, the sign-in limit and the audit log's pages. */
export interface ConsoleConfig {
  /** Lifetime of an invite link (single use). @defaultValue 86400000 (24 hours) */
  readonly inviteTtlMs: number;
  /** A session unused this long is refused (sign in again). @defaultValue 1800000 (30 minutes) */
  readonly sessionIdleMs: number;
  /** A session is refused this long after sign-in, however used. @defaultValue 43200000 (12 hours) */
  readonly sessionMaxMs: number;
  /** Failed sign-ins (invite exchanges) per client address per minute before it is refused. 0: off. @defaultValue 10 */
  readonly signInFailuresPerMin: number;
  /** Entries in a page of `GET /v1/audit` when `limit` is not given (at most auditPageMax). @defaultValue 50 */
  readonly auditPageDefault: number;
  /** Largest `limit` of `GET /v1/audit`. @defaultValue 500 */
  readonly auditPageMax: number;
  /** Entries read from Postgres per query while `GET /v1/audit.csv` streams. @defaultValue 2000 */
  readonly auditExportChunkRows: number;
}

export function readConsoleConfig(env: Env): ConsoleConfig {
  const auditPageMax = readInt(env, "AUDIT_PAGE_MAX", 500, { min: 1, max: 10_000 });
  return Object.freeze({
    inviteTtlMs: readInt(env, "CONSOLE_INVITE_TTL_MS", 86_400_000, {
      min: 60_000,
      max: 2_592_000_000,
    }),
    sessionIdleMs: readInt(env, "CONSOLE_SESSION_IDLE_MS", 1_800_000, {
      min: 10_000,
      max: 604_800_000,
    }),
    sessionMaxMs: readInt(env, "CONSOLE_SESSION_MAX_MS", 43_200_000, {
      min: 10_000,
      max: 2_592_000_000,
    }),
    signInFailuresPerMin: readInt(env, "RATE_LIMIT_CONSOLE_SIGN_IN_FAILURES_PER_MIN", 10, {
      min: 0,
      max: 1_000_000,
    }),
    // A smaller AUDIT_PAGE_MAX alone lowers the default with it.
    auditPageDefault: readInt(env, "AUDIT_PAGE_DEFAULT", Math.min(50, auditPageMax), {
      min: 1,
      max: auditPageMax,
    }),
    auditPageMax,
    auditExportChunkRows: readInt(env, "AUDIT_EXPORT_CHUNK_ROWS", 2_000, {
      min: 100,
      max: 100_000,
    }),
  });
}
