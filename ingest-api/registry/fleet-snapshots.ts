import type { Kiosk } from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { type AttentionKey, compareAttention } from "../kiosks/kiosk-attention.ts";
import type { KioskHealthEntry } from "../kiosks/kiosk-health.ts";

/** A fleet sorted by attention: its kiosks, each with its key, first to last. */
export type SortedFleet = readonly { listing: Kiosk & KioskHealthEntry; key: AttentionKey }[];

/**
 * The fleet sorted by what needs attention first, kept for `ttlMs` per scope and search:
 * the sort needs every kiosk of the scope with its health (10,000 at the reference scale
 * for the deployment admin, some 300 ms of one core), so concurrent readers and the pages
 * after the first share one read (single flight) instead of each paying it. Health is
 * itself at most KIOSK_STATUS_WRITE_MS behind; a change this process makes (a kiosk
 * created, changed, revoked) clears the snapshots at once, another process's within ttlMs.
 * Pages of one snapshot are one consistent order: no kiosk twice, none skipped.
 */
export class FleetSnapshots {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #entries = new Map<string, { atMs: number; fleet: Promise<SortedFleet | undefined> }>();

  constructor(ttlMs: number, maxEntries = 64) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  /** The snapshot of (scope, q), read by `load` when none is fresh (undefined: not kept). */
  get(
    scope: SchoolScope,
    q: string | undefined,
    load: () => Promise<SortedFleet | undefined>,
  ): Promise<SortedFleet | undefined> {
    const key = `${scope ?? ""}\u0000${q ?? ""}`;
    const now = Date.now();
    const held = this.#entries.get(key);
    if (held !== undefined && now - held.atMs < this.#ttlMs) return held.fleet;
    if (this.#ttlMs === 0) return load();
    // The oldest entry goes first: a bounded map whatever the searches typed.
    if (this.#entries.size >= this.#maxEntries)
      this.#entries.delete(this.#entries.keys().next().value!);
    const fleet = load().then((sorted) => {
      // Without health (Redis down) nothing is kept: the next read tries again.
      if (sorted === undefined) this.#entries.delete(key);
      return sorted;
    });
    fleet.catch(() => this.#entries.delete(key));
    this.#entries.delete(key);
    this.#entries.set(key, { atMs: now, fleet });
    return fleet;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** The index of the first kiosk after `after` (binary search; the fleet's length: none). */
export function firstAfter(fleet: readonly { key: AttentionKey }[], after: AttentionKey): number {
  let lo = 0;
  let hi = fleet.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareAttention(fleet[mid]!.key, after) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
