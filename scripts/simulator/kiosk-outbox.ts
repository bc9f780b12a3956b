import type { Pool } from "undici";
import { createOutbox, type Outbox } from "../../kiosk-client/outbox.ts";
import type { FetchLike } from "../../kiosk-client/sender.ts";
import { MemoryStore } from "../../kiosk-client/store-memory.ts";

// Offline kiosks send through the kiosk-client outbox, as real kiosk software would: what
// they cast goes into the outbox, and its sender drains it through the batch endpoint once
// they are back online (Retry-After, back-off, removal only on the server's answer). The
// store is in memory: the simulator's queue lives as long as its process, and a load run
// should not measure the simulator's disk.

export interface OutboxHooks {
  /** Around each request: for the run's request count, in-flight gauge and latency. */
  requestStarted(): void;
  requestEnded(latencyMs: number): void;
}

/** fetch over the simulation's keep-alive pool (undici), for the outbox's requests. */
function poolFetch(pool: Pool, hooks: OutboxHooks): FetchLike {
  return async (url, init) => {
    const started = performance.now();
    hooks.requestStarted();
    try {
      const res = await pool.request({
        method: "POST",
        path: new URL(url).pathname,
        headers: init.headers as Record<string, string>,
        body: init.body as string,
      });
      const text = await res.body.text();
      const headers = new Headers();
      for (const [name, value] of Object.entries(res.headers))
        if (typeof value === "string") headers.set(name, value);
      return new Response(text, { status: res.statusCode, headers });
    } finally {
      hooks.requestEnded(performance.now() - started);
    }
  };
}

export function kioskOutbox(options: {
  url: string;
  token: string;
  pool: Pool;
  maxBatch: number;
  hooks: OutboxHooks;
}): Outbox {
  return createOutbox({
    store: new MemoryStore(),
    apiUrl: options.url,
    token: options.token,
    fetch: poolFetch(options.pool, options.hooks),
    maxBatch: options.maxBatch,
    minBackoffMs: 250,
    maxBackoffMs: 3_000,
    appVersion: "simulator",
  });
}
