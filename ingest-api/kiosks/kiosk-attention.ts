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

/** The sort key: group, votes waiting, the oldest waiting (ms; none: Infinity), id. */
export type AttentionKey = readonly [number, number, number, string];

/**
 * The sort key: the group, then the most votes waiting, the oldest waiting first (none:
 * after any instant), then the id (unique: a total order).
 */
export function attentionKey(k: AttentionInput, nowMs: number, offlineMs: number): AttentionKey {
  const oldest = k.status?.oldestPendingAt ?? null;
  const oldestMs = oldest === null ? Number.NaN : Date.parse(oldest);
  return [
    attentionGroup(k, nowMs, offlineMs),
    k.status?.pending ?? 0,
    Number.isNaN(oldestMs) ? Number.POSITIVE_INFINITY : oldestMs,
    k.id,
  ];
}

/** Compares two keys in the order: negative when `a` comes first. */
export function compareAttention(a: AttentionKey, b: AttentionKey): number {
  return (
    a[0] - b[0] ||
    b[1] - a[1] ||
    (a[2] === b[2] ? 0 : a[2] < b[2] ? -1 : 1) ||
    (a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0)
  );
}

/** A key as the cursor's parts (the instant in milliseconds: exact, unlike a date string). */
export const attentionParts = (key: AttentionKey): string[] => [
  String(key[0]),
  String(key[1]),
  key[2] === Number.POSITIVE_INFINITY ? "" : String(key[2]),
  key[3],
];

/** The cursor's parts as a key (checked by isAttentionPart first). */
export const attentionKeyOf = (parts: readonly string[]): AttentionKey => [
  Number(parts[0]),
  Number(parts[1]),
  parts[2] === "" ? Number.POSITIVE_INFINITY : Number(parts[2]),
  parts[3]!,
];

/** Whether a decoded cursor part is one of the key's (checked before any compare). */
export function isAttentionPart(part: string, index: number): boolean {
  switch (index) {
    case 0:
      return /^[0-5]$/.test(part);
    case 1:
      return /^\d{1,13}$/.test(part);
    case 2:
      return part === "" || /^-?\d{1,16}$/.test(part);
    default:
      return /^[A-Za-z0-9_-]{1,128}$/.test(part);
  }
}
