import { isIPv6 } from "node:net";
import type { Request } from "express";

/**
 * Who a per-address limit counts: the client's address (the socket's, or X-Forwarded-For
 * through `trust proxy`), with an IPv4 client seen through an IPv6 socket as its IPv4
 * form, and an IPv6 client as its /64 — one subscriber's network, whose 2^64 addresses
 * would otherwise each get a budget of their own.
 */
export function clientAddress(req: Request): string {
  return addressKey(req.ip ?? req.socket.remoteAddress ?? "unknown");
}

export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${ipv6Groups(address.split("%")[0]!).slice(0, 4).join(":")}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in hex without leading zeros. */
function ipv6Groups(address: string): string[] {
  const split = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => {
          if (!g.includes(".")) return [g];
          const [a, b, c, d] = g.split(".").map(Number) as [number, number, number, number];
          return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
        });
  const [head = "", tail] = address.split("::");
  const h = split(head);
  const t = tail === undefined ? [] : split(tail);
  const zeros = Array.from({ length: 8 - h.length - t.length }, () => "0");
  return [...h, ...zeros, ...t].map((g) => Number.parseInt(g, 16).toString(16));
}
