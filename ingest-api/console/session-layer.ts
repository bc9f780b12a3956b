import { timingSafeEqual } from "node:crypto";
import type { Request, RequestHandler, Response } from "express";
import { actorOfSession, type ConsoleService } from "./console-service.ts";

/** The session cookie: HttpOnly, SameSite=Strict, Secure over TLS (req.secure, TRUST_PROXY). */
export const SESSION_COOKIE = "tallyflow_console";
/** The header a console page sends its session's CSRF token in, on every state-changing request. */
export const CSRF_HEADER = "X-CSRF-Token";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

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
 * at once). Whether a state-changing request carries the session's CSRF token
 * (X-CSRF-Token) is noted here and enforced by requireAdmin (403 csrf_failed), so that only
 * the routes that act on the session's authority need it: a kiosk paired in a browser that
 * is signed in to the console is not refused. SameSite=Strict already keeps other sites'
 * requests cookieless; the token covers browsers and same-site pages that do not.
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
      req.consoleSession = {
        id: session.id,
        actor: actorOfSession(session),
        csrfOk: SAFE_METHODS.has(req.method) || sameSecret(req.get(CSRF_HEADER), session.csrfToken),
      };
      next();
    }, next);
  };
}
