// What the register page keeps on the teacher's device: the teacher's credential from a
// sign-in link (IndexedDB, a database of its own, as the kiosk's), and the outbox its
// absences and completions wait in (a queue of its own too: a browser used as a kiosk and by
// a teacher never sends one's queue with the other's token).

import { createOutbox } from "/kiosk-client/outbox.ts";
import { openIndexedDbStore } from "/kiosk-client/store-indexeddb.ts";
import { loadRecord, saveRecord } from "./credential-store.js";

export const APP_VERSION = "tallyflow-register-page/1";
const DB_NAME = "tallyflow-teacher";
const OUTBOX_DB = "tallyflow-teacher-outbox";
const KEY = "teacher";

/** `{teacherId, schoolId, label, token, signedInAt}`, or undefined before a sign-in. */
export function loadTeacher() {
  return loadRecord(DB_NAME, KEY);
}

/** Keeps the credential from POST /v1/teachers/sign-in (replacing a previous one). */
export function saveTeacher({ teacherId, schoolId, label, token }) {
  const record = { teacherId, schoolId, label, token, signedInAt: Date.now() };
  return saveRecord(DB_NAME, KEY, record);
}

/**
 * Exchanges a sign-in link's code: `{kind: "ok", teacher}`, `{kind: "refused", code,
 * message}` or `{kind: "offline"}`.
 */
export async function signIn(code) {
  let response;
  try {
    response = await fetch("/v1/teachers/sign-in", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ code }),
    });
  } catch {
    return { kind: "offline" };
  }
  const body = await response.json().catch(() => ({}));
  if (response.status !== 200)
    return {
      kind: "refused",
      code: body?.error?.code ?? `http_${response.status}`,
      message: body?.error?.message ?? `HTTP ${response.status}`,
    };
  await saveTeacher(body);
  return { kind: "ok", teacher: body };
}

/** The outbox over the teacher's own IndexedDB queue, its sender started. */
export async function openTeacherOutbox(token) {
  const store = await openIndexedDbStore({ name: OUTBOX_DB });
  const outbox = createOutbox({
    store,
    apiUrl: location.origin,
    token,
    appVersion: APP_VERSION,
    // A teacher's device is no kiosk: it reports no kiosk health.
    sendStatus: false,
    // Back in a classroom with a network: a minute's wait at most.
    maxBackoffMs: 60_000,
  });
  outbox.start();
  // The network is back: send at once rather than at the end of a back-off.
  addEventListener("online", () => outbox.flush({ force: true }));
  return outbox;
}

/** GET with the teacher's token: `{status, body, cachedAt}`, status 0 when unreachable. */
export async function getJson(path, token) {
  try {
    const response = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    const body = await response.json().catch(() => undefined);
    return { status: response.status, body, cachedAt: response.headers.get("X-Kiosk-Cached") };
  } catch {
    return { status: 0, body: undefined, cachedAt: null };
  }
}
