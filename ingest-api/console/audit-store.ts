import type { Pool } from "../../common/postgres.ts";

// The audit log (migration 027): appended by the recorder, read by GET /v1/audit. The API's
// role may only insert and select: nothing here updates or deletes.

export interface AuditInput {
  schoolId: string | null;
  actorKind: "deployment" | "school" | "teacher";
  actorId: string | null;
  sessionId: string | null;
  action: string;
  objectId: string | null;
  address: string;
  status: number;
  changes: unknown;
}

export interface AuditEntry extends Omit<AuditInput, "changes"> {
  id: string;
  at: string;
  changes: unknown;
}

export interface AuditFilter {
  /** null: every school (the deployment admin's). */
  schoolId: string | null;
  /** An admin id, or "deployment" for the deployment admin's token and sessions. */
  actor?: string | undefined;
  action?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Keyset: the entries after this one (an entry id, as `next` answers) in the order. */
  before?: string | undefined;
}

export async function insertAudit(db: Pool, e: AuditInput): Promise<void> {
  await db.query(
    `insert into audit_log
       (school_id, actor_kind, actor_id, session_id, action, object_id, address, status, changes)
     -- A deployment admin's change to a kiosk or poll named by id only (pairing, revoke):
     -- its school from the registry (primary-key reads).
     values (coalesce($1, (select school_id from kiosks where id = $6),
                          (select school_id from polls where id = $6)),
             $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      e.schoolId,
      e.actorKind,
      e.actorId,
      e.sessionId,
      e.action,
      e.objectId,
      e.address,
      e.status,
      e.changes === undefined ? null : JSON.stringify(e.changes),
    ],
  );
}

interface AuditRow {
  id: string;
  at: Date;
  school_id: string | null;
  actor_kind: "deployment" | "school" | "teacher";
  actor_id: string | null;
  session_id: string | null;
  action: string;
  object_id: string | null;
  address: string | null;
  status: number;
  changes: unknown;
}

/**
 * Newest first (by time, then id), `limit` entries after the keyset cursor, each filter
 * applied when given.
 */
export async function listAudit(db: Pool, f: AuditFilter, limit: number): Promise<AuditEntry[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    args.push(value);
    where.push(sql.replace("?", `$${args.length}`));
  };
  if (f.schoolId !== null) add("school_id = ?", f.schoolId);
  if (f.actor === "deployment") where.push("actor_kind = 'deployment'");
  else if (f.actor !== undefined) add("actor_id = ?", f.actor);
  if (f.action !== undefined) add("action = ?", f.action);
  if (f.from !== undefined) add("at >= ?", f.from);
  if (f.to !== undefined) add("at < ?", f.to);
  // The key is (at, id), the cursor the id of the last entry shown: one range of an index
  // of migration 028 whichever filters are given (a time window included, which in id order
  // the planner could only filter, reading every newer entry first).
  if (f.before !== undefined)
    add("(at, id) < (select b.at, b.id from audit_log b where b.id = ?)", f.before);
  args.push(limit);
  const { rows } = await db.query<AuditRow>(
    `select id::text as id, at, school_id, actor_kind, actor_id, session_id, action, object_id,
       address, status, changes
     from audit_log ${where.length > 0 ? `where ${where.join(" and ")}` : ""}
     order by audit_log.at desc, audit_log.id desc limit $${args.length}`,
    args,
  );
  return rows.map((r) => ({
    id: r.id,
    at: r.at.toISOString(),
    schoolId: r.school_id,
    actorKind: r.actor_kind,
    actorId: r.actor_id,
    sessionId: r.session_id,
    action: r.action,
    objectId: r.object_id,
    address: r.address ?? "",
    status: r.status,
    changes: r.changes,
  }));
}
