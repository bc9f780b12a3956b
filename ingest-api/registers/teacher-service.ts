import { randomBytes } from "node:crypto";
import type { Logger } from "../../common/logger.ts";
import type { Pool } from "../../common/postgres.ts";
import type { SchoolScope } from "../auth/actor.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { hashToken } from "../registry/registry-store.ts";
import { getSchool } from "../schools/school-store.ts";
import * as store from "./teacher-store.ts";

/** The answer to issuing a teacher: its token, shown this once. */
export type IssuedTeacher = store.Teacher & { token: string };

/**
 * Teachers' credentials, issued and revoked by the school's admin (or the deployment
 * admin): as school admins' (school-service.ts), a random token of which only the sha256 is
 * kept, revoked by deleting the row (this process's cache at once, the others by NOTIFY).
 */
export class TeacherService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #logger: Logger;

  constructor(pool: Pool, cache: RegistryCache, logger: Logger) {
    this.#pool = pool;
    this.#cache = cache;
    this.#logger = logger;
  }

  async issue(schoolId: string, label: string, scope: SchoolScope): Promise<IssuedTeacher> {
    await getSchool(this.#pool, schoolId, scope); // or 404 school_not_found
    const token = `tft_${randomBytes(32).toString("base64url")}`;
    const teacher = await store.insertTeacher(this.#pool, {
      id: `tt-${randomBytes(9)
        .toString("base64url")
        .replace(/[^A-Za-z0-9]/g, "x")}`,
      schoolId,
      label,
      tokenHash: hashToken(token),
    });
    await this.#refresh(teacher.id);
    return { ...teacher, token };
  }

  async list(schoolId: string, scope: SchoolScope): Promise<store.Teacher[]> {
    await getSchool(this.#pool, schoolId, scope);
    return store.listTeachers(this.#pool, schoolId);
  }

  async revoke(schoolId: string, teacherId: string, scope: SchoolScope): Promise<store.Teacher> {
    await getSchool(this.#pool, schoolId, scope);
    const teacher = await store.deleteTeacher(this.#pool, schoolId, teacherId);
    await this.#refresh(teacherId);
    return teacher;
  }

  async #refresh(teacherId: string): Promise<void> {
    await this.#cache
      .refreshTeacher(teacherId)
      .catch((err: unknown) =>
        this.#logger.warn({ err, teacherId }, "teacher cache refresh failed"),
      );
  }
}
