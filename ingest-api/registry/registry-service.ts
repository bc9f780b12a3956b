import QRCode from "qrcode";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  TallyflowError,
  ValidationError,
} from "../../common/errors.ts";
import type { Logger } from "../../common/logger.ts";
import { type Pool, type PoolClient, withTransaction } from "../../common/postgres.ts";
import {
  ATTENDANCE_OPTIONS,
  type Kiosk,
  type Poll,
  type PollOption,
  REGISTER_OPTIONS,
} from "../../common/registry-types.ts";
import type { SchoolScope } from "../auth/actor.ts";
import { pageOf } from "../http/page-cursor.ts";
import {
  attentionKey,
  attentionKeyOf,
  attentionParts,
  compareAttention,
} from "../kiosks/kiosk-attention.ts";
import type { KioskHealth, KioskHealthEntry } from "../kiosks/kiosk-health.ts";
import { hashPairingCode, newPairingCode, normalizePairingCode } from "../kiosks/pairing-code.ts";
import { insertWithScopedId, schoolOfCreate } from "../schools/create-in-school.ts";
import type { VoterClaimsRebuild } from "../votes/voter-claims-rebuild.ts";
import type { PollIncarnation, VoterGuard } from "../votes/voter-guard.ts";
import { FleetSnapshots, firstAfter } from "./fleet-snapshots.ts";
import type { RegistryCache } from "./registry-cache.ts";
import type { KioskListQuery, PollListQuery } from "./registry-list-queries.ts";
import type { CreateKiosk, CreatePoll, UpdateKiosk, UpdatePoll } from "./registry-schemas.ts";
import * as store from "./registry-store.ts";

/** What a registry write changed: what this process's cache has to catch up with. */
export interface RegistryChange {
  kind: "poll" | "kiosk";
  id: string;
  op: "created" | "updated" | "deleted";
}

export interface RegistryServiceDeps {
  pool: Pool;
  cache: RegistryCache;
  guard: VoterGuard;
  /** Gives an unarchived poll its voter claims back. */
  claims: Pick<VoterClaimsRebuild, "restorePoll">;
  health: KioskHealth;
  /** Lifetime of a kiosk pairing code (PAIRING_CODE_TTL_MS). */
  pairingCodeTtlMs: number;
  /** How long the fleet sorted by attention is kept (KIOSK_ATTENTION_SNAPSHOT_MS). */
  attentionSnapshotMs: number;
  logger: Logger;
  /**
   * After a lesson register's create: the school's people read again (its groups' members,
   * held from a school's first register on), before the answer, on this process.
   */
  registerCreated?: (schoolId: string) => Promise<void>;
}

/** A kiosk as GET /v1/kiosks shows it: the registry row and what the kiosk last reported. */
export type KioskListing = Kiosk & KioskHealthEntry;

/** The answer to POST /v1/kiosks/:id/pairing. */
export interface Pairing {
  code: string;
  pairUrl: string;
  expiresAt: string;
  qrSvg: string;
}

/** The answer to POST /v1/pair: the kiosk's credentials, shown once. */
export interface PairedKiosk {
  kioskId: string;
  schoolId: string;
  name: string;
  token: string;
  pollIds: string[] | null;
}

/** Draws of a new code when its hash is taken (each a 1 in 2^40 chance). */
const PAIRING_CODE_DRAWS = 5;

/**
 * The registry's rules and the side effects of each change, in one place (the routes only
 * parse and answer). Once a poll has votes, its title, labels, option order, time zone,
 * window and visibility may still change, and options may be added; removing an option or
 * switching one-vote-per-voter is refused (it would orphan or re-judge stored votes), and
 * the poll may be deleted only once archived. Each rule is checked under the poll's row
 * lock, in the transaction that applies the change.
 *
 * Each service cleans up what it owns: deleting a poll deletes its registry rows, the
 * writer's rows go by delete_polls (migration 052) in the same transaction, and the
 * publisher removes the published results of a poll that is gone at its next run. This
 * service forgets the voter claims (the API's own Redis keys) on archive and delete.
 */
