// The admin API as the console calls it: the session cookie (HttpOnly, sent by the browser)
// and, on every state-changing request, the session's CSRF token in X-CSRF-Token.

let csrfToken = "";

export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

export function api(method, path, body) {
  return send(
    method,
    path,
    body === undefined ? undefined : ["application/json", JSON.stringify(body)],
  );
}

/** A file as the body (a roster CSV), sent as it is with its media type. */
export function upload(method, path, type, data) {
  return send(method, path, [type, data]);
}

async function send(method, path, payload) {
  const headers = {};
  if (payload !== undefined) headers["Content-Type"] = payload[0];
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: payload?.[1],
  });
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : undefined;
  if (!res.ok) {
    if (res.status === 401) window.dispatchEvent(new CustomEvent("console-signed-out"));
    throw new ApiError(res.status, parsed);
  }
  return parsed;
}

/** The current session (and its CSRF token), or undefined when not signed in. */
export async function currentSession() {
  const res = await fetch("/v1/console/session", { credentials: "same-origin" });
  if (res.status === 401) return undefined;
  const body = await res.json();
  if (!res.ok) throw new ApiError(res.status, body);
  csrfToken = body.csrfToken;
  return body.session;
}

export async function signIn(code) {
  const res = await fetch("/v1/console/sessions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    credentials: "same-origin",
    body: JSON.stringify({ code }),
  });
  const body = await res.json();
  if (!res.ok) throw new ApiError(res.status, body);
  csrfToken = body.csrfToken;
  return body.session;
}

export async function signOut() {
  await api("DELETE", "/v1/console/session");
  csrfToken = "";
}
