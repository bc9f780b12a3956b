import type { Request } from "express";
import { ValidationError } from "../../common/errors.ts";

/**
 * A Host header a link may be built on: a name (a compose service's `_` and a final dot
 * allowed), IPv4 or [IPv6], and an optional port.
 */
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?\.?|\[[0-9A-Fa-f:.]{2,45}\])(?::\d{1,5})?$/;

/**
 * The origin a link carrying a credential is built on (a kiosk's pairing, a console invite, a
 * teacher's sign-in link): PUBLIC_URL, or else the request's protocol and Host. The Host is
 * the client's to send: `a@evil.example` or `evil.example/x?` would send the code elsewhere,
 * or break the link, so anything but a host and a port is a 400 naming `Host`.
 * req.protocol follows X-Forwarded-Proto only through TRUST_PROXY.
 */
export function linkBase(req: Request, publicUrl: string | undefined, what: string): string {
  if (publicUrl !== undefined) return publicUrl;
  const host = req.get("host");
  if (host === undefined)
    throw new ValidationError([
      { field: "Host", message: `is required to build the ${what} (or set PUBLIC_URL)` },
    ]);
  if (!HOST.test(host))
    throw new ValidationError([
      {
        field: "Host",
        message: `must be a host name and an optional port to build the ${what} (or set PUBLIC_URL)`,
      },
    ]);
  return `${req.protocol}://${host}`;
}
