import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire, stripTypeScriptTypes } from "node:module";
import { dirname, join } from "node:path";
import { type RequestHandler, Router } from "express";

// The kiosk client library for browsers: the same TypeScript files Node runs, served with
// their types stripped (erasable syntax only, so stripping is all it takes; no bundler),
// so that a page can `import { createOutbox } from "/kiosk-client/outbox.ts"` under the
// pages' CSP ('self' scripts). Stripped once at start, kept in memory with an ETag.

const KIOSK_CLIENT = join(import.meta.dirname, "..", "..", "kiosk-client");

/** The browser-safe files. Never store-file.ts (the Node journal) or anything outside. */
export const BROWSER_MODULES = [
  "backoff.ts",
  "batch-body.ts",
  "completion-entry.ts",
  "errors.ts",
  "event-id.ts",
  "outbox-options.ts",
  "outbox.ts",
  "registry-lag.ts",
  "send-state.ts",
  "sender.ts",
  "server-clock.ts",
  "status-report.ts",
  "store-indexeddb.ts",
  "store-memory.ts",
  "store-state.ts",
  "types.ts",
  "vote-entry.ts",
  "wakeable-sleep.ts",
] as const;

// uuid's browser build (ES modules, crypto.getRandomValues) from the installed package, so
// the browser and Node draw event ids from the same code: dist/ is its "." export for
// browsers (dist-node/ is Node's).
const UUID_DIST = join(
  dirname(createRequire(import.meta.url).resolve("uuid/package.json")),
  "dist",
);
const UUID_URL = "/vendor/uuid/index.js";

interface Served {
  body: Buffer;
  etag: string;
}

function served(text: string): Served {
  const body = Buffer.from(text);
  return { body, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/**
 * Strips the types of every allowed file. stripTypeScriptTypes is experimental in Node 24
 * and emits one ExperimentalWarning on first use; only that warning is silenced here (the
 * feature is exercised by the tests at every run, so a change of its behaviour shows).
 */
function stripAll(): Map<string, Served> {
  const out = new Map<string, Served>();
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    const type = typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string })?.type;
    const text = typeof warning === "string" ? warning : warning.message;
    if (type === "ExperimentalWarning" && text.startsWith("stripTypeScriptTypes")) return;
    (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
  }) as typeof process.emitWarning;
  try {
    for (const file of BROWSER_MODULES) {
      const source = readFileSync(join(KIOSK_CLIENT, file), "utf8");
      const js = stripTypeScriptTypes(source, { mode: "strip" })
        // The one bare import: browsers resolve only URLs (an import map would need an
        // inline script, which the CSP forbids).
        .replaceAll('from "uuid"', `from "${UUID_URL}"`);
      out.set(file, served(js));
    }
  } finally {
    process.emitWarning = emitWarning;
  }
  return out;
}

function sendCached(files: Map<string, Served>, cacheControl: string): RequestHandler {
  return (req, res, next) => {
    const file = files.get(String(req.params.file));
    if (!file) return next();
    res.setHeader("Content-Type", "text/javascript; charset=utf-8");
    res.setHeader("Cache-Control", cacheControl);
    res.setHeader("ETag", file.etag);
    if (req.fresh) return void res.status(304).end(); // If-None-Match, lists and W/ included
    res.send(file.body);
  };
}

/** GET /kiosk-client/<file>.ts (types stripped) and GET /vendor/uuid/<file>.js. */
export function kioskClientRoutes(): Router {
  const modules = stripAll();
  const uuid = new Map<string, Served>();
  for (const file of readdirSync(UUID_DIST))
    if (file.endsWith(".js") && file !== "uuid-bin.js")
      uuid.set(file, served(readFileSync(join(UUID_DIST, file), "utf8")));
  const router = Router();
  // no-cache: revalidated by ETag, so a deploy reaches every kiosk at its next load.
  router.get("/kiosk-client/:file", sendCached(modules, "no-cache"));
  router.get("/vendor/uuid/:file", sendCached(uuid, "no-cache"));
  return router;
}