export class RegistryService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #guard: VoterGuard;
  readonly #claims: Pick<VoterClaimsRebuild, "restorePoll">;
  readonly #health: KioskHealth;
  readonly #pairingCodeTtlMs: number;
  readonly #fleets: FleetSnapshots;
  readonly #logger: Logger;
  readonly #registerCreated: RegistryServiceDeps["registerCreated"];

  constructor(deps: RegistryServiceDeps) {
    this.#registerCreated = deps.registerCreated;
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#guard = deps.guard;
    this.#claims = deps.claims;
    this.#health = deps.health;
    this.#pairingCodeTtlMs = deps.pairingCodeTtlMs;
    this.#fleets = new FleetSnapshots(deps.attentionSnapshotMs);
    this.#logger = deps.logger;
  }

  /** A page of polls in creation order (`next`: the cursor of the page after, null: the last). */
  async listPolls(
    scope: SchoolScope,
    query: PollListQuery,
  ): Promise<{ polls: Poll[]; next: string | null }> {
    const rows = await store.listPolls(this.#pool, { scope, ...query }, query.limit + 1);
    const { items, next } = pageOf(rows, query.limit, (p) => [p.createdKey, p.id]);
    return { polls: items.map(({ createdKey: _, ...poll }) => poll), next };
  }

  getPoll(id: string, scope: SchoolScope): Promise<Poll> {
    return store.getPoll(this.#pool, id, scope);
  }

  /**
   * A page of kiosks with their health. Redis down: the kiosks still, with `health:
   * "unavailable"` and null health fields, since the registry itself is in Postgres (and in
   * creation order: the attention order needs the health).
   *
   * In creation order a page is one range of an index and only its kiosks' health is read.
   * By attention the order depends on health kept in Redis, so the scope's kiosks (those `q`
   * keeps) are read and sorted in memory at each page, the cursor holding the last key: a
   * kiosk whose health changes between two pages may move across the boundary, the others
   * keep their place. Its cost is the scope's fleet (a school's kiosks; every kiosk for the
   * deployment admin, measured by bench:console).
   */
  async listKiosks(
    scope: SchoolScope,
    query: KioskListQuery,
    offlineMs: number,
  ): Promise<{ kiosks: KioskListing[]; health: "ok" | "unavailable"; next: string | null }> {
    const describe = (ids: string[]) =>
      this.#health.describe(ids).catch((err: unknown) => {
        this.#logger.warn({ err }, "kiosk health unavailable (Redis); listing kiosks without it");
        return undefined;
      });
    const withHealth = (k: Kiosk, health: Map<string, KioskHealthEntry> | undefined) => ({
      ...k,
      ...(health?.get(k.id) ?? NO_HEALTH),
    });
    if (query.sort === "attention") {
      const fleet = await this.#fleets.get(scope, query.q, async () => {
        const all = await store.listKiosksForAttention(this.#pool, { scope, q: query.q });
        const health = await describe(all.map((k) => k.id));
        if (health === undefined) return undefined;
        const now = Date.now();
        return all
          .map((k) => {
            const listing = withHealth(k, health);
            return { listing, key: attentionKey(listing, now, offlineMs) };
          })
          .sort((a, b) => compareAttention(a.key, b.key));
      });
      if (fleet !== undefined) {
        const from = query.after === undefined ? 0 : firstAfter(fleet, attentionKeyOf(query.after));
        const rows = fleet.slice(from, from + query.limit + 1);
        const { items, next } = pageOf(rows, query.limit, (k) => attentionParts(k.key));
        return { kiosks: items.map((k) => k.listing), health: "ok", next };
      }
    }
    // Creation order (also the attention order's fallback without Redis, from its start).
    const after =
      query.sort === "created" ? (query.after as [string, string] | undefined) : undefined;
    const rows = await store.listKiosks(this.#pool, { scope, q: query.q, after }, query.limit + 1);
    const { items, next } = pageOf(rows, query.limit, (k) => [k.createdKey, k.id]);
    const kiosks = items.map(({ createdKey: _, ...k }) => k);
    const health = await describe(kiosks.map((k) => k.id));
    return {
      kiosks: kiosks.map((k) => withHealth(k, health)),
      health: health === undefined ? "unavailable" : "ok",
      // Without Redis an attention page has no key to continue from: one page, no next.
      next: query.sort === "created" ? next : null,
    };
  }

  /** In the actor's school (or the one named); the time zone defaults to the school's. */
  async createPoll(input: CreatePoll, scope: SchoolScope): Promise<Poll> {
    const poll = await withTransaction(this.#pool, async (client) => {
      const school = await schoolOfCreate(client, scope, input.schoolId);
      const timeZone = input.timeZone ?? school.timeZone;
      const id = await insertWithScopedId(school.id, input.id, async (id) => {
        const inserted = await store.insertPoll(client, id, school.id, timeZone, input);
        return inserted === "inserted" ? id : inserted;
      });
      await store.putOptions(
        client,
        id,
        input.options ?? [...(input.kind === "register" ? REGISTER_OPTIONS : ATTENDANCE_OPTIONS)],
      );
      return store.getPoll(client, id, null);
    });
    await this.#applied({ kind: "poll", id: poll.id, op: "created" });
    if (poll.kind === "register")
      await this.#registerCreated?.(poll.schoolId).catch((err: unknown) =>
        this.#logger.warn({ err, schoolId: poll.schoolId }, "known people reload failed"),
      );
    return poll;
  }

  async updatePoll(id: string, patch: UpdatePoll, scope: SchoolScope): Promise<Poll> {
    let incarnation = 0;
    const poll = await withTransaction(this.#pool, async (client) => {
      const current = await store.lockPoll(client, id, scope);
      incarnation = current.incarnation;
      checkWindow(current, patch);
      checkKind(current, patch);
      const removed = removedOptions(current, patch);
      const switchesRule =
        patch.oneVotePerVoter !== undefined && patch.oneVotePerVoter !== current.oneVotePerVoter;
      if ((removed.length > 0 || switchesRule) && (await store.pollHasVotes(client, id))) {
        throw new ConflictError(
          "poll_has_votes",
          removed.length > 0
            ? `options ${removed.map((o) => o.id).join(", ")} cannot be removed: the poll has votes`
            : "oneVotePerVoter cannot change: the poll has votes",
        );
      }
      // The archive forgot the poll's voter claims: they are back before the unarchive
      // commits (the poll takes no votes until then), or a voter who voted before the
      // archive would get a 202 for a second vote that the writer then drops.
      if (current.archived && patch.archived === false && current.oneVotePerVoter)
        await this.#claims.restorePoll({ pollId: id, incarnation });
      await store.updatePollRow(client, id, patch);
      if (patch.options) {
        if (removed.length > 0)
          await store.deleteOptions(
            client,
            id,
            removed.map((o) => o.id),
          );
        await store.putOptions(client, id, patch.options);
      }
      return store.getPoll(client, id, null);
    });
    // An archived poll takes no votes, so its claims only hold memory.
    if (poll.archived) await this.#forgetVoters({ pollId: poll.id, incarnation });
    await this.#applied({ kind: "poll", id: poll.id, op: "updated" });
    return poll;
  }

  /**
   * Refused while the poll has votes, unless it was archived first: then its votes and
   * everything derived from them go with it (delete_polls, same transaction; the votes by
   * the writers' background purge).
   */
  async deletePoll(id: string, scope: SchoolScope): Promise<Poll> {
    const { incarnation, ...poll } = await withTransaction(this.#pool, async (client) => {
      const current = await store.lockPoll(client, id, scope);
      if (!current.archived && (await store.pollHasVotes(client, id)))
        throw new ConflictError(
          "poll_has_votes",
          `poll "${id}" has votes: archive it (PATCH {"archived": true}) before deleting it`,
        );
      await store.deletePollRow(client, id);
      return current;
    });
    await this.#forgetVoters({ pollId: poll.id, incarnation });
    await this.#applied({ kind: "poll", id: poll.id, op: "deleted" });
    return poll;
  }

  /** The answer holds the kiosk's token: the only time it exists outside the kiosk. */
  async createKiosk(input: CreateKiosk, scope: SchoolScope): Promise<Kiosk & { token: string }> {
    this.#fleets.clear(); // the fleet changes: no page from before it
    const kiosk = await withTransaction(this.#pool, async (client) => {
      const school = await schoolOfCreate(client, scope, input.schoolId);
      if (input.pollIds) await checkPollIds(client, input.pollIds, school.id);
      return insertWithScopedId(school.id, input.id, (id) =>
        store.createKiosk(client, id, school.id, input),
      );
    });
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "created" });
    return kiosk;
  }

  /**
   * Renames a kiosk or changes the polls it may vote in (null: any). The polls named must
   * exist now (key-share locked until the change commits, so none is deleted meanwhile); one
   * deleted later stays listed and matches nothing. Only polls of the kiosk's school.
   */
  async updateKiosk(id: string, patch: UpdateKiosk, scope: SchoolScope): Promise<Kiosk> {
    this.#fleets.clear(); // the fleet changes: no page from before it
    const kiosk = await withTransaction(this.#pool, async (client) => {
      const current = await store.getKiosk(client, id, scope);
      if (patch.pollIds) await checkPollIds(client, patch.pollIds, current.schoolId);
      return store.updateKiosk(client, id, scope, patch);
    });
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "updated" });
    return kiosk;
  }

  /** Revokes the kiosk, drops its unused pairing code and forgets its health. */
  async revokeKiosk(id: string, scope: SchoolScope): Promise<Kiosk> {
    this.#fleets.clear(); // the fleet changes: no page from before it
    const kiosk = await withTransaction(this.#pool, (client) =>
      store.revokeKiosk(client, id, scope),
    );
    await this.#forgetHealth(id);
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "updated" });
    return kiosk;
  }

  /**
   * A single-use pairing code for the kiosk, replacing its unused one: `baseUrl/pair#code=…`
   * (in the fragment, which browsers never send, so the code reaches no server log) and that
   * URL as an SVG QR code. A revoked kiosk cannot be paired (403 kiosk_revoked).
   */
  async createPairing(kioskId: string, baseUrl: string, scope: SchoolScope): Promise<Pairing> {
    await store.getKiosk(this.#pool, kioskId, scope); // or 404 kiosk_not_found
    for (let draw = 0; draw < PAIRING_CODE_DRAWS; draw++) {
      const code = newPairingCode();
      const stored = await store.putPairingCode(
        this.#pool,
        kioskId,
        hashPairingCode(normalizePairingCode(code)!),
        this.#pairingCodeTtlMs,
      );
      if (stored === "clash") continue;
      if (stored === "no_kiosk") {
        const kiosk = await store.getKiosk(this.#pool, kioskId, scope); // or 404 kiosk_not_found
        if (kiosk.revokedAt !== null)
          throw new ForbiddenError(
            "kiosk_revoked",
            `kiosk "${kioskId}" has been revoked and cannot be paired`,
          );
        continue; // revoked and restored in between: draw again
      }
      const pairUrl = `${baseUrl}/pair#code=${code}`;
      // Medium error correction: a kiosk's camera reads it off another screen.
      const qrSvg = await QRCode.toString(pairUrl, { type: "svg", errorCorrectionLevel: "M" });
      return { code, pairUrl, expiresAt: stored.expiresAt, qrSvg };
    }
    throw new TallyflowError(
      "pairing_failed",
      `no pairing code could be stored for kiosk "${kioskId}" in ${PAIRING_CODE_DRAWS} draws`,
    );
  }

  /**
   * Exchanges a pairing code for the kiosk's credentials. The code is used up whatever
   * follows; the kiosk gets a new token and its previous one stops working at once here (and
   * on the other API processes through NOTIFY). Unknown, used and expired codes are the same
   * 404 pairing_code_invalid: the answer tells a guesser nothing.
   */
  async pair(codeText: string): Promise<PairedKiosk> {
    this.#fleets.clear(); // the fleet changes: no page from before it
    const canonical = normalizePairingCode(codeText);
    if (canonical === undefined)
      throw new ValidationError([
        {
          field: "code",
          message: "must be 8 letters and digits (as shown: XXXX-XXXX; I, L, O, U are not used)",
        },
      ]);
    const outcome = await withTransaction(this.#pool, async (client) => {
      const kioskId = await store.takePairingCode(client, hashPairingCode(canonical));
      if (kioskId === undefined) return undefined;
      return { kioskId, kiosk: await store.rotateKioskToken(client, kioskId) };
    });
    if (outcome === undefined)
      throw new NotFoundError(
        "pairing_code_invalid",
        "this pairing code is unknown, used or expired: ask for a new one",
      );
    if (outcome.kiosk === undefined)
      throw new ForbiddenError("kiosk_revoked", `kiosk "${outcome.kioskId}" has been revoked`);
    const { kiosk } = outcome;
    // The new device reports its own queue; what the old one held can no longer be sent.
    await this.#forgetHealth(kiosk.id);
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "updated" });
    return {
      kioskId: kiosk.id,
      schoolId: kiosk.schoolId,
      name: kiosk.name,
      token: kiosk.token,
      pollIds: kiosk.pollIds,
    };
  }

  /**
   * Votes waiting in each kiosk's outbox, as last reported (kiosks never heard from: 0), for
   * the schools list's figures; undefined when Redis cannot be read.
   */
  async votesWaiting(kioskIds: string[]): Promise<Map<string, number> | undefined> {
    return this.#health.pending(kioskIds).catch((err: unknown) => {
      this.#logger.warn({ err }, "kiosk health unavailable (Redis); schools listed without it");
      return undefined;
    });
  }

  /**
   * A school's delete took these polls and kiosks with it (school-service.ts): the same
   * side effects as deleting each one, then this process's cache reloads (many rows).
   */
  async schoolDeleted(polls: PollIncarnation[], kioskIds: string[]): Promise<void> {
    this.#fleets.clear(); // the fleet changes: no page from before it
    for (const poll of polls) await this.#forgetVoters(poll);
    for (const kioskId of kioskIds) await this.#forgetHealth(kioskId);
    await this.#cache
      .reload()
      .catch((err: unknown) => this.#logger.warn({ err }, "registry cache reload failed"));
  }

  /** Best effort: a status left behind is overwritten by the kiosk's next report. */
  async #forgetHealth(kioskId: string): Promise<void> {
    await this.#health
      .forget(kioskId)
      .catch((err: unknown) =>
        this.#logger.warn({ err, kioskId }, "could not clear the kiosk's health in Redis"),
      );
  }

  /** Best effort: the claims expire on their own (VOTER_RETENTION), the change stands. */
  async #forgetVoters(poll: PollIncarnation): Promise<void> {
    await this.#guard
      .forgetPoll(poll)
      .catch((err: unknown) =>
        this.#logger.warn(
          { err, pollId: poll.pollId },
          "could not clear voter entries; they expire on their own",
        ),
      );
  }

  /**
   * Makes this process's cache current before the change is answered, so that a kiosk can
   * use a poll the moment it was created; other API processes hear of it through NOTIFY.
   * The one place a registry write reaches the cache: it reads that one row again (a full
   * reload grows with the registry: 100 ms at 5,000 polls). A failed refresh is not the
   * write's failure (it is committed): the NOTIFY and the periodic refresh catch up.
   */
  async #applied(change: RegistryChange): Promise<void> {
    const refresh =
      change.kind === "poll"
        ? this.#cache.refreshPoll(change.id)
        : this.#cache.refreshKiosk(change.id);
    await refresh.catch((err: unknown) =>
      this.#logger.warn({ err, change }, "registry cache refresh failed"),
    );
  }
}

