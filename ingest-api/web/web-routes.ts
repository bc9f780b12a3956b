import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import express, { type RequestHandler, type Response, Router } from "express";
import helmet from "helmet";
import { ID_PATTERN } from "../../common/vote.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";

/** The web UI's files: static HTML, CSS and ES modules, served as they are (no build step). */
export const WEB_ROOT = join(import.meta.dirname, "..", "..", "web");
const ASSETS = join(WEB_ROOT, "assets");
/**
 * The contracts the services and the pages share (the poll phase, the chart look): plain ES
 * modules in common/browser/, served at the same path so that a page imports the very file
 * the services run (`/common/browser/poll-phase.js`).
 */
export const SHARED_ROOT = join(import.meta.dirname, "..", "..", "common", "browser");
export const SHARED_URL = "/common/browser";
// chart.js exports no path to its browser bundle, so find it next to the main entry.
const CHART_JS_DIST = dirname(createRequire(import.meta.url).resolve("chart.js"));

/**
 * Security headers for the public pages. The CSP allows scripts, styles, images and
 * connections from this origin only, with no 'unsafe-inline': every script and style is a
 * file. Not upgrade-insecure-requests: kiosks often reach the API over plain HTTP on a LAN.
 * Only the web routes get these headers; the JSON/PNG API gets only nosniff and HSTS from
 * apiSecurityHeaders (a Cross-Origin-Resource-Policy of same-origin would stop other sites
 * embedding the PNG).
 */
export const webSecurityHeaders: RequestHandler = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      "default-src": ["'self'"],
      "script-src": ["'self'"],
      "script-src-attr": ["'none'"],
      "style-src": ["'self'"],
      "img-src": ["'self'", "data:"],
      "connect-src": ["'self'"],
      // The kiosk app's service worker (/kiosk-sw.js).
      "worker-src": ["'self'"],
      "font-src": ["'self'"],
      "object-src": ["'none'"],
      "base-uri": ["'self'"],
      "form-action": ["'self'"],
      "frame-ancestors": ["'self'"],
    },
  },
  referrerPolicy: { policy: "no-referrer" },
  // HSTS comes from apiSecurityHeaders, and only when configured as served over TLS.
  strictTransportSecurity: false,
});

const PAGE_CACHE = "no-cache"; // revalidate (ETag): a new deploy reaches every wall screen
const ASSET_MAX_AGE_MS = 60_000;

function sendPage(res: Response, file: string, status = 200): void {
  res.status(status);
  res.setHeader("Cache-Control", PAGE_CACHE);
  res.sendFile(join(WEB_ROOT, file));
}

/**
 * `/` (the default school's polls), `/s/:schoolId` (a school's), `/dashboard/:pollId`, `/kiosk/:pollId`, and their assets. The poll pages
 * read the poll id from the address; an unknown poll gets a real 404 with a friendly page,
 * decided here from the registry cache (no Postgres per request).
 */
export interface WebRouteDeps {
  cache: RegistryCache;
}

export function webRoutes({ cache }: WebRouteDeps) {
  const router = Router();
  const pollPage = (file: string): RequestHandler => {
    return (req, res) => {
      const id = String(req.params.pollId);
      if (!ID_PATTERN.test(id) || !cache.poll(id)) return sendPage(res, "not-found.html", 404);
      sendPage(res, file);
    };
  };

  router.get("/", webSecurityHeaders, (_req, res) => sendPage(res, "index.html"));
  // A school's own poll list (the same page: it reads the school from the address).
  router.get("/s/:schoolId", webSecurityHeaders, (req, res) => {
    const id = String(req.params.schoolId);
    if (!ID_PATTERN.test(id) || !cache.school(id)) return sendPage(res, "not-found.html", 404);
    sendPage(res, "index.html");
  });
  router.get("/dashboard/:pollId", webSecurityHeaders, pollPage("dashboard.html"));
  router.get("/kiosk/:pollId", webSecurityHeaders, pollPage("kiosk.html"));
  router.use(
    "/assets",
    webSecurityHeaders,
    express.static(ASSETS, { index: false, maxAge: ASSET_MAX_AGE_MS, fallthrough: true }),
  );
  // Only the .js modules: never the type declarations or tests beside them.
  router.get(`${SHARED_URL}/:file`, webSecurityHeaders, (req, res, next) => {
    const file = String(req.params.file);
    if (!/^[a-z][a-z0-9-]*\.js$/.test(file)) return next();
    res.sendFile(join(SHARED_ROOT, file), { maxAge: ASSET_MAX_AGE_MS }, (err) => {
      if (err) next();
    });
  });
  // Chart.js from the installed npm package (the version the publisher draws with), no CDN.
  for (const file of ["chart.umd.min.js", "chart.umd.min.js.map"])
    router.get(`/vendor/${file}`, webSecurityHeaders, (_req, res) =>
      res.sendFile(join(CHART_JS_DIST, file), { maxAge: ASSET_MAX_AGE_MS }),
    );
  return router;
}
