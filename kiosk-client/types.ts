import type { ApiVote, RejectedItemError } from "./api-shapes.ts";

// The shapes the outbox, its sender and its stores share. Browser-safe: no Node imports.

/**
 * What a kiosk casts: the API's vote (api-shapes.ts). eventId (a UUID the caller chose, e.g.
 * to retry its own enqueue; a fresh UUIDv7 otherwise) and castAt (ISO 8601; the moment of
 * enqueue otherwise) are filled in by enqueue when missing; temperatureC (°C, at most one
 * decimal) goes with a check-in or check-out of an attendance register.
 */
export type VoteInput = ApiVote;

/** A vote waiting in the outbox, exactly as it will be sent. */
export interface OutboxEntry {
  /**
   * Absent: a vote. "completion": a lesson register's completion (completion-entry.ts):
   * eventId is its completionId, castAt its completedAt, optionId unused.
   */
  kind?: "completion";
  eventId: string;
  pollId: string;
  optionId: string;
  voterId?: string;
  /** What is sent, unless clockOffsetMs is absent (see deviceCastAt). */
  castAt: string;
  /**
   * The device's own clock when enqueue stamped castAt (absent when the caller gave castAt,
   * and in entries from before the outbox learned clocks), kept as it was.
   */
  deviceCastAt?: string;
  /**
   * The server clock offset (ms) castAt was corrected by at enqueue. Absent when none was
   * known yet (offline since boot): the sender then sends deviceCastAt corrected by the
   * offset it has learned by then.
   */
  clockOffsetMs?: number;
  /** Epoch ms when it was written to the store (oldestPendingAt). */
  enqueuedAt: number;
  /** Sent as given; the API checks it against the school's range (422 temperature_out_of_range). */
  temperatureC?: number;
}

/** The server's error for one refused item (the batch answer's `error`). */
export type ItemError = RejectedItemError;

/** An entry the server refused: kept, never resent, for the operator to look at. */
export interface RefusedEntry {
  entry: OutboxEntry;
  error: ItemError;
  /** Epoch ms of the answer. */
  refusedAt: number;
}

/** The outcome of one batch answer, applied to the store in one durable step. */
export interface Settlement {
  /** eventIds answered accepted or duplicate: removed from pending. */
  acked: string[];
  /** Items answered rejected: moved from pending to refused. */
  refused: RefusedEntry[];
  /** Epoch ms of the answer. */
  sentAt: number;
}

export interface StoreCounts {
  pending: number;
  refused: number;
  /** enqueuedAt of the oldest pending entry, or null when nothing is pending. */
  oldestPendingAt: number | null;
  /** Epoch ms of the last answered batch, or null before the first. */
  lastSentAt: number | null;
}

/**
 * Where the outbox keeps its entries. Every write resolves only once it is durable
 * (fsync'd, or the IndexedDB transaction completed), so a resolved add survives a crash.
 */
export interface OutboxStore {
  /** Adds entries at the end of the queue, durably. An eventId already held is skipped. */
  add(entries: OutboxEntry[]): Promise<void>;
  /** Up to `limit` pending entries, oldest first. */
  pending(limit: number): Promise<OutboxEntry[]>;
  /** Applies a batch answer: acked entries removed, refused ones moved, lastSentAt set. */
  settle(settlement: Settlement): Promise<void>;
  counts(): Promise<StoreCounts>;
  refused(): Promise<RefusedEntry[]>;
  /** Whether the storage is protected from eviction (browsers), undefined when it does not apply. */
  persisted(): Promise<boolean | undefined>;
  close(): Promise<void>;
}

/** The sender's state, as status() reports it. */
export type OutboxState = "stopped" | "idle" | "sending" | "backoff" | "revoked";

export interface OutboxStatus {
  state: OutboxState;
  pending: number;
  /** ISO time of the oldest pending entry's enqueue, or null. */
  oldestPendingAt: string | null;
  /** ISO time of the last batch the server answered, or null. */
  lastSentAt: string | null;
  /** The last send failure (cleared by the next answered batch), or null. */
  lastError: { code: string; message: string; at: string } | null;
  refused: number;
  /** Storage protected from eviction (browser), undefined where it does not apply. */
  persisted: boolean | undefined;
  appVersion: string | undefined;
  /** When the sender will try again after a failure (ISO), or null. */
  retryAt: string | null;
}