const NO_HEALTH = { lastSeenAt: null, status: null } as const;

/** 400 naming each poll id of the list that no poll of the school has. */
async function checkPollIds(
  client: PoolClient,
  pollIds: string[],
  schoolId: string,
): Promise<void> {
  const missing = new Set(await store.missingPollIds(client, pollIds, schoolId));
  if (missing.size === 0) return;
  throw new ValidationError(
    pollIds.flatMap((id, i) =>
      missing.has(id) ? [{ field: `pollIds.${i}`, message: `no poll has the id "${id}"` }] : [],
    ),
  );
}

/** The window the patch leaves (its fields over the current ones) must be ordered. */
function checkWindow(current: Poll, patch: UpdatePoll): void {
  const opensAt = patch.opensAt === undefined ? current.opensAt : patch.opensAt;
  const closesAt = patch.closesAt === undefined ? current.closesAt : patch.closesAt;
  if (opensAt && closesAt && Date.parse(closesAt) <= Date.parse(opensAt))
    // Same answer as a create with a bad window: the request's field is wrong.
    throw new ValidationError([
      { field: "closesAt", message: `must be after opensAt (${opensAt}), got ${closesAt}` },
    ]);
}

/** What a patch may not change of a poll of its kind (what createPollSchema refuses on create). */
function checkKind(current: Poll, patch: UpdatePoll): void {
  const issues: { field: string; message: string }[] = [];
  if (current.kind === "register") {
    if (patch.options !== undefined)
      issues.push({
        field: "options",
        message: "a lesson register's options are absent and present",
      });
    if (patch.voters === "any")
      issues.push({ field: "voters", message: 'must be "roster" for a lesson register' });
    if (patch.oneVotePerVoter === true)
      issues.push({ field: "oneVotePerVoter", message: "must be false for a lesson register" });
    if (patch.groupIds !== undefined)
      issues.push({
        field: "groupIds",
        message: "a lesson register's group is fixed at its create",
      });
  } else if (current.kind === "attendance") {
    if (patch.options !== undefined)
      issues.push({ field: "options", message: "an attendance register's options are in and out" });
    if (patch.voters === "any")
      issues.push({ field: "voters", message: 'must be "roster" for an attendance register' });
    if (patch.oneVotePerVoter === true)
      issues.push({
        field: "oneVotePerVoter",
        message: "must be false for an attendance register",
      });
  } else if (patch.groupIds !== undefined)
    issues.push({ field: "groupIds", message: "is for attendance registers only" });
  if (issues.length > 0) throw new ValidationError(issues);
}

/** Options the poll has that a patch listing options leaves out. */
function removedOptions(current: Poll, patch: UpdatePoll): PollOption[] {
  if (!patch.options) return [];
  const kept = new Set(patch.options.map((o) => o.id));
  return current.options.filter((o) => !kept.has(o.id));
}
