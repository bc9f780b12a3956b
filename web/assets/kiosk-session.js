// What the kiosk app's pages share: the kiosk's credentials (IndexedDB, their own database:
// the outbox's queue is in "tallyflow-outbox"), the service worker, the kiosk's poll list
// and the outbox. Votes leave the browser only through the outbox.

import { createOutbox } from "/kiosk-client/outbox.ts";
import { statusReport } from "/kiosk-client/status-report.ts";
import { openIndexedDbStore } from "/kiosk-client/store-indexeddb.ts";
import { loadRecord, saveRecord } from "./credential-store.js";

export const APP_VERSION = "tallyflow-kiosk-pages/1";
const DB_NAME = "tallyflow-kiosk";
// An idle kiosk (nothing to send, so no batch carries its status) reports this often.
const HEARTBEAT_MS = 60_000;
const KEY = "kiosk";

/**
 * The kiosk's credentials, `{kioskId, name, token, pollIds, pairedAt}`, or undefined
 * before pairing.
 */
export function loadCredentials() {
  return loadRecord(DB_NAME, KEY);
}

/** Keeps the credentials from POST /v1/pair (replacing a previous pairing's). */
export function saveCredentials({ kioskId, name, token, pollIds }) {
  const record = { kioskId, name, token, pollIds: pollIds ?? null, pairedAt: Date.now() };
  return saveRecord(DB_NAME, KEY, record);
}

/**
 * Registers the service worker (scope /); errors are only logged. `onUpdate` runs when a
 * new worker replaces the one that controlled the page (a deploy), `onControlled` when a
 * worker first takes control: the page then fetches its data again, through the worker,
 * so that it is cached for offline use.
 */
export async function registerServiceWorker({ onUpdate, onControlled } = {}) {
  if (!("serviceWorker" in navigator)) return undefined;
  let hadController = navigator.serviceWorker.controller !== null;
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) onUpdate?.();
    else onControlled?.();
    hadController = true;
  });
  try {
    return await navigator.serviceWorker.register("/kiosk-sw.js", { scope: "/" });
  } catch (err) {
    console.warn("service worker not registered", err);
    return undefined;
  }
}

/**
 * GET /v1/kiosk: `{kind: "ok", kiosk, cachedAt}` (cachedAt: the service worker answered
 * from its cache, offline), `{kind: "revoked"}` (403), `{kind: "unpaired"}` (401: the token
 * was replaced by another pairing), or `{kind: "unavailable", message}`.
 */
export async function fetchKiosk(token) {
  try {
    const response = await fetch("/v1/kiosk", { headers: { Authorization: `Bearer ${token}` } });
    if (response.status === 200)
      return {
        kind: "ok",
        kiosk: await response.json(),
        cachedAt: response.headers.get("X-Kiosk-Cached"),
      };
    if (response.status === 403) return { kind: "revoked" };
    if (response.status === 401) return { kind: "unpaired" };
    return { kind: "unavailable", message: `HTTP ${response.status}` };
  } catch (err) {
    return { kind: "unavailable", message: String(err) };
  }
}

/** The outbox over the browser's IndexedDB queue, its sender started. */
export async function openOutbox(token) {
  const store = await openIndexedDbStore();
  const outbox = createOutbox({
    store,
    apiUrl: location.origin,
    token,
    appVersion: APP_VERSION,
    // A room of voters: a minute's wait at most once the server is back (or "Send now").
    maxBackoffMs: 60_000,
  });
  outbox.start();
  // The network is back: send at once rather than at the end of a back-off.
  addEventListener("online", () => outbox.flush({ force: true }));
  startHeartbeat(outbox, token);
  return outbox;
}

/**
 * POST /v1/kiosk/heartbeat with the queue's status (the X-Kiosk-Status fields), now and
 * every HEARTBEAT_MS while nothing is waiting: then no batch carries it. Not a vote, and
 * its failure costs nothing: the next one, or the next batch, reports again.
 */
function startHeartbeat(outbox, token) {
  const beat = async () => {
    const s = await outbox.status();
    if (s.pending > 0 || s.state === "revoked") return;
    await fetch("/v1/kiosk/heartbeat", {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(statusReport(s)),
    }).catch(() => {});
  };
  beat().catch(() => {});
  setInterval(() => beat().catch(() => {}), HEARTBEAT_MS);
}
