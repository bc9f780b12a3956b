import { createHash, randomBytes } from "node:crypto";
import type { IngestHarness } from "./ingest.ts";

// Schools and school admins written straight into Postgres, for tests of the rooms that
// scope by school (the people API) without going through the schools API. The harness's
// registry cache is reloaded, so the admin's token is known when this resolves.

export interface TestSchoolAdmin {
  schoolId: string;
  token: string;
  /** Headers to send as this school's admin. */
  auth: { Authorization: string };
}

export async function insertSchool(h: IngestHarness, id: string, name = `School ${id}`) {
  await h.db.pool.query("insert into schools (id, name) values ($1, $2)", [id, name]);
  await h.cache.reload();
}

/** A school admin credential of `schoolId`, stored as the schools API stores one (sha256). */
export async function insertSchoolAdmin(
  h: IngestHarness,
  schoolId: string,
): Promise<TestSchoolAdmin> {
  const token = randomBytes(32).toString("base64url");
  const id = `admin-${randomBytes(4).toString("hex")}`;
  await h.db.pool.query(
    "insert into school_admins (id, school_id, label, token_hash) values ($1, $2, $3, $4)",
    [id, schoolId, `Admin of ${schoolId}`, createHash("sha256").update(token).digest()],
  );
  await h.cache.reload();
  return { schoolId, token, auth: { Authorization: `Bearer ${token}` } };
}
