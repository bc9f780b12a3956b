import type { HeartbeatBody } from "./api-shapes.ts";
import type { OutboxStatus } from "./types.ts";

// What a kiosk reports of its queue to the API's kiosk health: the same fields whether they
// ride on a batch (X-Kiosk-Status) or on the kiosk app's idle heartbeat
// (POST /v1/kiosk/heartbeat), so the server reads one shape. Browser-safe.

/** Every field of the heartbeat's body given (null where unknown); `lastError`: a code. */
export type StatusReport = Required<HeartbeatBody>;

export function statusReport(s: OutboxStatus): StatusReport {
  return {
    pending: s.pending,
    oldestPendingAt: s.oldestPendingAt,
    lastSentAt: s.lastSentAt,
    refused: s.refused,
    appVersion: s.appVersion ?? null,
    persisted: s.persisted ?? null,
    lastError: s.lastError?.code ?? null,
  };
}

/** The report as an X-Kiosk-Status value: JSON with every non-ASCII character escaped, a header value must be ASCII. */
export function statusHeader(s: OutboxStatus): string {
  return JSON.stringify(statusReport(s)).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
