import { timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { ForbiddenError } from "../../common/errors.ts";
import { actorOfSession, type ConsoleService } from "./console-service.ts";

/** The session cookie: HttpOnly, SameSite=Strict, Secure over TLS (req.secure, TRUST_PROXY). */
export const SESSION_COOKIE = "tallyflow_console";
/** The header a console page sends its session's CSRF token in, on every state-changing request. */
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** The sign-in itself: its invite code is its proof, and a stale cookie must not block it. */
const SIGN_IN = "/v1/console/sessions";

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const value = part.slice(eq + 1).trim();
      return value === "" ? undefined : value;
    }
  }
  return undefined;
}

export function setSessionCookie(req: Request, res: Response, token: string, maxMs: number) {
  res.cookie(SESSION_COOKIE, token, {
    httpOnly: true,
    sameSite: "strict",
    secure: req.secure,
    path: "/",
    maxAge: maxMs,
  });
}

export function clearSessionCookie(req: Request, res: Response) {
  res.clearCookie(SESSION_COOKIE, {
    httpOnly: true,
    sameSite: "strict",
    secure: req.secure,
    path: "/",
  });
}

function sameSecret(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Before the admin routes: a request with no bearer token but a session cookie gets the
 * session's actor (requireAdmin takes it), after its row is read (revocation and expiry hold
 * at once). A state-changing request must carry the session's CSRF token in X-CSRF-Token
 * (403 csrf_failed): SameSite=Strict already keeps other sites' requests cookieless, and the
 * token covers browsers and same-site pages that do not.
 */
export function consoleSessionLayer(service: ConsoleService): RequestHandler {
  return (req, _res, next) => {
    if (req.headers.authorization !== undefined) return next();
    const token = readCookie(req, SESSION_COOKIE);
    if (token === undefined) return next();
    service.session(token).then((session) => {
      if (session === undefined) {
        req.consoleSessionRefused = true;
        return next();
      }
      const path = `${req.baseUrl}${req.path}`;
      if (!SAFE_METHODS.has(req.method) && path !== SIGN_IN) {
        if (!sameSecret(req.get(CSRF_HEADER), session.csrfToken))
          return next(
            new ForbiddenError(
              "csrf_failed",
              `a console session's ${req.method} needs its CSRF token in ${CSRF_HEADER}`,
            ),
          );
      }
      req.consoleSession = { id: session.id, actor: actorOfSession(session) };
      next();
    }, next);
  };
}
