import { randomBytes } from "node:crypto";
import { pollPhase } from "../../common/browser/poll-phase.js";
import { ConflictError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import { type Pool, withTransaction } from "../../common/postgres.ts";
import { DEFAULT_SCHOOL_ID, type School } from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { pageOf } from "../http/page-cursor.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { RegistryService } from "../registry/registry-service.ts";
import { hashToken } from "../registry/registry-store.ts";
import type { SchoolListQuery } from "./school-list-query.ts";
import type { CreateSchool, UpdateSchool } from "./school-schemas.ts";
import * as store from "./school-store.ts";

export interface SchoolServiceDeps {
  pool: Pool;
  cache: RegistryCache;
  /** The side effects of deleting polls and kiosks (voter claims, kiosk health). */
  registry: Pick<RegistryService, "schoolDeleted" | "votesWaiting">;
  logger: Logger;
}

/** A school's figures in the schools list (`?figures=true`). */
export interface SchoolFigures {
  polls: number;
  openPolls: number;
  kiosks: number;
  /** null: kiosk health unavailable (Redis). */
  votesWaiting: number | null;
}

export type SchoolListing = School & { figures?: SchoolFigures };

/** The answer to issuing a school admin: its token, shown this once. */
export type IssuedSchoolAdmin = store.SchoolAdmin & { token: string };

/**
 * Schools and their admins (the deployment admin's), and the rules: the `default` school
 * cannot be deleted, and a school whose polls have votes only once those are archived (as
 * for a poll). Deleting a school deletes its polls (as a poll's delete does: delete_polls,
 * its votes queued for the writers' purge), kiosks, people and admins in one transaction.
 */
export class SchoolService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #registry: SchoolServiceDeps["registry"];
  readonly #logger: Logger;

  constructor(deps: SchoolServiceDeps) {
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#registry = deps.registry;
    this.#logger = deps.logger;
  }

  /**
   * A page of schools in id order, with each one's figures when asked: polls (not archived)
   * and those open now (the poll phase's rule), kiosks (not revoked) and the votes waiting
   * in their outboxes (null when Redis cannot be read). The figures are read for the page's
   * schools only: their cost is a page's, whatever the deployment holds.
   */
  async listSchools(
    query: SchoolListQuery,
  ): Promise<{ schools: SchoolListing[]; next: string | null }> {
    const rows = await store.listSchoolPage(this.#pool, query, query.limit + 1);
    const { items, next } = pageOf(rows, query.limit, (school) => [school.id]);
    if (!query.figures) return { schools: items, next };
    const counted = await store.schoolFigureRows(
      this.#pool,
      items.map((school) => school.id),
    );
    const waiting = await this.#registry.votesWaiting(counted.flatMap((r) => r.kioskIds));
    const nowMs = Date.now();
    const figures = new Map<string, SchoolFigures>();
    for (const row of counted)
      figures.set(row.schoolId, {
        polls: row.polls.length,
        openPolls: row.polls.filter((window) => pollPhase(window, nowMs) === "open").length,
        kiosks: row.kioskIds.length,
        votesWaiting:
          waiting === undefined
            ? null
            : row.kioskIds.reduce((sum, id) => sum + (waiting.get(id) ?? 0), 0),
      });
    return {
      schools: items.map((school) => ({ ...school, figures: figures.get(school.id)! })),
      next,
    };
  }

  getSchool(id: string, scope: SchoolScope): Promise<School> {
    return store.getSchool(this.#pool, id, scope);
  }

  async createSchool(input: CreateSchool): Promise<School> {
    const school = await withTransaction(this.#pool, (client) => store.insertSchool(client, input));
    await this.#refresh(school.id);
    return school;
  }

  async updateSchool(id: string, patch: UpdateSchool): Promise<School> {
    const school = await withTransaction(this.#pool, (client) =>
      store.updateSchool(client, id, patch),
    );
    await this.#refresh(id);
    return school;
  }

  async deleteSchool(id: string): Promise<School> {
    if (id === DEFAULT_SCHOOL_ID)
      throw new ConflictError(
        "school_is_default",
        `school "${id}" holds what predates schools and cannot be deleted`,
      );
    const { school, polls, kioskIds } = await withTransaction(this.#pool, async (client) => {
      const school = await store.lockSchool(client, id);
      const polls = await store.lockSchoolPolls(client, id);
      const blocking = polls.filter((p) => p.blocking).map((p) => p.id);
      if (blocking.length > 0)
        throw new ConflictError(
          "school_has_votes",
          `school "${id}" has polls with votes that are not archived: archive them first`,
          { pollIds: blocking },
        );
      const kioskIds = await store.schoolKioskIds(client, id);
      await store.deleteSchoolRows(client, id);
      return { school, polls, kioskIds };
    });
    await this.#registry.schoolDeleted(
      polls.map((p) => ({ pollId: p.id, incarnation: p.incarnation })),
      kioskIds,
    );
    return school;
  }

  /** A new credential for the school; only its hash is stored. */
  async issueAdmin(schoolId: string, label: string): Promise<IssuedSchoolAdmin> {
    await store.getSchool(this.#pool, schoolId, null); // or 404 school_not_found
    const token = `tfs_${randomBytes(32).toString("base64url")}`;
    const admin = await store.insertSchoolAdmin(this.#pool, {
      id: `sa-${randomBytes(9)
        .toString("base64url")
        .replace(/[^A-Za-z0-9]/g, "x")}`,
      schoolId,
      label,
      tokenHash: hashToken(token),
    });
    await this.#refreshAdmin(admin.id);
    return { ...admin, token };
  }

  async listAdmins(schoolId: string): Promise<store.SchoolAdmin[]> {
    await store.getSchool(this.#pool, schoolId, null);
    return store.listSchoolAdmins(this.#pool, schoolId);
  }

  /** Revokes at once here; every other API process hears it through NOTIFY (within 1 s). */
  async revokeAdmin(schoolId: string, adminId: string): Promise<store.SchoolAdmin> {
    const admin = await store.deleteSchoolAdmin(this.#pool, schoolId, adminId);
    await this.#refreshAdmin(adminId);
    return admin;
  }

  /** As for the registry's writes: this process's cache is current before the answer. */
  async #refresh(schoolId: string): Promise<void> {
    await this.#cache
      .refreshSchool(schoolId)
      .catch((err: unknown) => this.#logger.warn({ err, schoolId }, "school cache refresh failed"));
  }

  async #refreshAdmin(adminId: string): Promise<void> {
    await this.#cache
      .refreshSchoolAdmin(adminId)
      .catch((err: unknown) =>
        this.#logger.warn({ err, adminId }, "school admin cache refresh failed"),
      );
  }
}
