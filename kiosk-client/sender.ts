import type { BatchAnswer, BatchItemAnswer } from "./api-shapes.ts";
import { retryAfterMs } from "./backoff.ts";
import { OutboxError } from "./errors.ts";
import type { ServerClock } from "./server-clock.ts";
import type { ItemError, OutboxEntry, RefusedEntry, Settlement } from "./types.ts";

// One batch request and what its answer means for each entry sent. Store-agnostic and
// browser-safe: the outbox loop (outbox.ts) decides when to call it and applies the result.

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface BatchRequest {
  url: string;
  token: string;
  fetch: FetchLike;
  requestTimeoutMs: number;
  /** Aborts the request (stop() past its deadline): the entries stay pending. */
  signal?: AbortSignal;
  /** Sent as X-Kiosk-Status (the kiosk-health heartbeat), already ASCII-safe JSON. */
  statusHeader: string | undefined;
  /** Learns the server's clock from every answer's Date. */
  clock: ServerClock;
}

export type BatchOutcome =
  /** The server answered per item (some items may lack an answer: they stay pending). */
  | { kind: "answered"; settlement: Settlement; duplicates: string[]; unanswered: number }
  /** Nothing was settled; try again later (after retryAfterMs when the server said). */
  | { kind: "retry"; error: OutboxError; retryAfterMs: number | undefined }
  /** 413: the batch is too large for this server; send fewer items. */
  | { kind: "too_large"; error: OutboxError }
  /** 401/403: the kiosk's token is not (or no longer) valid. Never drop entries for it. */
  | { kind: "revoked"; error: OutboxError };

/** An answer item as received: checked field by field, as a server may answer anything. */
type AnswerItem = { [K in keyof BatchItemAnswer | "error"]?: unknown };

// The statuses an item is answered with, as the API's document names them.
const ACCEPTED = "accepted" satisfies BatchItemAnswer["status"];
const DUPLICATE = "duplicate" satisfies BatchItemAnswer["status"];
const REJECTED = "rejected" satisfies BatchItemAnswer["status"];

function itemError(raw: unknown): ItemError {
  const e = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
  const error: ItemError = {
    status: typeof e.status === "number" ? e.status : 0,
    code: typeof e.code === "string" ? e.code : "rejected",
    message: typeof e.message === "string" ? e.message : "rejected by the server",
  };
  if (e.details !== undefined) error.details = e.details;
  return error;
}

/** The error body's code and message (`{"error": {code, message}}`), if it has one. */
async function errorOf(res: Response): Promise<{ code: string; message: string }> {
  const text = await res.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === "string")
      return { code: body.error.code, message: String(body.error.message ?? "") };
  } catch {}
  return { code: `http_${res.status}`, message: text.slice(0, 200) || res.statusText };
}

/**
 * Maps the answer back to the entries by `index` (the position in the request), checking
 * that an echoed eventId agrees: an entry is settled only by an answer about it.
 */
function settle(entries: OutboxEntry[], body: unknown, sentAt: number): BatchOutcome {
  const results = (body as Partial<Record<keyof BatchAnswer, unknown>> | null)?.results;
  if (!Array.isArray(results))
    return {
      kind: "retry",
      error: new OutboxError("bad_response", "the batch answer has no results array"),
      retryAfterMs: undefined,
    };
  const answered = new Map<number, AnswerItem>();
  for (const [position, raw] of results.entries()) {
    const r = (typeof raw === "object" && raw !== null ? raw : {}) as AnswerItem;
    const index = Number.isInteger(r.index) ? (r.index as number) : position;
    const entry = entries[index];
    if (!entry || (typeof r.eventId === "string" && r.eventId !== entry.eventId)) continue;
    answered.set(index, r);
  }
  const settlement: Settlement = { acked: [], refused: [], sentAt };
  const duplicates: string[] = [];
  entries.forEach((entry, index) => {
    const r = answered.get(index);
    if (r?.status === DUPLICATE) duplicates.push(entry.eventId);
    if (r?.status === ACCEPTED || r?.status === DUPLICATE) settlement.acked.push(entry.eventId);
    else if (r?.status === REJECTED) {
      const refused: RefusedEntry = { entry, error: itemError(r.error), refusedAt: sentAt };
      settlement.refused.push(refused);
    }
  });
  const unanswered = entries.length - settlement.acked.length - settlement.refused.length;
  return { kind: "answered", settlement, duplicates, unanswered };
}

/**
 * What a 413 for a single entry means: a vote too large for this server can never be
 * sent, so it is refused (with the server's answer) rather than kept to block the queue.
 */
export function refusedAsTooLarge(entries: OutboxEntry[], error: OutboxError): Settlement {
  const now = Date.now();
  return {
    acked: [],
    refused: entries.map((entry) => ({
      entry,
      error: { status: 413, code: error.code, message: error.message },
      refusedAt: now,
    })),
    sentAt: now,
  };
}

/** POSTs one batch to /v1/votes/batch and classifies the answer. Never throws. */
export async function sendBatch(
  req: BatchRequest,
  entries: OutboxEntry[],
  body: string,
): Promise<BatchOutcome> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${req.token}`,
    "content-type": "application/json",
  };
  if (req.statusHeader !== undefined) headers["x-kiosk-status"] = req.statusHeader;
  let res: Response;
  const startedAt = req.clock.deviceNow();
  try {
    res = await req.fetch(req.url, {
      method: "POST",
      headers,
      body,
      signal: req.signal
        ? AbortSignal.any([req.signal, AbortSignal.timeout(req.requestTimeoutMs)])
        : AbortSignal.timeout(req.requestTimeoutMs),
    });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    return {
      kind: "retry",
      error: new OutboxError("network_error", `the API could not be reached: ${message}`, {
        cause,
      }),
      retryAfterMs: undefined,
    };
  }
  req.clock.learn(res.headers.get("date"), startedAt);
  const sentAt = Date.now();
  const status = res.status;
  if (status === 200) {
    let parsed: unknown;
    try {
      parsed = await res.json();
    } catch (cause) {
      return {
        kind: "retry",
        error: new OutboxError("bad_response", "the batch answer is not JSON", { cause, status }),
        retryAfterMs: undefined,
      };
    }
    return settle(entries, parsed, sentAt);
  }
  const { code, message } = await errorOf(res);
  const text = `${status} ${code}: ${message}`;
  if (status === 401 || status === 403)
    return { kind: "revoked", error: new OutboxError("kiosk_revoked", text, { status }) };
  if (status === 413)
    return { kind: "too_large", error: new OutboxError("request_refused", text, { status }) };
  const after = retryAfterMs(res.headers.get("retry-after"), sentAt);
  if (status === 429)
    return {
      kind: "retry",
      error: new OutboxError("rate_limited", text, { status }),
      retryAfterMs: after,
    };
  if (status === 503)
    return {
      kind: "retry",
      error: new OutboxError("server_unavailable", text, { status }),
      retryAfterMs: after,
    };
  // Other 5xx: the server's trouble. Other 4xx: the request is wrong (a client defect, or a
  // proxy in the way); the entries are kept and retried with back-off, never dropped.
  const errorCode = status >= 500 ? "server_error" : "request_refused";
  return {
    kind: "retry",
    error: new OutboxError(errorCode, text, { status }),
    retryAfterMs: after,
  };
}
