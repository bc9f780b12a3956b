import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import express, { Router } from "express";
import { WEB_ROOT, webSecurityHeaders } from "../web/web-routes.ts";

/** The console's page and modules (no build step): web/console/. */
export const CONSOLE_ROOT = join(WEB_ROOT, "console");
const ASSET_MAX_AGE_MS = 60_000;

/**
 * Preact and htm from the installed npm packages (the versions package-lock.json pins), as
 * ES modules. Preact's hooks import "preact" by its bare name, which a browser cannot resolve
 * without an import map (an inline script the CSP would have to allow): that one specifier is
 * rewritten to the served file, once, at start.
 */
function vendorModules(): Map<string, string> {
  const require = createRequire(import.meta.url);
  // Each package's CommonJS entry lies beside its ES module build.
  const preactDist = dirname(require.resolve("preact"));
  const hooksDist = dirname(require.resolve("preact/hooks"));
  const htmDist = dirname(require.resolve("htm"));
  const read = (file: string) =>
    readFileSync(file, "utf8").replace(/\/\/# sourceMappingURL=.*$/m, "");
  const hooks = read(join(hooksDist, "hooks.module.js"));
  const rewritten = hooks.replace(/from\s*["']preact["']/g, 'from"/vendor/preact/preact.js"');
  if (rewritten === hooks)
    throw new Error('preact/hooks no longer imports "preact": check the vendor rewrite');
  return new Map([
    ["preact/preact.js", read(join(preactDist, "preact.module.js"))],
    ["preact/hooks.js", rewritten],
    ["htm/htm.js", read(join(htmDist, "htm.module.js"))],
  ]);
}

/** `/console/` (the one page; its views are the URL's fragment), its modules and the UI library. */
export function consolePageRoutes() {
  // Strict: `/console` (redirected) and `/console/` (the page) are two routes.
  const router = Router({ strict: true });
  const vendor = vendorModules();
  router.get("/console", (_req, res) => res.redirect(301, "/console/"));
  router.get("/console/", webSecurityHeaders, (_req, res) => {
    res.setHeader("Cache-Control", "no-cache");
    res.sendFile(join(CONSOLE_ROOT, "index.html"));
  });
  // Under /vendor/, as the other pages' libraries (chart.js, uuid); any other file is theirs.
  router.get("/vendor/:package/:file", (req, res, next) => {
    const source = vendor.get(`${String(req.params.package)}/${String(req.params.file)}`);
    if (source === undefined) return next();
    webSecurityHeaders(req, res, (err?: unknown) => {
      if (err !== undefined) return next(err);
      res
        .type("text/javascript; charset=utf-8")
        .setHeader("Cache-Control", `max-age=${ASSET_MAX_AGE_MS / 1000}`)
        .send(source);
    });
  });
  router.use(
    "/console/assets",
    webSecurityHeaders,
    express.static(join(CONSOLE_ROOT, "assets"), {
      index: false,
      maxAge: ASSET_MAX_AGE_MS,
      fallthrough: true,
    }),
  );
  return router;
}
