import { ConflictError, NotFoundError } from "../../common/errors.ts";
import { type Pool, type PoolClient, pgCode } from "../../common/postgres.ts";
import type { AttendanceSettings, School } from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { likePrefix } from "../http/page-cursor.ts";
import {
  attendanceSchoolsChanged,
  deletePeopleSql,
  deletePolls,
  notifyRegistryRows,
  peopleChanged,
  updateSchoolsSql,
} from "../registry/registry-changes.ts";

// Postgres access for schools and their admins: SQL only (rules: school-service.ts). Each
// write of schools (and of the polls, kiosks and people a school's delete takes) notifies
// the other processes in its transaction (registry-changes.ts, migration 052).

type Db = Pool | PoolClient;

interface SchoolRow {
  id: string;
  name: string;
  time_zone: string;
  created_at: Date;
  updated_at: Date;
  day_ends_at: string;
  min_present_minutes: number;
  late_after: string | null;
  min_present_days_pct: number;
  weekdays: number[];
  fever_threshold_c: string;
  temperature_min_c: string;
  temperature_max_c: string;
  public_counts: boolean;
}

// Times as "HH:MM" (the settings have no seconds); numeric(4,1) arrives as text.
const SCHOOL_COLUMNS = `id, name, time_zone, created_at, updated_at,
  to_char(attendance_day_ends_at, 'HH24:MI') as day_ends_at,
  attendance_min_present_minutes as min_present_minutes,
  to_char(attendance_late_after, 'HH24:MI') as late_after,
  attendance_min_present_days_pct as min_present_days_pct,
  attendance_weekdays as weekdays, fever_threshold_c, temperature_min_c, temperature_max_c,
  attendance_public_counts as public_counts`;

