import { createHash, randomBytes } from "node:crypto";
import { NotFoundError } from "../../common/errors.ts";
import { type Pool, withTransaction } from "../../common/postgres.ts";
import type { Actor, SchoolScope } from "../auth/actor.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import type { ConsoleConfig } from "./console-config.ts";
import * as store from "./console-store.ts";

/** Expired invites and sessions forgotten per sign-in. */
const FORGET_BATCH = 100;
const sha256 = (text: string) => createHash("sha256").update(text).digest();
const randomId = (prefix: string) =>
  `${prefix}${randomBytes(12)
    .toString("base64url")
    .replace(/[^A-Za-z0-9]/g, "x")}`;

export interface Invite {
  /** `<base>/console/#invite=<code>`: the code stays in the fragment (never sent to a server log). */
  link: string;
  schoolId: string | null;
  label: string;
  expiresAt: string;
}

/** A signed-in browser: who it acts as, and the secrets the routes hand out once. */
export interface SignedIn {
  session: store.SessionRow;
  /** The cookie's value (only its sha256 is stored). */
  token: string;
}

/** What a console session is shown of itself (`GET /v1/console/session`). */
export interface SessionView {
  id: string;
  role: "deployment" | "school";
  schoolId: string | null;
  adminId: string | null;
  label: string;
  createdAt: string;
  expiresAt: string;
  idleMs: number;
}

export function actorOfSession(s: Pick<store.SessionRow, "schoolId" | "adminId">): Actor {
  return s.schoolId === null || s.adminId === null
    ? { kind: "deployment" }
    : { kind: "school", schoolId: s.schoolId, adminId: s.adminId };
}

export function viewOf(s: store.SessionRow, idleMs: number): SessionView {
  return {
    id: s.id,
    role: s.schoolId === null ? "deployment" : "school",
    schoolId: s.schoolId,
    adminId: s.adminId,
    label: s.label,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt,
    idleMs,
  };
}

/**
 * Invites and sessions. An invite is single use and expires (CONSOLE_INVITE_TTL_MS); its
 * exchange makes a session, and for a school a school admin credential the session acts as,
 * so every admin route scopes it as it scopes that admin's bearer token (auth/actor.ts).
 */
export class ConsoleService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #config: ConsoleConfig;

  constructor(deps: { pool: Pool; cache: RegistryCache; config: ConsoleConfig }) {
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#config = deps.config;
  }

  /**
   * An invite for the deployment admin (schoolId null, the deployment admin's alone) or for a
   * school's admin: the actor's own school (a school admin naming another gets the 404 of a
   * missing school).
   */
  async createInvite(
    actor: Actor,
    input: { schoolId?: string | undefined; label: string },
    baseUrl: string,
  ): Promise<Invite> {
    let schoolId: string | null;
    if (actor.kind === "school") {
      schoolId = input.schoolId ?? actor.schoolId;
      if (schoolId !== actor.schoolId) throw schoolNotFound(schoolId);
    } else schoolId = input.schoolId ?? null;
    if (schoolId !== null && this.#cache.school(schoolId) === undefined)
      throw schoolNotFound(schoolId);
    const code = randomBytes(16).toString("base64url");
    const expiresAt = await store.insertInvite(this.#pool, {
      codeHash: sha256(code),
      schoolId,
      label: input.label,
      createdBy: actor.kind === "school" ? actor.adminId : "deployment",
      ttlMs: this.#config.inviteTtlMs,
    });
    return {
      link: `${baseUrl}/console/#invite=${code}`,
      schoolId,
      label: input.label,
      expiresAt: expiresAt.toISOString(),
    };
  }

  /** Exchanges an invite for a session; the invite is used up. 404 invite_invalid otherwise. */
  async signIn(code: string, address: string): Promise<SignedIn> {
    const token = `tfc_${randomBytes(32).toString("base64url")}`;
    const session = await withTransaction(this.#pool, async (client) => {
      const invite = await store.useInvite(client, sha256(code));
      if (invite === undefined)
        throw new NotFoundError(
          "invite_invalid",
          "this invite is unknown, used or expired: ask for a new one",
        );
      let adminId: string | null = null;
      if (invite.schoolId !== null) {
        adminId = randomId("sa-");
        await store.insertSessionAdmin(client, {
          id: adminId,
          schoolId: invite.schoolId,
          label: `${invite.label} (console)`,
          // Nobody holds a token of this hash: the admin acts only through its sessions.
          tokenHash: sha256(randomBytes(32).toString("base64url")),
        });
      }
      return store.insertSession(client, {
        id: randomId("cs-"),
        tokenHash: sha256(token),
        csrfToken: randomBytes(24).toString("base64url"),
        schoolId: invite.schoolId,
        adminId,
        label: invite.label,
        address,
        maxMs: this.#config.sessionMaxMs,
      });
    });
    // Housekeeping off the answer's path: a failure here changes nothing of the sign-in.
    store.forgetExpired(this.#pool, FORGET_BATCH).catch(() => undefined);
    return { session, token };
  }

  /** The live session of a cookie value, touched; undefined when refused. */
  session(token: string): Promise<store.SessionRow | undefined> {
    return store.touchSession(this.#pool, sha256(token), this.#config.sessionIdleMs);
  }

  listSessions(scope: SchoolScope, limit: number): Promise<store.SessionRow[]> {
    return store.listSessions(this.#pool, scope, limit);
  }

  /** Revokes at once: the next request of that session reads the row and is refused. */
  async revoke(id: string, scope: SchoolScope): Promise<store.SessionRow> {
    const revoked = await store.revokeSession(this.#pool, id, scope);
    if (revoked === undefined)
      throw new NotFoundError("session_not_found", `console session "${id}" does not exist`);
    return revoked;
  }
}

function schoolNotFound(id: string): NotFoundError {
  return new NotFoundError("school_not_found", `school "${id}" does not exist`);
}
