import { NotFoundError } from "../../common/errors.ts";
import type { Pool, PoolClient } from "../../common/postgres.ts";

// Postgres access for teachers (school_teachers, migration 026): SQL only, as school admins'
// in school-store.ts. Only the sha256 of a token is stored.

type Db = Pool | PoolClient;

/** What the registry cache holds of a teacher: enough to authenticate and scope. */
export interface TeacherCredential {
  id: string;
  schoolId: string;
  tokenHash: Buffer;
}

export async function loadTeacherCredentials(
  db: Db,
  ids?: readonly string[],
): Promise<TeacherCredential[]> {
  const select = "select id, school_id, token_hash from school_teachers";
  const { rows } = await db.query<{ id: string; school_id: string; token_hash: Buffer }>(
    ids === undefined ? select : `${select} where id = any($1)`,
    ids === undefined ? [] : [ids],
  );
  return rows.map((r) => ({ id: r.id, schoolId: r.school_id, tokenHash: r.token_hash }));
}

/** A teacher as the API shows it: never its token. */
export interface Teacher {
  id: string;
  schoolId: string;
  label: string;
  createdAt: string;
}

interface TeacherRow {
  id: string;
  school_id: string;
  label: string;
  created_at: Date;
}

const toTeacher = (r: TeacherRow): Teacher => ({
  id: r.id,
  schoolId: r.school_id,
  label: r.label,
  createdAt: r.created_at.toISOString(),
});

export async function insertTeacher(
  db: Db,
  input: { id: string; schoolId: string; label: string; tokenHash: Buffer },
): Promise<Teacher> {
  const { rows } = await db.query<TeacherRow>(
    `insert into school_teachers (id, school_id, label, token_hash) values ($1, $2, $3, $4)
     returning id, school_id, label, created_at`,
    [input.id, input.schoolId, input.label, input.tokenHash],
  );
  return toTeacher(rows[0]!);
}

export async function listTeachers(db: Db, schoolId: string): Promise<Teacher[]> {
  const { rows } = await db.query<TeacherRow>(
    `select id, school_id, label, created_at from school_teachers where school_id = $1
     order by created_at, id`,
    [schoolId],
  );
  return rows.map(toTeacher);
}

/** Deletes the teacher (its token stops working); 404 when this school has no such teacher. */
export async function deleteTeacher(db: Db, schoolId: string, teacherId: string): Promise<Teacher> {
  const { rows } = await db.query<TeacherRow>(
    `delete from school_teachers where school_id = $1 and id = $2
     returning id, school_id, label, created_at`,
    [schoolId, teacherId],
  );
  if (rows.length === 0)
    throw new NotFoundError(
      "teacher_not_found",
      `school "${schoolId}" has no teacher "${teacherId}"`,
    );
  return toTeacher(rows[0]!);
}

/** A teacher with the hash of its current token: what a sign-in link is checked against. */
export async function getTeacherCredential(
  db: Db,
  teacherId: string,
): Promise<(Teacher & { tokenHash: Buffer }) | undefined> {
  const { rows } = await db.query<TeacherRow & { token_hash: Buffer }>(
    "select id, school_id, label, created_at, token_hash from school_teachers where id = $1",
    [teacherId],
  );
  const row = rows[0];
  return row === undefined ? undefined : { ...toTeacher(row), tokenHash: row.token_hash };
}

/**
 * Replaces the teacher's token, if it is still `oldHash` (a sign-in link names the token it
 * replaces: a second use finds another and changes nothing). The row is deleted and inserted
 * again with its id, label and creation time (the API may insert and delete teachers, not
 * update them: migration 026's grants); in the caller's transaction, so that a concurrent
 * use waits for this one and then finds no row with `oldHash`. Undefined when none matched.
 */
export async function replaceTeacherToken(
  client: PoolClient,
  teacherId: string,
  oldHash: Buffer,
  newHash: Buffer,
): Promise<Teacher | undefined> {
  const { rows } = await client.query<TeacherRow>(
    `delete from school_teachers where id = $1 and token_hash = $2
     returning id, school_id, label, created_at`,
    [teacherId, oldHash],
  );
  const old = rows[0];
  if (old === undefined) return undefined;
  const inserted = await client.query<TeacherRow>(
    `insert into school_teachers (id, school_id, label, token_hash, created_at)
     values ($1, $2, $3, $4, $5) returning id, school_id, label, created_at`,
    [old.id, old.school_id, old.label, newHash, old.created_at],
  );
  return toTeacher(inserted.rows[0]!);
}
