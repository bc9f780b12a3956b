import { type Request, Router } from "express";
import { ValidationError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";
import { listScope, requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import type { KioskConfig } from "../config.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { linkBase } from "../http/link-base.ts";
import { withNextLink } from "../http/next-link.ts";
import type { ListPageConfig } from "../http/page-cursor.ts";
import { parseBody as parse } from "../http/parse-body.ts";
import type { RegistryCache } from "./registry-cache.ts";
import { kioskListQuerySchema, pollListQuerySchema } from "./registry-list-queries.ts";
import {
  createKioskSchema,
  createPollSchema,
  updateKioskSchema,
  updatePollSchema,
} from "./registry-schemas.ts";
import type { RegistryService } from "./registry-service.ts";

function idParam(req: Request): string {
  const id = req.params.id;
  const result = idSchema.safeParse(id);
  if (!result.success) throw new ValidationError([{ field: "id", message: "is not a valid id" }]);
  return result.data;
}

/**
 * The registry API (admin token): parse, call the service, answer. The rules and side
 * effects of each change (voter claims, this process's cache) are RegistryService's.
 */
/** `kiosks.publicUrl`: the pairing URL's base (PUBLIC_URL); undefined: the request's origin. */
export interface RegistryRouteDeps {
  registry: RegistryService;
  /** Where school admins' tokens are looked up. */
  cache: RegistryCache;
  adminToken: string;
  kiosks: Pick<KioskConfig, "publicUrl" | "seenRecentlyMs">;
  bodyLimits: Pick<BodyLimitsConfig, "registryBodyBytes">;
  /** Page sizes of the poll and kiosk lists. */
  pages: ListPageConfig;
}

export function registryRoutes(deps: RegistryRouteDeps) {
  const { registry, cache, adminToken, kiosks } = deps;
  const pollListQuery = pollListQuerySchema(deps.pages);
  const kioskListQuery = kioskListQuerySchema(deps.pages);
  const { publicUrl } = kiosks;
  const router = Router();
  // Per route, not per prefix: the public results routes live under /v1/polls too.
  const admin = requireAdmin(adminToken, cache);
  const body = limitedJsonBody(deps.bodyLimits, "registryBodyBytes");

  router.post("/v1/polls", admin, body, async (req, res) => {
    const poll = await registry.createPoll(parse(createPollSchema, req.body), requestScope(req));
    res.status(201).location(`/v1/polls/${poll.id}`).json(poll);
  });
  router.get("/v1/polls", admin, async (req, res) => {
    const query = parse(pollListQuery, req.query);
    res.json(withNextLink(req, res, await registry.listPolls(listScope(req), query)));
  });
  router.get("/v1/polls/:id", admin, async (req, res) => {
    res.json(await registry.getPoll(idParam(req), requestScope(req)));
  });
  router.patch("/v1/polls/:id", admin, body, async (req, res) => {
    const patch = parse(updatePollSchema, req.body);
    res.json(await registry.updatePoll(idParam(req), patch, requestScope(req)));
  });
  router.delete("/v1/polls/:id", admin, async (req, res) => {
    res.json(await registry.deletePoll(idParam(req), requestScope(req)));
  });

  router.post("/v1/kiosks", admin, body, async (req, res) => {
    const input = parse(createKioskSchema, req.body);
    const kiosk = await registry.createKiosk(input, requestScope(req));
    res.status(201).location(`/v1/kiosks/${kiosk.id}`).json(kiosk);
  });
  router.get("/v1/kiosks", admin, async (req, res) => {
    const query = parse(kioskListQuery, req.query);
    const page = await registry.listKiosks(listScope(req), query, kiosks.seenRecentlyMs);
    res.json(withNextLink(req, res, page));
  });
  router.patch("/v1/kiosks/:id", admin, body, async (req, res) => {
    const patch = parse(updateKioskSchema, req.body);
    res.json(await registry.updateKiosk(idParam(req), patch, requestScope(req)));
  });
  router.post("/v1/kiosks/:id/pairing", admin, async (req, res) => {
    const base = linkBase(req, publicUrl, "pairing URL");
    const pairing = await registry.createPairing(idParam(req), base, requestScope(req));
    // The code is a credential for its lifetime: no cache may keep it.
    res.status(201).setHeader("Cache-Control", "no-store").json(pairing);
  });
  router.delete("/v1/kiosks/:id", admin, async (req, res) => {
    res.json(await registry.revokeKiosk(idParam(req), requestScope(req)));
  });
  return router;
}
