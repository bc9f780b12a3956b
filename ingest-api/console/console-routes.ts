import { type Request, Router } from "express";
import { UnauthorizedError, ValidationError } from "../../common/errors.ts";
import { idSchema } from "../../common/vote.ts";
import { listScope, requestScope } from "../auth/actor.ts";
import { requireAdmin } from "../auth/bearer-auth.ts";
import { type BodyLimitsConfig, limitedJsonBody } from "../http/body-limits.ts";
import { clientAddress } from "../http/client-address.ts";
import { linkBase } from "../http/link-base.ts";
import { parseBody } from "../http/parse-body.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { ConsoleConfig } from "./console-config.ts";
import { createInviteSchema, signInSchema } from "./console-schemas.ts";
import { actorOfSession, type ConsoleService, viewOf } from "./console-service.ts";
import {
  clearSessionCookie,
  readCookie,
  SESSION_COOKIE,
  setSessionCookie,
} from "./session-layer.ts";
import type { SignInLimit } from "./sign-in-limit.ts";

export interface ConsoleRouteDeps {
  console: ConsoleService;
  cache: RegistryCache;
  adminToken: string;
  config: ConsoleConfig;
  signIn: SignInLimit;
  /** PUBLIC_URL: the invite link's base; undefined: the request's origin. */
  publicUrl: string | undefined;
  /** A kiosk silent this long shows as offline (KIOSK_SEEN_RECENTLY_MS). */
  kioskOfflineMs: number;
  bodyLimits: Pick<BodyLimitsConfig, "consoleBodyBytes">;
}

const NO_STORE = "no-store";

/**
 * Invites, sign-in and sign-out, and the sessions an admin may see and revoke. Every other
 * admin route takes a console session through requireAdmin (session-layer.ts).
 */
export function consoleRoutes(deps: ConsoleRouteDeps) {
  const { console: service, config } = deps;
  const router = Router();
  const admin = requireAdmin(deps.adminToken, deps.cache);
  const body = limitedJsonBody(deps.bodyLimits, "consoleBodyBytes");

  router.post("/v1/console/invites", admin, body, async (req, res) => {
    const input = parseBody(createInviteSchema, req.body);
    const base = linkBase(req, deps.publicUrl, "invite link");
    const invite = await service.createInvite(req.actor!, input, base);
    // The link signs in whoever opens it first: no cache may keep it.
    res.status(201).setHeader("Cache-Control", NO_STORE).json(invite);
  });

  router.post("/v1/console/sessions", deps.signIn.guard, body, async (req, res) => {
    const { outcomes } = deps.signIn;
    const parsed = signInSchema.safeParse(req.body ?? {});
    if (!parsed.success) {
      outcomes.inc({ outcome: "invalid_request" });
      parseBody(signInSchema, req.body); // throws the 400 naming the field
    }
    const signed = await service
      .signIn(parsed.data!.code, clientAddress(req))
      .catch((err: unknown) => {
        outcomes.inc({ outcome: "invalid_invite" });
        throw err;
      });
    outcomes.inc({ outcome: "signed_in" });
    const { session, token } = signed;
    // For the audit log: the sign-in is this session's first action.
    req.consoleSession = { id: session.id, actor: actorOfSession(session), csrfOk: true };
    req.actor = req.consoleSession.actor;
    setSessionCookie(req, res, token, config.sessionMaxMs);
    res
      .status(201)
      .setHeader("Cache-Control", NO_STORE)
      .json({
        session: { ...viewOf(session, config.sessionIdleMs), kioskOfflineMs: deps.kioskOfflineMs },
        csrfToken: session.csrfToken,
      });
  });

  /** The page's own session, with its CSRF token: a session cookie only, never a bearer token. */
  const ownSession = async (req: Request) => {
    const token = readCookie(req, SESSION_COOKIE);
    const session =
      req.headers.authorization === undefined && token !== undefined
        ? await service.session(token)
        : undefined;
    if (session === undefined)
      throw new UnauthorizedError("no console session: open an invite link to sign in");
    return session;
  };

  router.get("/v1/console/session", async (req, res) => {
    const session = await ownSession(req);
    res.setHeader("Cache-Control", NO_STORE).json({
      session: { ...viewOf(session, config.sessionIdleMs), kioskOfflineMs: deps.kioskOfflineMs },
      csrfToken: session.csrfToken,
    });
  });

  router.delete("/v1/console/session", admin, async (req, res) => {
    const own = req.consoleSession;
    if (own === undefined) throw new UnauthorizedError("no console session to sign out of");
    await service.revoke(own.id, null);
    clearSessionCookie(req, res);
    res.status(204).end();
  });

  router.get("/v1/console/sessions", admin, async (req, res) => {
    const sessions = await service.listSessions(listScope(req), config.auditPageMax);
    res.json({
      sessions: sessions.map((s) => ({
        ...viewOf(s, config.sessionIdleMs),
        lastSeenAt: s.lastSeenAt,
        address: s.address,
      })),
    });
  });

  router.delete("/v1/console/sessions/:id", admin, async (req, res) => {
    const id = idSchema.safeParse(req.params.id);
    if (!id.success) throw new ValidationError([{ field: "id", message: "is not a valid id" }]);
    const revoked = await service.revoke(id.data, requestScope(req));
    res.json(viewOf(revoked, config.sessionIdleMs));
  });
  return router;
}
