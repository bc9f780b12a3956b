import type { NextFunction, Request, Response } from "express";

/**
 * Headers on every answer of the API, errors and 304s included: `nosniff`, so a browser
 * never reads a JSON answer (or a PNG) as script or HTML; and HSTS only when the API is
 * configured as served over TLS (`HSTS_MAX_AGE_SECONDS`), since kiosks on a LAN often use
 * plain HTTP and a browser that saw HSTS once would refuse that host's HTTP for max-age.
 */
export function apiSecurityHeaders(hstsMaxAgeSeconds: number) {
  const hsts = hstsMaxAgeSeconds > 0 ? `max-age=${hstsMaxAgeSeconds}` : undefined;
  return (_req: Request, res: Response, next: NextFunction) => {
    res.setHeader("X-Content-Type-Options", "nosniff");
    if (hsts !== undefined) res.setHeader("Strict-Transport-Security", hsts);
    next();
  };
}
