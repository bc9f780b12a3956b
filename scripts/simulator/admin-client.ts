import { setTimeout as sleep } from "node:timers/promises";

// The seed's side of the admin HTTP API: one bearer token, JSON or CSV bodies, the answer
// as status and parsed body. 401 ends the seed at once (the wrong ADMIN_TOKEN). Requests
// that may be sent twice (reads, roster imports: an upsert) are tried again after a
// network error or a 502/503/504, so one hiccup does not end a seed of a thousand schools;
// creates are not (a kiosk created twice would have a token nobody saw).

export interface AdminAnswer {
  status: number;
  body: unknown;
}

const RETRY_DELAYS_MS = [500, 2_000, 5_000];
const RETRY_STATUSES = new Set([502, 503, 504]);

export class AdminClient {
  readonly #base: string;
  readonly #token: string;

  constructor(apiUrl: string, token: string) {
    this.#base = apiUrl.replace(/\/+$/, "");
    this.#token = token;
  }

  /** A JSON request (a body, when given, is sent as JSON). */
  call(method: string, path: string, body?: unknown): Promise<AdminAnswer> {
    return this.#send(method, path, {
      contentType: "application/json",
      body: body === undefined ? null : JSON.stringify(body),
      timeoutMs: 15_000,
      retry: method === "GET",
    });
  }

  /**
   * Every row of a keyset-paged admin list (`GET /v1/polls`, `/v1/kiosks`, `/v1/schools`):
   * its pages followed through `next` at the API's default page size. Throws on any answer
   * but 200, naming the path.
   */
  async list<T>(path: string, key: string): Promise<T[]> {
    const rows: T[] = [];
    let next: string | null = null;
    do {
      const sep = path.includes("?") ? "&" : "?";
      const page = next === null ? path : `${path}${sep}after=${encodeURIComponent(next)}`;
      const res = await this.call("GET", page);
      if (res.status !== 200)
        throw new Error(`GET ${page}: ${res.status} ${JSON.stringify(res.body)}`);
      const body = res.body as Record<string, unknown> & { next: string | null };
      rows.push(...(body[key] as T[]));
      next = body.next;
    } while (next !== null);
    return rows;
  }

  /** A CSV body (a roster import): idempotent, so tried again on a transient failure. */
  csv(path: string, body: string, timeoutMs: number): Promise<AdminAnswer> {
    return this.#send("POST", path, {
      contentType: "text/csv; charset=utf-8",
      body,
      timeoutMs,
      retry: true,
    });
  }

  async #send(
    method: string,
    path: string,
    o: { contentType: string; body: string | null; timeoutMs: number; retry: boolean },
  ): Promise<AdminAnswer> {
    for (let attempt = 0; ; attempt++) {
      const delay = o.retry ? RETRY_DELAYS_MS[attempt] : undefined;
      let res: Response;
      try {
        res = await fetch(`${this.#base}${path}`, {
          method,
          headers: { Authorization: `Bearer ${this.#token}`, "Content-Type": o.contentType },
          body: o.body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
      } catch (err) {
        if (delay === undefined) throw err;
        await sleep(delay);
        continue;
      }
      const text = await res.text();
      if (RETRY_STATUSES.has(res.status) && delay !== undefined) {
        await sleep(delay);
        continue;
      }
      let parsed: unknown = text;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        // not JSON: keep the text for the error message
      }
      if (res.status === 401)
        throw new Error(`${method} ${path}: 401 unauthorized (set ADMIN_TOKEN to the API's token)`);
      return { status: res.status, body: parsed };
    }
  }
}

export function describe(res: AdminAnswer): string {
  return `${res.status} ${typeof res.body === "string" ? res.body : JSON.stringify(res.body)}`;
}

export function errorCode(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null || !("error" in body)) return undefined;
  const error = (body as { error: { code?: unknown } }).error;
  return typeof error.code === "string" ? error.code : undefined;
}
