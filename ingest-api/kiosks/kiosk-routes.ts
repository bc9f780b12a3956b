import { type RequestHandler, Router } from "express";
import { isAppError, ValidationError } from "../../common/errors.ts";
import { toFieldIssues } from "../../common/vote.ts";
import { requireKiosk } from "../auth/bearer-auth.ts";
import type { KioskConfig } from "../config.ts";
import type { IngestMetrics } from "../http/ingest-metrics.ts";
import { jsonBody } from "../http/json-body.ts";
import type { CachedKiosk, RegistryCache } from "../registry/registry-cache.ts";
import { pairSchema } from "../registry/registry-schemas.ts";
import type { RegistryService } from "../registry/registry-service.ts";
import { type PublicPoll, publicPoll } from "../results/public-poll-routes.ts";
import type { KioskHealth } from "./kiosk-health.ts";

export interface KioskRouteDeps {
  registry: RegistryService;
  cache: RegistryCache;
  health: KioskHealth;
  metrics: Pick<IngestMetrics, "pairings">;
  kiosks: Pick<KioskConfig, "statusMaxBytes">;
  /** POST /v1/pair per client address (RATE_LIMIT_PAIR_PER_MIN). */
  pairThrottle: RequestHandler;
  /** POST /v1/pair's failures of every address together (RATE_LIMIT_PAIR_FAILURES_PER_MIN). */
  pairFailures: RequestHandler;
  /**
   * GET /v1/kiosk and the heartbeat count against the kiosk's batch budget (a heartbeat is a
   * flush with nothing to send).
   */
  kioskThrottle: RequestHandler;
}

/**
 * The kiosk app's own routes: pairing (no token: the code is the credential),
 * what the kiosk may vote in, and its heartbeat. Served from the registry cache but for
 * the pairing itself.
 */
export function kioskRoutes(deps: KioskRouteDeps) {
  const { registry, cache, health } = deps;
  const router = Router();
  const kiosk = requireKiosk(cache);
  const kioskOrTeacher = requireKiosk(cache, true);

  router.post(
    "/v1/pair",
    deps.pairThrottle,
    deps.pairFailures,
    jsonBody(1_024),
    async (req, res) => {
      const { pairings } = deps.metrics;
      const parsed = pairSchema.safeParse(req.body ?? {}, { reportInput: true });
      if (!parsed.success) {
        pairings.inc({ outcome: "invalid_code" });
        throw new ValidationError(toFieldIssues(parsed.error));
      }
      const paired = await registry.pair(parsed.data.code).catch((err: unknown) => {
        if (isAppError(err) && err.code === "kiosk_revoked") pairings.inc({ outcome: "revoked" });
        else if (isAppError(err) && err.status < 500) pairings.inc({ outcome: "invalid_code" });
        throw err;
      });
      pairings.inc({ outcome: "paired" });
      // Credentials: no cache may keep them.
      res.setHeader("Cache-Control", "no-store").json(paired);
    },
  );

  router.get("/v1/kiosk", kiosk, health.track, deps.kioskThrottle, (req, res) => {
    const k = req.kiosk!;
    res.setHeader("Cache-Control", "no-store").json({
      id: k.id,
      name: k.name,
      pollIds: k.pollIds === null ? null : [...k.pollIds],
      polls: votablePolls(cache, k, Date.now()),
    });
  });

  // A teacher's outbox (the register page) probes the server's clock here too, as a kiosk's
  // does: answered 204 from the Date header alone, with nothing kept (a teacher is no kiosk
  // and has no health), rather than a 401 that would count against the address.
  const teacherProbe: RequestHandler = (req, res, next) => {
    if (req.teacher === undefined) return next();
    res.setHeader("Cache-Control", "no-store").status(204).end();
  };
  router.post(
    "/v1/kiosk/heartbeat",
    kioskOrTeacher,
    teacherProbe,
    health.track, // seen even when its body is refused
    deps.kioskThrottle,
    // The largest status (KIOSK_STATUS_MAX_BYTES); beyond, 413 body_too_large.
    jsonBody(deps.kiosks.statusMaxBytes),
    (req, res) => {
      health.heartbeat(req.kioskId!, req.body);
      res.status(204).end();
    },
  );

  return router;
}

/**
 * The non-archived polls of its school the kiosk may vote in, open or not open yet: open
 * first, by title.
 */
function votablePolls(cache: RegistryCache, kiosk: CachedKiosk, nowMs: number): PublicPoll[] {
  const polls: PublicPoll[] = [];
  for (const poll of cache.polls()) {
    if (poll.archived || poll.schoolId !== kiosk.schoolId) continue;
    if (kiosk.pollIds !== null && !kiosk.pollIds.has(poll.id)) continue;
    const shown = publicPoll(poll, nowMs);
    if (shown.status === "closed") continue;
    polls.push(shown);
  }
  return polls.sort(
    (a, b) =>
      Number(a.status !== "open") - Number(b.status !== "open") || a.title.localeCompare(b.title),
  );
}
