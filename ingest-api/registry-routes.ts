import { type Request, Router } from "express";
import type { z } from "zod";
import { ValidationError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import type { Pool } from "../common/postgres.ts";
import { idSchema, toFieldIssues } from "../common/vote.ts";
import { requireAdmin } from "./auth.ts";
import { jsonBody } from "./json-body.ts";
import type { RegistryCache } from "./registry-cache.ts";
import { createKioskSchema, createPollSchema, updatePollSchema } from "./registry-schemas.ts";
import * as store from "./registry-store.ts";
import type { VoterGuard } from "./voter-guard.ts";

function parse<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  // reportInput: toFieldIssues tells a missing field from one of the wrong type by the input.
  const result = schema.safeParse(body ?? {}, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldIssues(result.error));
  return result.data;
}

function idParam(req: Request): string {
  const id = req.params.id;
  const result = idSchema.safeParse(id);
  if (!result.success) throw new ValidationError([{ field: "id", message: "is not a valid id" }]);
  return result.data;
}

/**
 * The registry (admin token). After each write this process reads the row again into its
 * cache before answering, so a kiosk can use a poll the moment it was created; other API
 * processes hear about it through NOTIFY.
 */
export function registryRoutes(
  pool: Pool,
  cache: RegistryCache,
  guard: VoterGuard,
  adminToken: string,
  logger: Logger,
  forgetResults: (pollId: string) => Promise<void>,
) {
  const router = Router();
  // Per route, not per prefix: the public results routes live under /v1/polls too.
  const admin = requireAdmin(adminToken);
  const body = jsonBody(256 * 1024);
  // The row just written, read again: other API processes read it on its NOTIFY.
  const refreshed = async <T>(value: T, refresh: Promise<void>): Promise<T> => {
    await refresh.catch((err: unknown) => logger.warn({ err }, "registry cache refresh failed"));
    return value;
  };
  const pollReloaded = <T extends { id: string }>(poll: T) =>
    refreshed(poll, cache.refreshPoll(poll.id));
  const kioskReloaded = <T extends { id: string }>(kiosk: T) =>
    refreshed(kiosk, cache.refreshKiosk(kiosk.id));

  router.post("/v1/polls", admin, body, async (req, res) => {
    const poll = await store.createPoll(pool, parse(createPollSchema, req.body));
    res
      .status(201)
      .location(`/v1/polls/${poll.id}`)
      .json(await pollReloaded(poll));
  });
  router.get("/v1/polls", admin, async (_req, res) => {
    res.json({ polls: await store.listPolls(pool) });
  });
  router.get("/v1/polls/:id", admin, async (req, res) => {
    res.json(await store.getPoll(pool, idParam(req)));
  });
  router.patch("/v1/polls/:id", admin, body, async (req, res) => {
    const poll = await store.updatePoll(pool, idParam(req), parse(updatePollSchema, req.body));
    if (poll.archived) await guard.forgetPoll(poll.id).catch(() => {});
    res.json(await pollReloaded(poll));
  });
  router.delete("/v1/polls/:id", admin, async (req, res) => {
    const poll = await store.deletePoll(pool, idParam(req));
    await guard
      .forgetPoll(poll.id)
      .catch((err: unknown) =>
        logger.warn(
          { err, pollId: poll.id },
          "could not clear voter entries; they expire on their own",
        ),
      );
    await forgetResults(poll.id).catch((err: unknown) =>
      logger.warn({ err, pollId: poll.id }, "could not delete published results from Redis"),
    );
    res.json(await pollReloaded(poll));
  });

  router.post("/v1/kiosks", admin, body, async (req, res) => {
    const kiosk = await store.createKiosk(pool, parse(createKioskSchema, req.body));
    res
      .status(201)
      .location(`/v1/kiosks/${kiosk.id}`)
      .json(await kioskReloaded(kiosk));
  });
  router.get("/v1/kiosks", admin, async (_req, res) => {
    res.json({ kiosks: await store.listKiosks(pool) });
  });
  router.delete("/v1/kiosks/:id", admin, async (req, res) => {
    res.json(await kioskReloaded(await store.revokeKiosk(pool, idParam(req))));
  });
  return router;
}
