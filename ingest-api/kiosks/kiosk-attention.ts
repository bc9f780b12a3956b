import type { KioskHealthEntry } from "./kiosk-health.ts";

// The fleet sorted by what needs attention first: the one home of that order, which
// GET /v1/kiosks?sort=attention pages and the console shows as it comes.

/** A kiosk as the order sees it: revoked or not, and its health. */
export interface AttentionInput extends KioskHealthEntry {
  id: string;
  revokedAt: string | null;
}

/**
 * Groups, first to last: offline with votes waiting, votes waiting (online or never seen),
 * offline, online, never seen, revoked. Offline: not heard from within `offlineMs`
 * (KIOSK_SEEN_RECENTLY_MS, the fleet gauge's "seen recently").
 */
export function attentionGroup(k: AttentionInput, nowMs: number, offlineMs: number): number {
  if (k.revokedAt !== null) return 5;
  const pending = k.status?.pending ?? 0;
  const offline = k.lastSeenAt !== null && nowMs - Date.parse(k.lastSeenAt) > offlineMs;
  if (pending > 0) return offline ? 0 : 1;
  if (offline) return 2;
  return k.lastSeenAt === null ? 4 : 3;
}

/**
 * The sort key, also the page cursor's parts: the group, then the most votes waiting, the
 * oldest waiting first ("" when none: after any instant), then the id (unique: a total order).
 */
export function attentionKey(
  k: AttentionInput,
  nowMs: number,
  offlineMs: number,
): [string, string, string, string] {
  const pending = k.status?.pending ?? 0;
  return [
    String(attentionGroup(k, nowMs, offlineMs)),
    String(pending),
    k.status?.oldestPendingAt ?? "",
    k.id,
  ];
}

/** Compares two keys in the order: negative when `a` comes first. */
export function compareAttention(a: readonly string[], b: readonly string[]): number {
  const group = Number(a[0]) - Number(b[0]);
  if (group !== 0) return group;
  const pending = Number(b[1]) - Number(a[1]);
  if (pending !== 0) return pending;
  const [ao, bo] = [a[2]!, b[2]!];
  if (ao !== bo) {
    if (ao === "") return 1;
    if (bo === "") return -1;
    return Date.parse(ao) - Date.parse(bo) || (ao < bo ? -1 : 1);
  }
  return a[3]! < b[3]! ? -1 : a[3]! > b[3]! ? 1 : 0;
}

/** Whether a decoded cursor part is one of the key's (checked before any compare). */
export function isAttentionPart(part: string, index: number): boolean {
  switch (index) {
    case 0:
      return /^[0-5]$/.test(part);
    case 1:
      return /^\d{1,13}$/.test(part);
    case 2:
      return part === "" || (part.length <= 40 && !Number.isNaN(Date.parse(part)));
    default:
      return /^[A-Za-z0-9_-]{1,128}$/.test(part);
  }
}
