import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { type RequestHandler, type Response, Router } from "express";
import { ID_PATTERN } from "../../common/vote.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { SHARED_ROOT, SHARED_URL, WEB_ROOT, webSecurityHeaders } from "../web/web-routes.ts";
import { BROWSER_MODULES } from "./kiosk-client-routes.ts";

// The kiosk app: /pair (exchange a pairing code for the kiosk's token), /vote (the polls
// this kiosk may vote in) and /vote/:pollId (the voting page), plus the service worker that
// makes them load with no network. The worker is served from the root (/kiosk-sw.js), so
// its scope covers /pair and /vote/; it handles only the URLs listed here.

const KIOSK_CLIENT = join(import.meta.dirname, "..", "..", "kiosk-client");
const UUID_DIST = join(
  dirname(createRequire(import.meta.url).resolve("uuid/package.json")),
  "dist",
);

/** The app shell's pages: URL → file in web/. The worker caches these URLs. */
const PAGES: Record<string, string> = {
  "/pair": "pair.html",
  "/vote": "vote-home.html",
  // The voting page's one copy in the cache: the worker answers every /vote/<id> with it.
  "/kiosk-app/vote.html": "vote.html",
  // A teacher's register page (docs/registers.md): the same outbox, the same offline shell.
  "/register": "register.html",
};

const ASSETS = [
  "kiosk-app.css",
  "kiosk-session.js",
  "kiosk-status.js",
  "pair.js",
  "vote-home.js",
  "vote.js",
  "check-in.js",
  "format.js",
  "register.js",
  "register-session.js",
  "credential-store.js",
];
/** The shared contracts the pages import (common/browser/). */
const SHARED = ["poll-phase.js"];

interface Shell {
  /** Every URL the worker precaches. */
  urls: string[];
  /** A digest of every shell file and the worker itself: a new deploy is a new worker. */
  version: string;
  worker: Buffer;
}

function buildShell(): Shell {
  const files: [string, string][] = [
    ...Object.entries(PAGES).map(([url, file]): [string, string] => [url, join(WEB_ROOT, file)]),
    ...ASSETS.map((f): [string, string] => [`/assets/${f}`, join(WEB_ROOT, "assets", f)]),
    ...SHARED.map((f): [string, string] => [`${SHARED_URL}/${f}`, join(SHARED_ROOT, f)]),
    ...BROWSER_MODULES.map((f): [string, string] => [`/kiosk-client/${f}`, join(KIOSK_CLIENT, f)]),
    ...readdirSync(UUID_DIST)
      .filter((f) => f.endsWith(".js") && f !== "uuid-bin.js")
      .sort()
      .map((f): [string, string] => [`/vendor/uuid/${f}`, join(UUID_DIST, f)]),
  ];
  const template = readFileSync(join(WEB_ROOT, "kiosk-sw.js"), "utf8");
  const hash = createHash("sha256").update(template);
  for (const [url, path] of files) hash.update(url).update(readFileSync(path));
  const version = hash.digest("base64url").slice(0, 16);
  const urls = files.map(([url]) => url);
  const worker = template
    .replace('"__SHELL_VERSION__"', JSON.stringify(version))
    .replace('["__SHELL_URLS__"]', JSON.stringify(urls));
  return { urls, version, worker: Buffer.from(worker) };
}

function sendPage(res: Response, file: string, status = 200): void {
  res.status(status);
  res.setHeader("Cache-Control", "no-cache"); // revalidated: a deploy reaches every kiosk
  res.sendFile(join(WEB_ROOT, file));
}

/** The registry cache: an unknown poll's voting page is a 404 page. */
export interface KioskAppRouteDeps {
  cache: RegistryCache;
}

/** GET /pair, /vote, /vote/:pollId, /kiosk-app/vote.html and /kiosk-sw.js. */
export function kioskAppRoutes({ cache }: KioskAppRouteDeps): Router {
  const shell = buildShell();
  const router = Router();
  const page =
    (file: string): RequestHandler =>
    (_req, res) =>
      sendPage(res, file);
  for (const [url, file] of Object.entries(PAGES)) router.get(url, webSecurityHeaders, page(file));
  router.get("/vote/:pollId", webSecurityHeaders, (req, res) => {
    const id = String(req.params.pollId);
    if (!ID_PATTERN.test(id) || !cache.poll(id)) return sendPage(res, "not-found.html", 404);
    sendPage(res, "vote.html");
  });
  router.get("/kiosk-sw.js", webSecurityHeaders, (_req, res) => {
    res.setHeader("Content-Type", "text/javascript; charset=utf-8");
    // The browser checks for a new worker at each navigation; never an old copy.
    res.setHeader("Cache-Control", "no-cache");
    res.setHeader("X-Kiosk-Shell-Version", shell.version);
    res.send(shell.worker);
  });
  return router;
}
