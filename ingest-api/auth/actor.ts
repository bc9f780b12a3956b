import type { Request } from "express";
import { NotFoundError, ValidationError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";

/**
 * Who is acting on the admin API. The deployment admin acts for every school; a school
 * admin for its own school only.
 */
export type Actor =
  | { kind: "deployment" }
  | { kind: "school"; schoolId: string; adminId: string }
  /** A teacher (lesson registers only: ingest-api/registers/register-auth.ts). */
  | { kind: "teacher"; schoolId: string; teacherId: string };

/**
 * The school an actor is limited to, or null for every school. Services take this, never
 * the actor: a query filtered by it answers another school's object as it answers a
 * missing one (404, no existence leak).
 */
export type SchoolScope = string | null;

export function scopeOf(actor: Actor): SchoolScope {
  return actor.kind === "deployment" ? null : actor.schoolId;
}

/** The request's scope (set by requireAdmin, which every admin route runs first). */
export function requestScope(req: Request): SchoolScope {
  if (req.actor === undefined) throw new Error("requestScope before requireAdmin");
  return scopeOf(req.actor);
}

/** Whether the actor may act for this school (its own, or any for the deployment admin). */
export function actsFor(scope: SchoolScope, schoolId: string): boolean {
  return scope === null || scope === schoolId;
}

/**
 * A listing's scope: the request's, narrowed by `?schoolId=` (the deployment admin's filter;
 * a school admin naming another school gets the 404 a missing school gets).
 */
export function listScope(req: Request): SchoolScope {
  const scope = requestScope(req);
  const asked = req.query.schoolId;
  if (asked === undefined) return scope;
  const parsed = idSchema.safeParse(asked);
  if (!parsed.success)
    throw new ValidationError([{ field: "schoolId", message: "is not a valid school id" }]);
  if (!actsFor(scope, parsed.data))
    throw new NotFoundError("school_not_found", `school "${parsed.data}" does not exist`);
  return parsed.data;
}
