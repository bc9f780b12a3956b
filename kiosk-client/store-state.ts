import type { OutboxEntry, RefusedEntry, Settlement, StoreCounts } from "./types.ts";

// The outbox's state as a fold over records: the in-memory store keeps only this, and the
// file store replays its journal (the same records, one JSON line each) into it at open.
// Browser-safe.

export type StoreRecord =
  | { t: "enq"; e: OutboxEntry }
  | { t: "settle"; acked: string[]; refused: RefusedEntry[]; at: number }
  /** Written by compaction: a refused entry and the last send time, as they stood. */
  | { t: "refused"; r: RefusedEntry }
  | { t: "meta"; lastSentAt: number | null };

export class StoreState {
  /** Insertion order is queue order (a Map iterates in insertion order). */
  readonly pendingById = new Map<string, OutboxEntry>();
  readonly refusedById = new Map<string, RefusedEntry>();
  lastSentAt: number | null = null;

  /** Applies one record; returns false when it changed nothing (a repeat enqueue). */
  apply(record: StoreRecord): boolean {
    switch (record.t) {
      case "enq": {
        const id = record.e.eventId;
        if (this.pendingById.has(id) || this.refusedById.has(id)) return false;
        this.pendingById.set(id, record.e);
        return true;
      }
      case "settle":
        for (const id of record.acked) this.pendingById.delete(id);
        for (const r of record.refused) {
          this.pendingById.delete(r.entry.eventId);
          this.refusedById.set(r.entry.eventId, r);
        }
        this.lastSentAt = record.at;
        return true;
      case "refused":
        this.refusedById.set(record.r.entry.eventId, record.r);
        return true;
      case "meta":
        this.lastSentAt = record.lastSentAt;
        return true;
    }
  }

  /** The records that rebuild this state: what compaction writes. */
  liveRecords(): StoreRecord[] {
    const records: StoreRecord[] = [{ t: "meta", lastSentAt: this.lastSentAt }];
    for (const r of this.refusedById.values()) records.push({ t: "refused", r });
    for (const e of this.pendingById.values()) records.push({ t: "enq", e });
    return records;
  }

  /** New entries only (an eventId already pending or refused is not queued twice). */
  fresh(entries: OutboxEntry[]): OutboxEntry[] {
    const seen = new Set<string>();
    return entries.filter((e) => {
      if (this.pendingById.has(e.eventId) || this.refusedById.has(e.eventId) || seen.has(e.eventId))
        return false;
      seen.add(e.eventId);
      return true;
    });
  }

  settleRecord(s: Settlement): StoreRecord {
    return { t: "settle", acked: s.acked, refused: s.refused, at: s.sentAt };
  }

  pending(limit: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const e of this.pendingById.values()) {
      if (out.length >= limit) break;
      out.push(e);
    }
    return out;
  }

  counts(): StoreCounts {
    const first = this.pendingById.values().next();
    return {
      pending: this.pendingById.size,
      refused: this.refusedById.size,
      oldestPendingAt: first.done ? null : first.value.enqueuedAt,
      lastSentAt: this.lastSentAt,
    };
  }
}
