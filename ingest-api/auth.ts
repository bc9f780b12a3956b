import { createHash, timingSafeEqual } from "node:crypto";
import type { NextFunction, Request, Response } from "express";
import { ForbiddenError, UnauthorizedError } from "../common/errors.ts";
import type { RegistryCache } from "./registry-cache.ts";

declare global {
  namespace Express {
    interface Request {
      /** Set by requireKiosk: the kiosk id comes from the token, never from the body. */
      kioskId?: string;
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

export function requireKiosk(cache: RegistryCache) {
  return (req: Request, _res: Response, next: NextFunction) => {
    const token = bearer(req);
    if (token === undefined) return next(new UnauthorizedError("kiosk bearer token required"));
    const kiosk = cache.kioskByTokenHash(createHash("sha256").update(token).digest("hex"));
    if (kiosk === undefined) return next(new UnauthorizedError("unknown kiosk token"));
    if (kiosk.revoked)
      return next(new ForbiddenError("kiosk_revoked", `kiosk "${kiosk.id}" has been revoked`));
    req.kioskId = kiosk.id;
    next();
  };
}
