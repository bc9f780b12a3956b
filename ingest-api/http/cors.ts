import cors from "cors";
import type { RequestHandler } from "express";

/**
 * The routes a kiosk or dashboard web app on another origin may call: votes, results
 * (JSON, PNG, events) and the public poll list. Never the admin registry. Prefixes, as
 * `app.use` matches them (`/v1/votes` covers `/v1/votes/batch`).
 */
export const CORS_PATHS = [
  "/v1/votes",
  "/v1/polls/:pollId/results",
  "/v1/polls/:pollId/results.png",
  "/v1/polls/:pollId/events",
  "/v1/public/polls",
  // A school's public attendance counts (wall screens).
  "/v1/public/schools",
  // The kiosk app's own calls: pairing, its scope and polls, its heartbeat.
  "/v1/pair",
  "/v1/kiosk",
];

/**
 * CORS for the configured origins only (exact match, as the browser sends `Origin`). Any
 * other origin, or a request without one, gets no CORS header at all, so the browser
 * blocks it. Preflights are answered 204 here. ETag, Retry-After and Date (the outbox learns
 * the server's clock from it) are exposed so an app
 * can revalidate with If-None-Match and honour a 429 or 503. No credentials: kiosks send a
 * bearer token, never cookies. Undefined when no origin is configured.
 */
export function corsHandler(
  origins: readonly string[],
  maxAgeMs: number,
): RequestHandler | undefined {
  if (origins.length === 0) return undefined;
  const allowed = new Set(origins);
  const handler = cors({
    origin: (origin, callback) =>
      callback(null, origin !== undefined && allowed.has(origin) ? origin : false),
    methods: ["GET", "HEAD", "POST"],
    // X-Kiosk-Status: the kiosk-client outbox sends its heartbeat with every batch (on by
    // default); without it here a browser refuses the preflight and no batch ever leaves.
    allowedHeaders: ["Authorization", "Content-Type", "X-Kiosk-Status"],
    exposedHeaders: ["ETag", "Retry-After", "Date"],
    maxAge: Math.floor(maxAgeMs / 1000),
  });
  // Whatever the origin, the answer depends on it: a shared cache must not hand one
  // origin's response (with or without Access-Control-Allow-Origin) to another.
  return (req, res, next) => {
    res.vary("Origin");
    handler(req, res, next);
  };
}
