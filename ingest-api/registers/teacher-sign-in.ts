import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from "node:crypto";
import { NotFoundError } from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import { type Pool, withTransaction } from "../../common/postgres.ts";
import type { SchoolScope } from "../auth/actor.ts";
import type { RegistryCache } from "../registry/registry-cache.ts";
import { hashToken } from "../registry/registry-store.ts";
import { getSchool } from "../schools/school-store.ts";
import * as store from "./teacher-store.ts";

// A teacher's sign-in link, as a kiosk's pairing link: `<base>/register#code=…` (in the
// fragment, which browsers never send: the code reaches no server log), exchanged once by the
// register page for a new token of the teacher, kept in the browser.
//
// The code needs no table: it is `<teacherId>.<expiry>.<mac>`, the mac an HMAC of the
// teacher, the expiry and the hash of the teacher's token when the link was made. Using it
// replaces that token, so the same code (and any other link made before) no longer matches:
// single use, held by Postgres's row lock (teacher-store.ts `replaceTeacherToken`). A revoked
// teacher has no row, so its links are dead too. The HMAC key is derived from ADMIN_TOKEN:
// rotating it voids every link not used yet (the tokens stay).

/** The answer to `POST …/teachers/:teacherId/sign-in-link`. */
export interface SignInLink {
  teacherId: string;
  schoolId: string;
  link: string;
  expiresAt: string;
}

/** The answer to `POST /v1/teachers/sign-in`: the credential, shown this once. */
export interface SignedInTeacher {
  teacherId: string;
  schoolId: string;
  label: string;
  token: string;
}

const CODE = /^(tt-[A-Za-z0-9_-]{1,61})\.([0-9a-z]{1,12})\.([A-Za-z0-9_-]{43})$/;

const invalid = () =>
  new NotFoundError(
    "sign_in_link_invalid",
    "this sign-in link is unknown, already used or expired: ask the school office for a new one",
  );

export class TeacherSignIn {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #logger: Logger;
  readonly #ttlMs: number;
  readonly #key: Buffer;

  constructor(
    deps: { pool: Pool; cache: RegistryCache; logger: Logger },
    options: { adminToken: string; ttlMs: number },
  ) {
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#logger = deps.logger;
    this.#ttlMs = options.ttlMs;
    this.#key = Buffer.from(
      hkdfSync("sha256", options.adminToken, "", "tallyflow teacher sign-in link", 32),
    );
  }

  #mac(teacherId: string, expires: string, tokenHash: Buffer): Buffer {
    return createHmac("sha256", this.#key)
      .update(`${teacherId}.${expires}.`)
      .update(tokenHash)
      .digest();
  }

  /** A link for the teacher (404 teacher_not_found, school_not_found outside the scope). */
  async createLink(
    schoolId: string,
    teacherId: string,
    baseUrl: string,
    scope: SchoolScope,
  ): Promise<SignInLink> {
    await getSchool(this.#pool, schoolId, scope); // or 404 school_not_found
    const teacher = await store.getTeacherCredential(this.#pool, teacherId);
    if (teacher === undefined || teacher.schoolId !== schoolId)
      throw new NotFoundError(
        "teacher_not_found",
        `school "${schoolId}" has no teacher "${teacherId}"`,
      );
    const expiresMs = Date.now() + this.#ttlMs;
    const expires = expiresMs.toString(36);
    const mac = this.#mac(teacherId, expires, teacher.tokenHash).toString("base64url");
    return {
      teacherId,
      schoolId,
      link: `${baseUrl}/register#code=${teacherId}.${expires}.${mac}`,
      expiresAt: new Date(expiresMs).toISOString(),
    };
  }

  /**
   * Exchanges a link's code for a new token of its teacher: the teacher's previous token
   * (another device, or the one the admin was shown) stops working, as a kiosk's does when
   * it is paired again. Unknown, used, expired and revoked are the same 404.
   */
  async signIn(code: string): Promise<SignedInTeacher> {
    const parts = CODE.exec(code);
    if (parts === null) throw invalid();
    const [, teacherId, expires, mac] = parts as unknown as [string, string, string, string];
    if (Number.parseInt(expires, 36) <= Date.now()) throw invalid();
    const token = `tft_${randomBytes(32).toString("base64url")}`;
    const teacher = await withTransaction(this.#pool, async (client) => {
      const current = await store.getTeacherCredential(client, teacherId);
      if (current === undefined) return undefined;
      const expected = this.#mac(teacherId, expires, current.tokenHash);
      if (!timingSafeEqual(expected, Buffer.from(mac, "base64url"))) return undefined;
      return store.replaceTeacherToken(client, teacherId, current.tokenHash, hashToken(token));
    });
    if (teacher === undefined) throw invalid();
    await this.#cache
      .refreshTeacher(teacher.id)
      .catch((err: unknown) =>
        this.#logger.warn({ err, teacherId: teacher.id }, "teacher cache refresh failed"),
      );
    return { teacherId: teacher.id, schoolId: teacher.schoolId, label: teacher.label, token };
  }
}
