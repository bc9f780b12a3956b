import { retryAfterMs } from "./backoff.ts";
import { OutboxError } from "./errors.ts";
import { isUuid, newEventId } from "./event-id.ts";
import type { BatchOutcome, BatchRequest } from "./sender.ts";
import type { OutboxEntry } from "./types.ts";

// A lesson register's completion in the outbox (docs/registers.md): queued after the
// absences enqueued before it and sent in queue order, alone, through
// POST /v1/registers/:pollId/complete, so that on the wire a register's absences come
// first. The entry's eventId is the completion's id (a retry resends it: the API answers
// duplicate) and its castAt the completion's time. Browser-safe.

/** What completes a register: its id, and optionally the client's completionId and time. */
export interface CompletionInput {
  pollId: string;
  /** A UUID the caller chose (to retry its own enqueue); a fresh UUIDv7 otherwise. */
  completionId?: string;
  /** ISO 8601; the moment of enqueue otherwise. */
  completedAt?: string;
}

/** The optionId a completion entry carries: never sent (the route says what it is). */
export const COMPLETION_OPTION = "complete";

function invalid(field: string, message: string): OutboxError {
  return new OutboxError("invalid_vote", `${field} ${message}`);
}

/** The entry a completion is queued as, stamped as a vote's castAt is (vote-entry.ts). */
export function toCompletionEntry(
  input: CompletionInput,
  now: number,
  clockOffsetMs?: number,
): OutboxEntry {
  if (typeof input.pollId !== "string" || input.pollId.length === 0)
    throw invalid("pollId", "must be a non-empty string");
  if (
    input.completionId !== undefined &&
    !(typeof input.completionId === "string" && isUuid(input.completionId))
  )
    throw invalid("completionId", "must be a UUID");
  let castAt = new Date(now + (clockOffsetMs ?? 0)).toISOString();
  if (input.completedAt !== undefined) {
    const at = typeof input.completedAt === "string" ? Date.parse(input.completedAt) : Number.NaN;
    if (Number.isNaN(at)) throw invalid("completedAt", "must be an ISO 8601 time");
    castAt = new Date(at).toISOString();
  }
  const entry: OutboxEntry = {
    kind: "completion",
    eventId: input.completionId?.toLowerCase() ?? newEventId(),
    pollId: input.pollId,
    optionId: COMPLETION_OPTION,
    castAt,
    enqueuedAt: now,
  };
  if (input.completedAt === undefined) {
    entry.deviceCastAt = new Date(now).toISOString();
    if (clockOffsetMs !== undefined) entry.clockOffsetMs = clockOffsetMs;
  }
  return entry;
}

/** The completion route's URL for the outbox's batch URL (same origin and base). */
export function completionUrl(batchUrl: string, pollId: string): string {
  return new URL(`/v1/registers/${encodeURIComponent(pollId)}/complete`, batchUrl).href;
}

/**
 * POSTs one completion and classifies the answer as a batch of one: 202 acks it
 * (`duplicate` too), 400/404/409/422 refuse it (404 poll_not_found is a registry lag while
 * it is young, as a vote's: registry-lag.ts), 403 but a revoked credential refuses it too
 * (poll_not_allowed), 401 and a revoked kiosk stop the sender; 429, 503 and the rest are
 * retried. Never throws.
 */
export async function sendCompletion(
  req: Omit<BatchRequest, "statusHeader">,
  entry: OutboxEntry,
  completedAt: string,
): Promise<BatchOutcome> {
  const startedAt = req.clock.deviceNow();
  let res: Response;
  try {
    res = await req.fetch(completionUrl(req.url, entry.pollId), {
      method: "POST",
      headers: { authorization: `Bearer ${req.token}`, "content-type": "application/json" },
      body: JSON.stringify({ completionId: entry.eventId, completedAt }),
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
  const text = await res.text().catch(() => "");
  let body: { status?: unknown; error?: { code?: unknown; message?: unknown; details?: unknown } };
  try {
    body = JSON.parse(text);
  } catch {
    body = {};
  }
  const code = typeof body.error?.code === "string" ? body.error.code : `http_${res.status}`;
  const message = typeof body.error?.message === "string" ? body.error.message : text.slice(0, 200);
  if (res.status === 202) {
    const duplicate = body.status === "duplicate";
    return {
      kind: "answered",
      settlement: { acked: [entry.eventId], refused: [], sentAt },
      duplicates: duplicate ? [entry.eventId] : [],
      unanswered: 0,
    };
  }
  const refusedAsItem =
    [400, 404, 409, 413, 422].includes(res.status) ||
    (res.status === 403 && code !== "kiosk_revoked");
  if (refusedAsItem) {
    const error = { status: res.status, code, message };
    return {
      kind: "answered",
      settlement: {
        acked: [],
        refused: [
          {
            entry,
            error:
              body.error?.details === undefined ? error : { ...error, details: body.error.details },
            refusedAt: sentAt,
          },
        ],
        sentAt,
      },
      duplicates: [],
      unanswered: 0,
    };
  }
  const summary = `${res.status} ${code}: ${message}`;
  if (res.status === 401 || res.status === 403)
    return {
      kind: "revoked",
      error: new OutboxError("kiosk_revoked", summary, { status: res.status }),
    };
  const after = retryAfterMs(res.headers.get("retry-after"), sentAt);
  const errorCode =
    res.status === 429
      ? "rate_limited"
      : res.status === 503
        ? "server_unavailable"
        : res.status >= 500
          ? "server_error"
          : "request_refused";
  return {
    kind: "retry",
    error: new OutboxError(errorCode, summary, { status: res.status }),
    retryAfterMs: after,
  };
}
