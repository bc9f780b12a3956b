import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { ForbiddenError, UnauthorizedError } from "../../common/errors.ts";
import type { CachedKiosk, RegistryCache } from "../registry/registry-cache.ts";

declare global {
  namespace Express {
    interface Request {
      /** Set by requireKiosk: the kiosk id comes from the token, never from the body. */
      kioskId?: string;
      /** Set by requireKiosk: the kiosk as the registry cache holds it (name, poll scope). */
      kiosk?: CachedKiosk;
    }
  }
}

function bearer(req: Request): string | undefined {
  const header = req.headers.authorization;
  // The auth scheme is case-insensitive (RFC 9110); the token itself is not.
  if (header === undefined || !/^bearer /i.test(header)) return undefined;
  const token = header.slice(7).trim();
  return token === "" ? undefined : token;
}

export function requireAdmin(adminToken: string) {
  const expected = createHash("sha256").update(adminToken).digest();
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    // Compare digests in constant time: the token's length and prefix stay secret.
    if (token === undefined) return next(new UnauthorizedError("admin bearer token required"));
    const given = createHash("sha256").update(token).digest();
    if (!timingSafeEqual(given, expected))
      return next(new UnauthorizedError("invalid admin token"));
    next();
  };
}

// Known kiosk tokens → their sha256: a kiosk sends the same token with every vote, and
// hashing it each time was a measurable share of a vote's CPU. Only tokens that matched
// a kiosk are kept (random tokens cannot churn it); the registry lookup still runs on
// every request, so a revocation is seen at once. Bounded: cleared when full.
const MAX_CACHED_TOKENS = 50_000;

export function requireKiosk(cache: RegistryCache) {
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
    if (kiosk === undefined) return next(new UnauthorizedError("unknown kiosk token"));
    if (kiosk.revoked)
      return next(new ForbiddenError("kiosk_revoked", `kiosk "${kiosk.id}" has been revoked`));
    req.kioskId = kiosk.id;
    req.kiosk = kiosk;
    next();
  };
}
