import type { Settlement } from "./types.ts";

// Which refusals are kept for another try: an API process learns of a registry change
// (a poll or an option created through another process) a moment after it commits, and
// until then answers 404 poll_not_found or 422 unknown_option for a vote the kiosk was
// right to cast. Such an item stays pending for a bounded time from its first such answer,
// then is refused like any other. Browser-safe.

const LAGGING_CODES: ReadonlySet<string> = new Set(["poll_not_found", "unknown_option"]);

export class RegistryLag {
  readonly #windowMs: number;
  /** eventId → epoch ms of its first lagging answer (in this process: a restart starts again). */
  readonly #since = new Map<string, number>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Takes the refusals still within the window out of `settlement`; returns how many. */
  defer(settlement: Settlement, now: number): number {
    let deferred = 0;
    settlement.refused = settlement.refused.filter(({ entry, error }) => {
      if (!LAGGING_CODES.has(error.code)) return true;
      const since = this.#since.get(entry.eventId) ?? now;
      this.#since.set(entry.eventId, since);
      if (now - since >= this.#windowMs) return true;
      deferred++;
      return false;
    });
    for (const id of settlement.acked) this.#since.delete(id);
    for (const r of settlement.refused) this.#since.delete(r.entry.eventId);
    return deferred;
  }
}
