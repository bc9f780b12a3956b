import { ConflictError, ValidationError } from "../common/errors.ts";
import type { Logger } from "../common/logger.ts";
import { type Pool, withTransaction } from "../common/postgres.ts";
import type { Kiosk, Poll, PollOption } from "../common/registry-types.ts";
import type { RegistryCache } from "./registry-cache.ts";
import type { CreateKiosk, CreatePoll, UpdatePoll } from "./registry-schemas.ts";
import * as store from "./registry-store.ts";
import type { VoterGuard } from "./voter-guard.ts";

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
  logger: Logger;
}

/**
 * The registry's rules and the side effects of each change, in one place (the routes only
 * parse and answer). Once a poll has votes, its title, labels, option order, time zone,
 * window and visibility may still change, and options may be added; removing an option or
 * switching one-vote-per-voter is refused (it would orphan or re-judge stored votes), and
 * the poll may be deleted only once archived. Each rule is checked under the poll's row
 * lock, in the transaction that applies the change.
 *
 * Each service cleans up what it owns: deleting a poll deletes its registry rows, the
 * writer's rows go by the writer's trigger (migration 011) in the same transaction, and the
 * publisher removes the published results of a poll that is gone at its next run. This
 * service forgets the voter claims (the API's own Redis keys) on archive and delete.
 */
export class RegistryService {
  readonly #pool: Pool;
  readonly #cache: RegistryCache;
  readonly #guard: VoterGuard;
  readonly #logger: Logger;

  constructor(deps: RegistryServiceDeps) {
    this.#pool = deps.pool;
    this.#cache = deps.cache;
    this.#guard = deps.guard;
    this.#logger = deps.logger;
  }

  listPolls(): Promise<Poll[]> {
    return store.listPolls(this.#pool);
  }

  getPoll(id: string): Promise<Poll> {
    return store.getPoll(this.#pool, id);
  }

  listKiosks(): Promise<Kiosk[]> {
    return store.listKiosks(this.#pool);
  }

  async createPoll(input: CreatePoll): Promise<Poll> {
    const poll = await withTransaction(this.#pool, async (client) => {
      await store.insertPoll(client, input);
      await store.putOptions(client, input.id, input.options);
      return store.getPoll(client, input.id);
    });
    await this.#applied({ kind: "poll", id: poll.id, op: "created" });
    return poll;
  }

  async updatePoll(id: string, patch: UpdatePoll): Promise<Poll> {
    const poll = await withTransaction(this.#pool, async (client) => {
      const current = await store.lockPoll(client, id);
      checkWindow(current, patch);
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
      return store.getPoll(client, id);
    });
    // An archived poll takes no votes, so its claims only hold memory.
    if (poll.archived) await this.#forgetVoters(poll.id);
    await this.#applied({ kind: "poll", id: poll.id, op: "updated" });
    return poll;
  }

  /**
   * Refused while the poll has votes, unless it was archived first: then its votes and
   * everything derived from them go with it (the writer's trigger, same transaction).
   */
  async deletePoll(id: string): Promise<Poll> {
    const poll = await withTransaction(this.#pool, async (client) => {
      const current = await store.lockPoll(client, id);
      if (!current.archived && (await store.pollHasVotes(client, id)))
        throw new ConflictError(
          "poll_has_votes",
          `poll "${id}" has votes: archive it (PATCH {"archived": true}) before deleting it`,
        );
      await store.deletePollRow(client, id);
      return current;
    });
    await this.#forgetVoters(poll.id);
    await this.#applied({ kind: "poll", id: poll.id, op: "deleted" });
    return poll;
  }

  /** The answer holds the kiosk's token: the only time it exists outside the kiosk. */
  async createKiosk(input: CreateKiosk): Promise<Kiosk & { token: string }> {
    const kiosk = await store.createKiosk(this.#pool, input);
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "created" });
    return kiosk;
  }

  async revokeKiosk(id: string): Promise<Kiosk> {
    const kiosk = await store.revokeKiosk(this.#pool, id);
    await this.#applied({ kind: "kiosk", id: kiosk.id, op: "updated" });
    return kiosk;
  }

  /** Best effort: the claims expire on their own (VOTER_RETENTION), the change stands. */
  async #forgetVoters(pollId: string): Promise<void> {
    await this.#guard
      .forgetPoll(pollId)
      .catch((err: unknown) =>
        this.#logger.warn(
          { err, pollId },
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

/** Options the poll has that a patch listing options leaves out. */
function removedOptions(current: Poll, patch: UpdatePoll): PollOption[] {
  if (!patch.options) return [];
  const kept = new Set(patch.options.map((o) => o.id));
  return current.options.filter((o) => !kept.has(o.id));
}
