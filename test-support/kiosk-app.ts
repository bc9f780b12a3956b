import type { IncomingMessage, ServerResponse } from "node:http";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "../harness/chromium.ts";
import { eventually } from "../harness/waiting.ts";
import type { WebStack } from "./web-stack.ts";

// Helpers for the kiosk app's browser tests (web/kiosk-app.test.ts): a gate in front of the
// web stack's API (stop it in mid-flush, serve a new service worker version), a browser
// whose storage outlives its context, and the kiosk's queue read from IndexedDB.

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface ApiGate {
  /**
   * Arms a cut: the next POST /v1/votes/batch is handled by the API (its votes published),
   * then its connection is dropped before the answer and the API stops listening. Resolves
   * once that happened.
   */
  cutNextBatch(): Promise<void>;
  /** Listens again on the same port (the same origin for the browser). */
  restart(): Promise<void>;
  /** Serves /kiosk-sw.js with this 16-character version instead of the API's own. */
  workerVersion: string | undefined;
  /** While set, POST /v1/votes/batch answers 503 with a long Retry-After (nothing sent). */
  refuseBatches: boolean;
}

/** Puts the gate in front of the stack's app (its server's only request listener). */
export function gateApi(stack: WebStack): ApiGate {
  const { server } = stack;
  const app = server.listeners("request")[0] as Handler;
  const port = Number(new URL(stack.url).port);
  let cut: (() => void) | undefined;
  const gate: ApiGate = {
    workerVersion: undefined,
    refuseBatches: false,
    cutNextBatch: () =>
      new Promise<void>((resolve) => {
        cut = resolve;
      }),
    restart: () =>
      new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, "127.0.0.1", () => {
          server.off("error", reject);
          resolve();
        });
      }),
  };
  server.removeAllListeners("request");
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    if (req.method === "POST" && req.url === "/v1/votes/batch" && gate.refuseBatches) {
      res.writeHead(503, { "Content-Type": "application/json", "Retry-After": "3600" });
      res.end(JSON.stringify({ error: { code: "unavailable", message: "closed by the test" } }));
      return;
    }
    if (req.method === "POST" && req.url === "/v1/votes/batch" && cut) {
      const done = cut;
      cut = undefined;
      res.end = (() => {
        // The API answered: its votes are in the stream. The kiosk never hears it.
        req.socket.destroy();
        server.close();
        server.closeAllConnections();
        done();
        return res;
      }) as typeof res.end;
    }
    if (req.url === "/kiosk-sw.js" && gate.workerVersion) {
      const version = gate.workerVersion;
      const end = res.end.bind(res) as (chunk?: unknown) => ServerResponse;
      res.end = ((chunk?: unknown) => {
        const own = String(res.getHeader("X-Kiosk-Shell-Version"));
        const body = Buffer.isBuffer(chunk) ? chunk.toString("utf8") : String(chunk ?? "");
        res.setHeader("X-Kiosk-Shell-Version", version);
        return end(Buffer.from(body.replaceAll(own, version)));
      }) as typeof res.end;
    }
    app(req, res);
  });
  return gate;
}

/** A Chromium whose profile (IndexedDB, service workers, caches) lives in `userDataDir`. */
export function launchKioskBrowser(
  userDataDir: string,
  options: { offline?: boolean; viewport?: { width: number; height: number } } = {},
): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    // As launchChromium (harness/chromium.ts), for a persistent profile.
    args: CHROMIUM_ARGS,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    offline: options.offline ?? false,
    timezoneId: "America/New_York",
    locale: "en-US",
    reducedMotion: "reduce",
  });
}

export interface KioskCredentials {
  kioskId: string;
  name: string;
  token: string;
  pollIds?: string[] | null;
}

/**
 * Stores a kiosk's credentials in the page's origin as /pair would, through the app's own
 * module (a dynamic import is a same-origin script: the CSP allows it).
 */
export async function storeCredentials(page: Page, credentials: KioskCredentials): Promise<void> {
  await page.evaluate(async (c) => {
    const session = await import("/assets/kiosk-session.js" as string);
    await session.saveCredentials(c);
  }, credentials);
}

/**
 * The eventIds in the browser's outbox queue (IndexedDB "tallyflow-outbox", store "pending").
 * Only once the page opened its outbox: opening the database first would create it empty.
 */
export function queuedEventIds(page: Page): Promise<string[]> {
  return page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open("tallyflow-outbox");
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          if (!db.objectStoreNames.contains("pending")) {
            db.close();
            return resolve([]);
          }
          const all = db.transaction("pending").objectStore("pending").getAll();
          all.onsuccess = () => {
            db.close();
            resolve((all.result as { entry: { eventId: string } }[]).map((r) => r.entry.eventId));
          };
          all.onerror = () => reject(all.error);
        };
      }),
  );
}

/**
 * Waits until the page's service worker controls it (the shell is cached by then) and, with
 * a poll id, until its cache holds that poll (the page fetches it again once controlled).
 */
export async function waitForServiceWorker(page: Page, pollId?: string): Promise<void> {
  await eventually(
    "the service worker controls the page",
    () => page.evaluate(() => navigator.serviceWorker.controller !== null),
    { timeoutMs: 20_000 },
  );
  if (pollId === undefined) return;
  await eventually(
    `the service worker cached poll ${pollId}`,
    () =>
      page.evaluate(
        async (path) =>
          (await caches.match(path, { cacheName: "tallyflow-kiosk-data-v1" })) !== undefined,
        `/v1/public/polls/${pollId}`,
      ),
    { timeoutMs: 20_000 },
  );
}
