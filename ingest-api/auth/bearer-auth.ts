import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { ForbiddenError, UnauthorizedError } from "../../common/errors.ts";
import type { CachedKiosk, RegistryCache } from "../registry/registry-cache.ts";
import type { Actor } from "./actor.ts";

declare global {
  namespace Express {
    interface Request {
      /** Set by requireKiosk: the kiosk id comes from the token, never from the body. */
      kioskId?: string;
      /** Set by requireKiosk: the kiosk as the registry cache holds it (name, poll scope). */
      kiosk?: CachedKiosk;
      /** Set by requireAdmin and requireDeploymentAdmin: who is acting, and for which school. */
      actor?: Actor;
      /** Set by requireKioskOrTeacher for a teacher's token: it votes in lesson registers only. */
      teacher?: { id: string; schoolId: string };
      /**
       * Set by the console's session layer (ingest-api/console/session-layer.ts) for a request
       * without a bearer token whose session cookie is live: requireAdmin takes it as the
       * actor, or answers 403 csrf_failed when a state-changing request lacks its CSRF token.
       */
      consoleSession?: { id: string; actor: Actor; csrfOk: boolean };
      /** Set by that layer when the request's session cookie is unknown, revoked or expired. */
      consoleSessionRefused?: boolean;
    }
  }
}

export function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  // The auth scheme is case-insensitive (RFC 9110); the token itself is not.
  if (header === undefined || !/^bearer /i.test(header)) return undefined;
  const token = header.slice(7).trim();
  return token === "" ? undefined : token;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest();

/**
 * The deployment admin (ADMIN_TOKEN) or a school admin (a token the deployment admin
 * issued, looked up by its hash in the registry cache, so a revocation holds as soon as
 * the cache hears of it), or a console session acting as either (read from Postgres per
 * request by the console's session layer). Sets `req.actor`; which objects the actor may see is the
 * services' (scope.ts), where another school's object is the same 404 as a missing one.
 */
export function requireAdmin(adminToken: string, cache: RegistryCache) {
  const expected = sha256(adminToken);
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (token === undefined) {
      // Scripts use bearer tokens; the console's browser a session cookie (HttpOnly).
      if (req.consoleSession !== undefined) {
        if (!req.consoleSession.csrfOk)
          return next(
            new ForbiddenError(
              "csrf_failed",
              `a console session's ${req.method} needs its CSRF token in X-CSRF-Token`,
            ),
          );
        req.actor = req.consoleSession.actor;
        return next();
      }
      return next(
        new UnauthorizedError(
          req.consoleSessionRefused
            ? "the console session is unknown, revoked or expired: sign in again"
            : "admin bearer token required",
        ),
      );
    }
    const given = sha256(token);
    // Compare digests in constant time: the token's length and prefix stay secret.
    if (timingSafeEqual(given, expected)) {
      req.actor = { kind: "deployment" };
      return next();
    }
    // School admin tokens have full entropy: a lookup by their hash leaks nothing.
    const admin = cache.schoolAdminByTokenHash(given.toString("hex"));
    if (admin === undefined) {
      if (cache.teacherByTokenHash(given.toString("hex")) !== undefined)
        return next(teacherNotAllowed());
      return next(new UnauthorizedError("invalid admin token"));
    }
    req.actor = { kind: "school", schoolId: admin.schoolId, adminId: admin.id };
    next();
  };
}

/** Deployment-wide operations (schools and their admins): ADMIN_TOKEN only. */
export function requireDeploymentAdmin(adminToken: string, cache: RegistryCache) {
  const admin = requireAdmin(adminToken, cache);
  return (req: Request, res: Response, next: NextFunction) =>
    admin(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      if (req.actor?.kind !== "deployment")
        return next(
          new ForbiddenError(
            "deployment_admin_required",
            "this operation needs the deployment admin token (ADMIN_TOKEN), not a school admin's",
          ),
        );
      next();
    });
}

export const teacherNotAllowed = () =>
  new ForbiddenError(
    "teacher_not_allowed",
    "a teacher's token takes and reads its school's lesson registers only",
  );

/**
 * An admin (as requireAdmin) or a teacher of a school (a token its admin issued,
 * ingest-api/registers/): the lesson registers' reads and completion. A teacher acts for
 * its own school only, as a school admin does (`req.actor.kind === "teacher"`).
 */
export function requireAdminOrTeacher(adminToken: string, cache: RegistryCache) {
  const admin = requireAdmin(adminToken, cache);
  return (req: Request, res: Response, next: NextFunction) => {
    const token = bearer(req);
    const teacher =
      token === undefined ? undefined : cache.teacherByTokenHash(sha256(token).toString("hex"));
    if (teacher === undefined) return admin(req, res, next);
    req.actor = { kind: "teacher", schoolId: teacher.schoolId, teacherId: teacher.id };
    next();
  };
}

/**
 * A teacher only (the register page's "my day"): `req.actor` is the teacher; any other
 * token, or none, is 401.
 */
export function requireTeacher(cache: RegistryCache) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    const teacher =
      token === undefined ? undefined : cache.teacherByTokenHash(sha256(token).toString("hex"));
    if (teacher === undefined) return next(new UnauthorizedError("teacher bearer token required"));
    req.actor = { kind: "teacher", schoolId: teacher.schoolId, teacherId: teacher.id };
    next();
  };
}

// Known kiosk tokens → their sha256: a kiosk sends the same token with every vote, and
// hashing it each time was a measurable share of a vote's CPU. Only tokens that matched
// a kiosk are kept (random tokens cannot churn it); the registry lookup still runs on
// every request, so a revocation is seen at once. Bounded: cleared when full.
const MAX_CACHED_TOKENS = 50_000;

export function requireKiosk(cache: RegistryCache, acceptTeachers = false) {
  const knownHashes = new Map<string, string>();
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (token === undefined) return next(new UnauthorizedError("kiosk bearer token required"));
    let hash = knownHashes.get(token);
    if (hash === undefined) hash = createHash("sha256").update(token).digest("hex");
    const kiosk = cache.kioskByTokenHash(hash);
    if (kiosk !== undefined && !knownHashes.has(token)) {
      if (knownHashes.size >= MAX_CACHED_TOKENS) knownHashes.clear();
      knownHashes.set(token, hash);
    }
    if (kiosk === undefined) {
      // A teacher takes its school's lesson registers through the same routes (and outbox).
      const teacher = cache.teacherByTokenHash(hash);
      if (teacher === undefined || !acceptTeachers)
        return next(new UnauthorizedError("unknown kiosk token"));
      req.kioskId = teacher.id;
      req.teacher = teacher;
      return next();
    }
    if (kiosk.revoked)
      return next(new ForbiddenError("kiosk_revoked", `kiosk "${kiosk.id}" has been revoked`));
    req.kioskId = kiosk.id;
    req.kiosk = kiosk;
    next();
  };
}