const toSchool = (r: SchoolRow): School => ({
  id: r.id,
  name: r.name,
  timeZone: r.time_zone,
  attendance: {
    dayEndsAt: r.day_ends_at,
    minPresentMinutes: r.min_present_minutes,
    lateAfter: r.late_after,
    minPresentDaysPct: r.min_present_days_pct,
    weekdays: r.weekdays,
    feverThresholdC: Number(r.fever_threshold_c),
    temperatureMinC: Number(r.temperature_min_c),
    temperatureMaxC: Number(r.temperature_max_c),
    publicCounts: r.public_counts,
  },
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

export const schoolNotFound = (id: string) =>
  new NotFoundError("school_not_found", `school "${id}" does not exist`);

/** Every school, or only those of `ids` (the registry cache's per-row reload). */
export async function loadSchools(db: Db, ids?: readonly string[]): Promise<School[]> {
  const select = `select ${SCHOOL_COLUMNS} from schools`;
  const { rows } =
    ids === undefined
      ? await db.query<SchoolRow>(`${select} order by id`)
      : await db.query<SchoolRow>(`${select} where id = any($1)`, [ids]);
  return rows.map(toSchool);
}

/** `limit` schools in id order after `after`, `q` a prefix of the id or the name (any case). */
export async function listSchoolPage(
  db: Db,
  filter: { q: string | undefined; after: string | undefined },
  limit: number,
): Promise<School[]> {
  const where: string[] = [];
  const args: unknown[] = [];
  const param = (value: unknown) => `$${args.push(value)}`;
  if (filter.q !== undefined) {
    const prefix = param(likePrefix(filter.q));
    where.push(`(id like ${prefix} escape '\\' or lower(name) like lower(${prefix}) escape '\\')`);
  }
  if (filter.after !== undefined) where.push(`id > ${param(filter.after)}`);
  const { rows } = await db.query<SchoolRow>(
    `select ${SCHOOL_COLUMNS} from schools ${where.length > 0 ? `where ${where.join(" and ")}` : ""}
     order by id limit ${param(limit)}`,
    args,
  );
  return rows.map(toSchool);
}

/** What the schools list's figures count, for one school of a page. */
export interface SchoolFigureRow {
  schoolId: string;
  /** Its polls not archived: each one's window, in epoch ms (null: unbounded). */
  polls: { opensAtMs: number | null; closesAtMs: number | null }[];
  /** Its kiosks not revoked. */
  kioskIds: string[];
}

/**
 * One row per school of the page (one statement, a hundred rows rather than every poll and
 * kiosk of them): reads of the (school_id, created_at, id) indexes of migration 028, one
 * range per school and table.
 */
export async function schoolFigureRows(db: Db, schoolIds: string[]): Promise<SchoolFigureRow[]> {
  const { rows } = await db.query<{
    school_id: string;
    opens: (number | null)[];
    closes: (number | null)[];
    kiosk_ids: string[];
  }>(
    `select s.id as school_id, coalesce(p.opens, '{}') as opens, coalesce(p.closes, '{}') as closes,
            coalesce(k.ids, '{}') as kiosk_ids
     from unnest($1::text[]) as s(id)
     left join lateral (
       select array_agg((extract(epoch from opens_at) * 1000)::float8) as opens,
              array_agg((extract(epoch from closes_at) * 1000)::float8) as closes
       from polls where school_id = s.id and archived_at is null
     ) p on true
     left join lateral (
       select array_agg(id) as ids from kiosks where school_id = s.id and revoked_at is null
     ) k on true`,
    [schoolIds],
  );
  return rows.map((r) => ({
    schoolId: r.school_id,
    polls: r.opens.map((opensAtMs, i) => ({ opensAtMs, closesAtMs: r.closes[i] ?? null })),
    kioskIds: r.kiosk_ids,
  }));
}

/** The school, if the scope may see it (another school's is the same 404 as a missing one). */
export async function getSchool(db: Db, id: string, scope: SchoolScope): Promise<School> {
  if (scope !== null && scope !== id) throw schoolNotFound(id);
  const { rows } = await db.query<SchoolRow>(
    `select ${SCHOOL_COLUMNS} from schools where id = $1`,
    [id],
  );
  if (rows.length === 0) throw schoolNotFound(id);
  return toSchool(rows[0]!);
}

/** Locks the school's row until the transaction ends (a delete against a concurrent create). */
export async function lockSchool(client: PoolClient, id: string): Promise<School> {
  const { rows } = await client.query<SchoolRow>(
    `select ${SCHOOL_COLUMNS} from schools where id = $1 for update`,
    [id],
  );
  if (rows.length === 0) throw schoolNotFound(id);
  return toSchool(rows[0]!);
}

export async function insertSchool(
  client: PoolClient,
  input: { id: string; name: string; timeZone?: string | undefined },
): Promise<School> {
  try {
    const { rows } = await client.query<SchoolRow>(
      `insert into schools (id, name, time_zone) values ($1, $2, $3)
       returning ${SCHOOL_COLUMNS}`,
      [input.id, input.name, input.timeZone ?? "UTC"],
    );
    await notifyRegistryRows(client, "schools", [input.id]);
    return toSchool(rows[0]!);
  } catch (err) {
    if (pgCode(err) === "23505")
      throw new ConflictError("school_exists", `school "${input.id}" already exists`);
    throw err;
  }
}

export async function updateSchool(
  client: PoolClient,
  id: string,
  patch: { name?: string | undefined; timeZone?: string | undefined },
): Promise<School> {
  // schools_updated (in the statement) notifies the school and, its time zone changed,
  // has its attendance recomputed and republished (migration 057): locked first, so that
  // the statement's old values are the ones it updates (a concurrent change waits).
  await lockSchool(client, id);
  const { rows } = await client.query<SchoolRow>(
    updateSchoolsSql(
      `name = coalesce($2, s.name), time_zone = coalesce($3, s.time_zone), updated_at = now()`,
      "s.id = $1",
      SCHOOL_COLUMNS,
    ),
    [id, patch.name ?? null, patch.timeZone ?? null],
  );
  if (rows.length === 0) throw schoolNotFound(id);
  return toSchool(rows[0]!);
}

/**
 * Writes the school's presence rules (every column: the caller merged its patch into the
 * settings it read), and tells every API process; a change of what a day document shows
 * has the school's documents republished (schools_updated, migration 057).
 */
export async function updateAttendanceSettings(
  client: PoolClient,
  id: string,
  settings: AttendanceSettings,
): Promise<School> {
  const { rows } = await client.query<SchoolRow>(
    updateSchoolsSql(
      `attendance_day_ends_at = $2::time, attendance_min_present_minutes = $3,
       attendance_late_after = $4::time, attendance_min_present_days_pct = $5,
       attendance_weekdays = $6::int[], fever_threshold_c = $7, temperature_min_c = $8,
       temperature_max_c = $9, attendance_public_counts = $10, updated_at = now()`,
      "s.id = $1",
      SCHOOL_COLUMNS,
    ),
    [
      id,
      settings.dayEndsAt,
      settings.minPresentMinutes,
      settings.lateAfter,
      settings.minPresentDaysPct,
      settings.weekdays,
      settings.feverThresholdC,
      settings.temperatureMinC,
      settings.temperatureMaxC,
      settings.publicCounts,
    ],
  );
  if (rows.length === 0) throw schoolNotFound(id);
  return toSchool(rows[0]!);
}

/** The school's polls, locked, with whether each may go (archived, or without votes). */
export async function lockSchoolPolls(
  client: PoolClient,
  schoolId: string,
): Promise<{ id: string; incarnation: number; blocking: boolean }[]> {
  const { rows } = await client.query<{ id: string; incarnation: number; blocking: boolean }>(
    `select id, incarnation, (archived_at is null and poll_has_votes(id)) as blocking
     from polls where school_id = $1 order by id for update`,
    [schoolId],
  );
  return rows;
}

/**
 * Deletes the school's polls as a poll's delete does (delete_polls, migration 052: each
 * one's purge queued, the other processes told), then its people (their rows to
 * people_changed, migration 059), then the school: its kiosks, holidays and admins go by
 * cascade. Every row gone is told to the other processes: the
 * kiosks, the school, and its people (if it had any); people or holidays gone are recorded
 * for the attendance publishers (migration 057). The caller holds the school's row lock
 * (lockSchool) and its polls' (lockSchoolPolls), so no poll, kiosk or person is added
 * meanwhile (their key needs a share lock on the school).
 */
export async function deleteSchoolRows(client: PoolClient, schoolId: string): Promise<void> {
  const { rows: polls } = await client.query<{ id: string }>(
    "select id from polls where school_id = $1",
    [schoolId],
  );
  await deletePolls(
    client,
    polls.map((p) => p.id),
  );
  const { rows: kiosks } = await client.query<{ id: string }>(
    "select id from kiosks where school_id = $1",
    [schoolId],
  );
  const { rows: had } = await client.query<{ holidays: boolean }>(
    "select exists (select 1 from school_holidays where school_id = $1) as holidays",
    [schoolId],
  );
  // The people first, not by the school's cascade: their rows before go to people_changed
  // (migration 059), the groups they leave logged for the lesson registers.
  const { rowCount: people } = await client.query(deletePeopleSql("p.school_id = $1"), [schoolId]);
  await client.query("delete from schools where id = $1", [schoolId]);
  await notifyRegistryRows(
    client,
    "kiosks",
    kiosks.map((k) => k.id),
  );
  await notifyRegistryRows(client, "schools", [schoolId]);
  // People and holidays gone are changes of the school's roster and holidays (057).
  if ((people ?? 0) > 0) await peopleChanged(client, [schoolId]);
  else if (had[0]!.holidays) await attendanceSchoolsChanged(client, [schoolId]);
}

/** What the registry cache holds of a school admin: enough to authenticate and scope. */
export interface SchoolAdminCredential {
  id: string;
  schoolId: string;
  tokenHash: Buffer;
}

export async function loadSchoolAdminCredentials(
  db: Db,
  ids?: readonly string[],
): Promise<SchoolAdminCredential[]> {
  const select = "select id, school_id, token_hash from school_admins";
  const { rows } = await db.query<{ id: string; school_id: string; token_hash: Buffer }>(
    ids === undefined ? select : `${select} where id = any($1)`,
    ids === undefined ? [] : [ids],
  );
  return rows.map((r) => ({ id: r.id, schoolId: r.school_id, tokenHash: r.token_hash }));
}

/** A school admin as the API shows it: never its token. */
export interface SchoolAdmin {
  id: string;
  schoolId: string;
  label: string;
  createdAt: string;
}

interface AdminRow {
  id: string;
  school_id: string;
  label: string;
  created_at: Date;
}

const toAdmin = (r: AdminRow): SchoolAdmin => ({
  id: r.id,
  schoolId: r.school_id,
  label: r.label,
  createdAt: r.created_at.toISOString(),
});

export async function insertSchoolAdmin(
  db: Db,
  input: { id: string; schoolId: string; label: string; tokenHash: Buffer },
): Promise<SchoolAdmin> {
  const { rows } = await db.query<AdminRow>(
    `insert into school_admins (id, school_id, label, token_hash) values ($1, $2, $3, $4)
     returning id, school_id, label, created_at`,
    [input.id, input.schoolId, input.label, input.tokenHash],
  );
  return toAdmin(rows[0]!);
}

export async function listSchoolAdmins(db: Db, schoolId: string): Promise<SchoolAdmin[]> {
  const { rows } = await db.query<AdminRow>(
    `select id, school_id, label, created_at from school_admins where school_id = $1
     order by created_at, id`,
    [schoolId],
  );
  return rows.map(toAdmin);
}

/** Deletes the admin (its token stops working); the 404 when this school has no such admin. */
export async function deleteSchoolAdmin(
  db: Db,
  schoolId: string,
  adminId: string,
): Promise<SchoolAdmin> {
  const { rows } = await db.query<AdminRow>(
    `delete from school_admins where school_id = $1 and id = $2
     returning id, school_id, label, created_at`,
    [schoolId, adminId],
  );
  if (rows.length === 0)
    throw new NotFoundError(
      "school_admin_not_found",
      `school "${schoolId}" has no admin "${adminId}"`,
    );
  return toAdmin(rows[0]!);
}

/**
 * The school a poll or kiosk is being created in, key-share locked until the create
 * commits (the school cannot be deleted under it); undefined when there is none.
 */
export async function schoolForCreate(client: PoolClient, id: string): Promise<School | undefined> {
  const { rows } = await client.query<SchoolRow>(
    `select ${SCHOOL_COLUMNS} from schools where id = $1 for key share`,
    [id],
  );
  return rows[0] === undefined ? undefined : toSchool(rows[0]);
}

export async function schoolKioskIds(client: PoolClient, schoolId: string): Promise<string[]> {
  const { rows } = await client.query<{ id: string }>(
    "select id from kiosks where school_id = $1",
    [schoolId],
  );
  return rows.map((r) => r.id);
}
