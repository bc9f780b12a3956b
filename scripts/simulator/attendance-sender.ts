import { setTimeout as sleep } from "node:timers/promises";
import { Pool } from "undici";

// Check-ins and check-outs as kiosks send them: each kiosk's outbox goes out as a batch
// (`POST /v1/votes/batch`, the kiosk's token) when it holds `batch` events or its oldest
// has waited `lingerMs`; a batch that got no answer (network, 5xx) is sent again, the same
// eventIds, after a back-off. Used by the simulator's attendance days and bench:attendance.

export interface AttendanceEventBody {
  eventId: string;
  pollId: string;
  optionId: "in" | "out";
  voterId: string;
  castAt: string;
  temperatureC?: number;
}

export interface SenderHooks {
  /** A 202-equivalent item: accepted or duplicate, at `atMs` (Date.now()). */
  accepted(body: AttendanceEventBody, duplicate: boolean, atMs: number): void;
  refused(body: AttendanceEventBody, code: string): void;
  /** Sent, never answered after every retry: it may be stored. */
  uncertain(body: AttendanceEventBody): void;
}

export interface SenderOptions {
  urls: string[];
  batch: number;
  lingerMs: number;
  connections: number;
  maxInFlight: number;
  hooks: SenderHooks;
}

interface Outbox {
  token: string;
  events: AttendanceEventBody[];
  sinceMs: number;
  url: number;
}

const RETRY_DELAYS_MS = [250, 1_000, 3_000, 5_000];

export class AttendanceSender {
  readonly #o: SenderOptions;
  readonly #pools: Pool[];
  readonly #outboxes = new Map<string, Outbox>();
  #inFlight = 0;
  #pending = new Set<Promise<void>>();
  #requests = 0;
  #latencies: number[] = [];
  #kioskCount = 0;

  constructor(o: SenderOptions) {
    this.#o = o;
    this.#pools = o.urls.map(
      (url) =>
        new Pool(url, {
          connections: o.connections,
          pipelining: 1,
          keepAliveTimeout: 60_000,
          headersTimeout: 60_000,
          bodyTimeout: 60_000,
        }),
    );
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get requests(): number {
    return this.#requests;
  }

  /** Request latencies (ms) so far, taken and cleared. */
  takeLatencies(): number[] {
    const l = this.#latencies;
    this.#latencies = [];
    return l;
  }

  /** Whether another batch may go out now. */
  get open(): boolean {
    return this.#inFlight < this.#o.maxInFlight;
  }

  /** Queues an event in the kiosk's outbox; a full outbox goes out at once. */
  add(kioskId: string, token: string, body: AttendanceEventBody, nowMs: number): void {
    let box = this.#outboxes.get(kioskId);
    if (box === undefined) {
      box = { token, events: [], sinceMs: nowMs, url: this.#kioskCount++ % this.#pools.length };
      this.#outboxes.set(kioskId, box);
    }
    if (box.events.length === 0) box.sinceMs = nowMs;
    box.events.push(body);
    if (box.events.length >= this.#o.batch) this.#flushBox(box);
  }

  /** Sends every outbox whose oldest event waited lingerMs (all of them with `all`). */
  flush(nowMs: number, all = false): void {
    for (const box of this.#outboxes.values())
      if (box.events.length > 0 && (all || nowMs - box.sinceMs >= this.#o.lingerMs))
        this.#flushBox(box);
  }

  /**
   * Sends `events` of one kiosk now, in batches of `size` (an offline kiosk's queue coming
   * back: the kiosk app sends its outbox in batches of the API's MAX_BATCH_ITEMS at most).
   */
  sendNow(token: string, events: AttendanceEventBody[], url = 0, size = this.#o.batch): void {
    for (let i = 0; i < events.length; i += size)
      this.#track(this.#post(token, events.slice(i, i + size), url % this.#pools.length));
  }

  /** Resolves when every batch sent so far is answered (or given up). */
  async drain(): Promise<void> {
    this.flush(Date.now(), true);
    while (this.#pending.size > 0) await Promise.all(this.#pending);
  }

  async close(): Promise<void> {
    await Promise.all(this.#pools.map((p) => p.close()));
  }

  #flushBox(box: Outbox): void {
    const events = box.events;
    box.events = [];
    this.#track(this.#post(box.token, events, box.url));
  }

  #track(p: Promise<void>): void {
    this.#pending.add(p);
    void p.finally(() => this.#pending.delete(p));
  }

  async #post(token: string, events: AttendanceEventBody[], url: number): Promise<void> {
    const body = JSON.stringify({ votes: events });
    const { hooks } = this.#o;
    this.#inFlight++;
    try {
      for (let attempt = 0; ; attempt++) {
        const t0 = performance.now();
        let status = 0;
        let text = "";
        try {
          const res = await this.#pools[url]!.request({
            method: "POST",
            path: "/v1/votes/batch",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body,
          });
          status = res.statusCode;
          text = await res.body.text();
        } catch {
          status = 0;
        }
        this.#requests++;
        this.#latencies.push(performance.now() - t0);
        if (status === 200) {
          const now = Date.now();
          const results =
            (JSON.parse(text) as { results?: { status: string; error?: { code?: string } }[] })
              .results ?? [];
          events.forEach((e, i) => {
            const r = results[i];
            if (r?.status === "accepted" || r?.status === "duplicate")
              hooks.accepted(e, r.status === "duplicate", now);
            else hooks.refused(e, r?.error?.code ?? "rejected");
          });
          return;
        }
        // 429: the kiosk's rate limit; a kiosk waits and sends the same batch again.
        if (status !== 0 && status < 500 && status !== 429) {
          let code = `http_${status}`;
          try {
            code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
          } catch {
            // not JSON
          }
          for (const e of events) hooks.refused(e, code);
          return;
        }
        const delay = RETRY_DELAYS_MS[attempt];
        if (delay === undefined) {
          for (const e of events) hooks.uncertain(e);
          return;
        }
        await sleep(delay);
      }
    } finally {
      this.#inFlight--;
    }
  }
}
