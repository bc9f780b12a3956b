import type { Pool, PoolClient } from "../../common/postgres.ts";

// The console's SQL (migration 027): invites and sessions. Secrets are kept as their sha256.

export interface InviteRow {
  schoolId: string | null;
  label: string;
}

export async function insertInvite(
  db: Pool,
  invite: {
    codeHash: Buffer;
    schoolId: string | null;
    label: string;
    createdBy: string;
    ttlMs: number;
  },
): Promise<Date> {
  const { rows } = await db.query<{ expires_at: Date }>(
    `insert into console_invites (code_hash, school_id, label, created_by, expires_at)
     values ($1, $2, $3, $4, now() + make_interval(secs => $5::double precision / 1000))
     returning expires_at`,
    [invite.codeHash, invite.schoolId, invite.label, invite.createdBy, invite.ttlMs],
  );
  return rows[0]!.expires_at;
}

/** Uses the invite up (whatever follows); undefined: unknown, used or expired alike. */
export async function useInvite(db: PoolClient, codeHash: Buffer): Promise<InviteRow | undefined> {
  const { rows } = await db.query<{ school_id: string | null; label: string }>(
    `update console_invites set used_at = now()
     where code_hash = $1 and used_at is null and expires_at > now()
     returning school_id, label`,
    [codeHash],
  );
  const row = rows[0];
  return row && { schoolId: row.school_id, label: row.label };
}

/** A school admin credential for a console session: its token hash is random, never shown. */
export async function insertSessionAdmin(
  db: PoolClient,
  admin: { id: string; schoolId: string; label: string; tokenHash: Buffer },
): Promise<void> {
  await db.query(
    "insert into school_admins (id, school_id, label, token_hash) values ($1, $2, $3, $4)",
    [admin.id, admin.schoolId, admin.label, admin.tokenHash],
  );
}

export interface SessionRow {
  id: string;
  schoolId: string | null;
  adminId: string | null;
  label: string;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
  revokedAt: string | null;
  address: string | null;
}

interface RawSession {
  id: string;
  school_id: string | null;
  admin_id: string | null;
  label: string;
  csrf_token: string;
  created_at: Date;
  last_seen_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  address: string | null;
}

const SESSION_COLUMNS =
  "id, school_id, admin_id, label, csrf_token, created_at, last_seen_at, expires_at, revoked_at, address";

function toSession(r: RawSession): SessionRow {
  return {
    id: r.id,
    schoolId: r.school_id,
    adminId: r.admin_id,
    label: r.label,
    csrfToken: r.csrf_token,
    createdAt: r.created_at.toISOString(),
    lastSeenAt: r.last_seen_at.toISOString(),
    expiresAt: r.expires_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
    address: r.address,
  };
}

export async function insertSession(
  db: PoolClient,
  session: {
    id: string;
    tokenHash: Buffer;
    csrfToken: string;
    schoolId: string | null;
    adminId: string | null;
    label: string;
    address: string;
    maxMs: number;
  },
): Promise<SessionRow> {
  const { rows } = await db.query<RawSession>(
    `insert into console_sessions
       (id, token_hash, csrf_token, school_id, admin_id, label, address, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8::double precision / 1000))
     returning ${SESSION_COLUMNS}`,
    [
      session.id,
      session.tokenHash,
      session.csrfToken,
      session.schoolId,
      session.adminId,
      session.label,
      session.address,
      session.maxMs,
    ],
  );
  return toSession(rows[0]!);
}

/**
 * The live session of this cookie, marked as used now; undefined when unknown, revoked,
 * past its absolute expiry or idle too long. One statement: the check and the touch agree.
 */
export async function touchSession(
  db: Pool,
  tokenHash: Buffer,
  idleMs: number,
): Promise<SessionRow | undefined> {
  const { rows } = await db.query<RawSession>(
    `update console_sessions set last_seen_at = now()
     where token_hash = $1 and revoked_at is null and expires_at > now()
       and last_seen_at > now() - make_interval(secs => $2::double precision / 1000)
     returning ${SESSION_COLUMNS}`,
    [tokenHash, idleMs],
  );
  return rows[0] && toSession(rows[0]);
}

/** Sessions of a school (or every one: null), newest first, live ones only unless `all`. */
export async function listSessions(
  db: Pool,
  schoolId: string | null,
  limit: number,
): Promise<SessionRow[]> {
  const { rows } = await db.query<RawSession>(
    `select ${SESSION_COLUMNS} from console_sessions
     where ($1::text is null or school_id = $1) and revoked_at is null and expires_at > now()
     order by created_at desc, id limit $2`,
    [schoolId, limit],
  );
  return rows.map(toSession);
}

/** Revokes a session in the scope (null: any); undefined when there is none to revoke. */
export async function revokeSession(
  db: Pool,
  id: string,
  schoolId: string | null,
): Promise<SessionRow | undefined> {
  const { rows } = await db.query<RawSession>(
    `update console_sessions set revoked_at = coalesce(revoked_at, now())
     where id = $1 and ($2::text is null or school_id = $2)
     returning ${SESSION_COLUMNS}`,
    [id, schoolId],
  );
  return rows[0] && toSession(rows[0]);
}

/**
 * Forgets invites and sessions past their expiry by a day or more (a few at a time: it runs
 * on sign-in), so the tables hold what is live and the recent past. The audit log keeps
 * their ids.
 */
export async function forgetExpired(db: Pool, batch: number): Promise<void> {
  await db.query(
    `delete from console_invites where code_hash in (
       select code_hash from console_invites where expires_at < now() - interval '1 day' limit $1)`,
    [batch],
  );
  await db.query(
    `delete from console_sessions where id in (
       select id from console_sessions
       where coalesce(revoked_at, expires_at) < now() - interval '1 day' limit $1)`,
    [batch],
  );
}
