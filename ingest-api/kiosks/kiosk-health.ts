import { setTimeout as sleep } from "node:timers/promises";
import type { RequestHandler } from "express";
import { Counter, Gauge, type Registry } from "prom-client";
import { z } from "zod";
import { ValidationError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import type { RedisClient } from "../../common/redis.ts";
import { toFieldIssues } from "../../common/vote.ts";
import type { KioskConfig } from "../config.ts";

// Kiosk health: what each kiosk's outbox reports of its queue, sent as the
// X-Kiosk-Status header of its batches or as the body of POST /v1/kiosk/heartbeat, and when
// each kiosk was last heard from. Kept in Redis (two hashes keyed by kiosk id), so that every
// API process and GET /v1/kiosks see the whole fleet, and written in batches: at most one
// write per kiosk per KIOSK_STATUS_WRITE_MS per process, whatever the vote rate.

const instant = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 timestamp with a time zone" })
  .nullable();
const count = z
  .number({ error: "must be a number" })
  .int({ error: "must be a whole number" })
  .min(0, { error: "must be at least 0" })
  .max(1e12, { error: "must be at most 1e12" });
const label = (max: number) =>
  z
    .string({ error: "must be a string" })
    .max(max, { error: `must be at most ${max} characters` })
    // Shown to an operator: no control characters.
    .refine((s) => !/\p{Cc}/u.test(s), { error: "must not contain control characters" })
    .nullable();

/** What an outbox reports (kiosk-client/status-report.ts, statusHeader). Only `pending` is required. */
export const kioskStatusSchema = z.strictObject({
  pending: count,
  oldestPendingAt: instant.optional(),
  lastSentAt: instant.optional(),
  refused: count.optional(),
  appVersion: label(64).optional(),
  persisted: z.boolean({ error: "must be true, false or null" }).nullable().optional(),
  /** An error code (the outbox sends `lastError.code`). */
  lastError: label(128).optional(),
});

/** A status as kept and shown: every field present, and when this API process received it. */
export interface KioskStatus {
  pending: number;
  oldestPendingAt: string | null;
  lastSentAt: string | null;
  refused: number | null;
  appVersion: string | null;
  persisted: boolean | null;
  lastError: string | null;
  reportedAt: string;
}

export interface KioskHealthEntry {
  lastSeenAt: string | null;
  status: KioskStatus | null;
}

function toStatus(input: z.infer<typeof kioskStatusSchema>, nowMs: number): KioskStatus {
  return {
    pending: input.pending,
    oldestPendingAt: input.oldestPendingAt ?? null,
    lastSentAt: input.lastSentAt ?? null,
    refused: input.refused ?? null,
    appVersion: input.appVersion ?? null,
    persisted: input.persisted ?? null,
    lastError: input.lastError ?? null,
    reportedAt: new Date(nowMs).toISOString(),
  };
}

interface Fleet {
  seenRecently: number;
  votesWaiting: number;
  oldestPendingSeconds: number;
  votesRefused: number;
}

const WARN_INTERVAL_MS = 60_000;
const EMPTY_WRITE = { seen: new Map<string, number>(), status: new Map<string, KioskStatus>() };

export class KioskHealth {
  readonly #redis: RedisClient;
  readonly #seenKey: string;
  readonly #statusKey: string;
  readonly #config: KioskConfig;
  readonly #log: Logger;
  readonly #invalid: Counter<"reason">;
  /** Heard since the last write: kiosk id → when (ms), and → its latest status. */
  #seen = new Map<string, number>();
  #status = new Map<string, KioskStatus>();
  /** The read in flight: the three fleet gauges of one scrape collect at once and share it. */
  #fleet: Promise<Fleet> | undefined;
  /** The write in flight, which a forget waits for (it could write the kiosk back). */
  #writing: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #loop: Promise<void> | undefined;
  #lastWarnMs = -Infinity;
  /** What the write in flight carries (see #write). */
  #inFlight: { seen: Map<string, number>; status: Map<string, KioskStatus> } = EMPTY_WRITE;

  constructor(
    redis: RedisClient,
    redisKeyPrefix: string,
    config: KioskConfig,
    registry: Registry,
    logger: Logger,
  ) {
    this.#redis = redis;
    this.#seenKey = `${redisKeyPrefix}kiosks:seen`;
    this.#statusKey = `${redisKeyPrefix}kiosks:status`;
    this.#config = config;
    this.#log = logger.child({ component: "kiosk-health" });
    this.#invalid = new Counter({
      name: "tallyflow_kiosk_status_invalid_total",
      help: "X-Kiosk-Status headers ignored (the batch was still taken), by reason",
      labelNames: ["reason"],
      registers: [registry],
    });
    for (const reason of ["too_large", "malformed"]) this.#invalid.inc({ reason }, 0);
    const readFleet = () => this.#readFleet();
    const fleetGauge = (name: string, help: string, pick: (f: Fleet) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        async collect() {
          // Redis down: the last values stay, rather than failing the whole scrape.
          const fleet = await readFleet().catch(() => undefined);
          if (fleet) this.set(pick(fleet));
        },
      });
    fleetGauge(
      "tallyflow_kiosks_seen_recently",
      "Kiosks heard from within KIOSK_SEEN_RECENTLY_MS (any API process)",
      (f) => f.seenRecently,
    );
    fleetGauge(
      "tallyflow_kiosk_votes_waiting",
      "Votes waiting in kiosk outboxes, as last reported by each kiosk",
      (f) => f.votesWaiting,
    );
    fleetGauge(
      "tallyflow_kiosk_oldest_pending_seconds",
      "Age of the oldest vote waiting in any kiosk outbox (0: none)",
      (f) => f.oldestPendingSeconds,
    );
    fleetGauge(
      "tallyflow_kiosk_votes_refused",
      "Votes the server refused for good and kiosk outboxes set aside, as last reported by each kiosk",
      (f) => f.votesRefused,
    );
  }

  start(): void {
    this.#loop ??= this.#writeLoop();
  }

  /** Stops the loop and writes what was heard since the last write (one attempt). */
  async stop(): Promise<void> {
    this.#abort.abort();
    await this.#loop;
    await this.#write().catch((err: unknown) =>
      this.#log.warn({ err }, "could not write the last kiosk health before stopping"),
    );
  }

  /**
   * After requireKiosk on every kiosk route: the kiosk was seen, and its X-Kiosk-Status, if
   * any, is kept. A bad header never costs the request (a vote must not be refused for its
   * report): it is ignored and counted in tallyflow_kiosk_status_invalid_total.
   */
  readonly track: RequestHandler = (req, _res, next) => {
    const header = req.headers["x-kiosk-status"];
    this.seen(req.kioskId!, typeof header === "string" ? this.#fromHeader(header) : undefined);
    next();
  };

  /** The body of POST /v1/kiosk/heartbeat: 400 naming the field when it is not a status. */
  heartbeat(kioskId: string, body: unknown): void {
    const parsed = kioskStatusSchema.safeParse(body ?? {}, { reportInput: true });
    if (!parsed.success) throw new ValidationError(toFieldIssues(parsed.error));
    this.seen(kioskId, toStatus(parsed.data, Date.now()));
  }

  seen(kioskId: string, status?: KioskStatus): void {
    this.#seen.set(kioskId, Date.now());
    if (status) this.#status.set(kioskId, status);
  }

  /**
   * Drops what is known of a kiosk: revoked, or paired again (the new device reports its own
   * queue; the old one's votes can no longer be sent).
   */
  async forget(kioskId: string): Promise<void> {
    this.#seen.delete(kioskId);
    this.#status.delete(kioskId);
    await this.#writing?.catch(() => {});
    await this.#redis.multi().hDel(this.#seenKey, kioskId).hDel(this.#statusKey, kioskId).exec();
  }

  /** Each kiosk's health: Redis, with what this process heard and has not written yet. */
  async describe(kioskIds: readonly string[]): Promise<Map<string, KioskHealthEntry>> {
    const entries = new Map<string, KioskHealthEntry>();
    if (kioskIds.length === 0) return entries;
    const ids = [...kioskIds];
    const [seen, status] = await Promise.all([
      this.#redis.hmGet(this.#seenKey, ids),
      this.#redis.hmGet(this.#statusKey, ids),
    ]);
    ids.forEach((id, i) => {
      const heardMs = this.#seen.get(id) ?? this.#inFlight.seen.get(id);
      const stored = seen[i] ?? null;
      entries.set(id, {
        lastSeenAt: heardMs === undefined ? stored : new Date(heardMs).toISOString(),
        status:
          this.#status.get(id) ?? this.#inFlight.status.get(id) ?? parseStored(status[i] ?? null),
      });
    });
    return entries;
  }

  /**
   * Votes waiting in each kiosk's outbox as last reported (never reported: 0): the status
   * hash alone, one HMGET (the schools list's figures, many kiosks a page).
   */
  async pending(kioskIds: readonly string[]): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    if (kioskIds.length === 0) return counts;
    const ids = [...kioskIds];
    const stored = await this.#redis.hmGet(this.#statusKey, ids);
    ids.forEach((id, i) => {
      const status =
        this.#status.get(id) ?? this.#inFlight.status.get(id) ?? parseStored(stored[i] ?? null);
      counts.set(id, status?.pending ?? 0);
    });
    return counts;
  }

  #fromHeader(header: string): KioskStatus | undefined {
    if (Buffer.byteLength(header) > this.#config.statusMaxBytes) {
      this.#invalid.inc({ reason: "too_large" });
      return undefined;
    }
    let value: unknown;
    try {
      value = JSON.parse(header);
    } catch {
      value = undefined;
    }
    const parsed = kioskStatusSchema.safeParse(value);
    if (!parsed.success) {
      this.#invalid.inc({ reason: "malformed" });
      return undefined;
    }
    return toStatus(parsed.data, Date.now());
  }

  async #writeLoop(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      try {
        await sleep(this.#config.statusWriteMs, undefined, { signal });
      } catch {
        return;
      }
      this.#writing = this.#write();
      await this.#writing.catch((err: unknown) => this.#warn(err));
      this.#writing = undefined;
    }
  }

  /** One MULTI for everything heard since the last write; kept for the next on failure. */
  async #write(): Promise<void> {
    if (this.#seen.size === 0 && this.#status.size === 0) return;
    const seen = this.#seen;
    const status = this.#status;
    // Until the MULTI has landed, reads find these here: Redis does not have them yet, and
    // a kiosk must not show as never seen for the length of a write.
    this.#inFlight = { seen, status };
    this.#seen = new Map();
    this.#status = new Map();
    const multi = this.#redis.multi();
    if (seen.size > 0)
      multi.hSet(
        this.#seenKey,
        Object.fromEntries([...seen].map(([id, ms]) => [id, new Date(ms).toISOString()])),
      );
    if (status.size > 0)
      multi.hSet(
        this.#statusKey,
        Object.fromEntries([...status].map(([id, s]) => [id, JSON.stringify(s)])),
      );
    try {
      await multi.exec();
    } catch (err) {
      this.#inFlight = EMPTY_WRITE;
      // What was heard since is newer: it wins over what failed.
      for (const [id, ms] of seen) if (!this.#seen.has(id)) this.#seen.set(id, ms);
      for (const [id, s] of status) if (!this.#status.has(id)) this.#status.set(id, s);
      throw err;
    }
    this.#inFlight = EMPTY_WRITE;
  }

  #readFleet(): Promise<Fleet> {
    this.#fleet ??= this.#computeFleet().finally(() => {
      this.#fleet = undefined;
    });
    return this.#fleet;
  }

  /**
   * From Redis alone (values only: the ids are not needed), so at most KIOSK_STATUS_WRITE_MS
   * behind. Measured on the shared 2-core machine: 7 ms at 1,000 kiosks, 116 ms at 10,000
   * (the scrape's cost, not a vote's).
   */
  async #computeFleet(): Promise<Fleet> {
    const now = Date.now();
    const [seen, status] = await Promise.all([
      this.#redis.hVals(this.#seenKey),
      this.#redis.hVals(this.#statusKey),
    ]);
    const since = now - this.#config.seenRecentlyMs;
    let seenRecently = 0;
    for (const at of seen) if (Date.parse(at) >= since) seenRecently++;
    let votesWaiting = 0;
    let oldestMs = now;
    let votesRefused = 0;
    for (const text of status) {
      const s = parseStored(text);
      votesRefused += s?.refused ?? 0;
      if (!s || s.pending === 0) continue;
      votesWaiting += s.pending;
      const oldest = s.oldestPendingAt === null ? Number.NaN : Date.parse(s.oldestPendingAt);
      if (oldest < oldestMs) oldestMs = oldest;
    }
    return {
      seenRecently,
      votesWaiting,
      oldestPendingSeconds: (now - oldestMs) / 1000,
      votesRefused,
    };
  }

  /** At most one WARN a minute: while Redis is down every write fails. */
  #warn(err: unknown): void {
    const now = Date.now();
    if (now - this.#lastWarnMs < WARN_INTERVAL_MS) return;
    this.#lastWarnMs = now;
    this.#log.warn({ err }, "could not write kiosk health to Redis; kept for the next write");
  }
}

function parseStored(text: string | null): KioskStatus | null {
  if (text === null) return null;
  try {
    return JSON.parse(text) as KioskStatus;
  } catch {
    return null;
  }
}
