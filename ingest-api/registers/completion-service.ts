import { AppError, ConflictError, NotFoundError, ValidationError } from "../../common/errors.ts";
import {
  completionMessageId,
  encodeCompletionMessage,
  type StoredCompletion,
} from "../../common/register-completion.ts";
import type { Actor } from "../auth/actor.ts";
import type { CachedKiosk, CachedPoll, RegistryCache } from "../registry/registry-cache.ts";
import type { PublishVotes } from "../votes/vote-service.ts";
import type { CompleteInput } from "./register-schemas.ts";

/** Who completes: a kiosk (a classroom tablet), a teacher, or an admin. */
export type Completer = { kind: "kiosk"; kiosk: CachedKiosk } | { kind: "actor"; actor: Actor };

export interface CompletionRules {
  castAtMaxSkewMs: number;
  castAtMaxAgeMs: number;
}

/**
 * A register's completion goes through JetStream as its events do (never a query): checked
 * against the in-memory registry, published with a message id made of the register and the
 * client's completionId (a retry is a duplicate), 202 on the ack. The writer records it
 * (batch-writer/register-upkeep.ts).
 */
export class CompletionService {
  readonly #cache: RegistryCache;
  readonly #publisher: PublishVotes;
  readonly #rules: CompletionRules;

  constructor(cache: RegistryCache, publisher: PublishVotes, rules: CompletionRules) {
    this.#cache = cache;
    this.#publisher = publisher;
    this.#rules = rules;
  }

  async complete(
    by: Completer,
    pollId: string,
    input: CompleteInput,
  ): Promise<{ pollId: string; completionId: string; status: "accepted" | "duplicate" }> {
    const poll = this.#register(by, pollId);
    const now = Date.now();
    const at = input.completedAt === undefined ? now : Date.parse(input.completedAt);
    if (at > now + this.#rules.castAtMaxSkewMs)
      throw new ValidationError([
        { field: "completedAt", message: "must not be in the future (check the device clock)" },
      ]);
    if (at < now - this.#rules.castAtMaxAgeMs)
      throw new ValidationError([
        { field: "completedAt", message: "is too old (check the device clock)" },
      ]);
    if (at < Date.parse(poll.startsAt!))
      throw new ConflictError(
        "poll_not_open",
        `register "${poll.id}" starts at ${poll.startsAt}: it cannot be completed before`,
        { field: "completedAt", startsAt: poll.startsAt },
      );
    const completion: StoredCompletion = {
      completionId: input.completionId,
      pollId: poll.id,
      pollIncarnation: poll.incarnation,
      completedAt: new Date(at).toISOString(),
      receivedAt: new Date(now).toISOString(),
      by: by.kind === "kiosk" ? by.kiosk.id : actorId(by.actor),
    };
    const ack = await this.#publisher.publish(
      poll.id,
      encodeCompletionMessage(completion),
      completionMessageId(poll.id, completion.completionId),
    );
    return {
      pollId: poll.id,
      completionId: completion.completionId,
      status: ack.duplicate ? "duplicate" : "accepted",
    };
  }

  /** The register, if this completer may complete it (another school's: 404, or 403 for a kiosk as for its votes). */
  #register(by: Completer, pollId: string): CachedPoll {
    const poll = this.#cache.poll(pollId);
    const missing = () =>
      new NotFoundError("poll_not_found", `no lesson register has the id "${pollId}"`);
    if (poll === undefined || poll.kind !== "register") throw missing();
    if (by.kind === "kiosk") {
      const { kiosk } = by;
      if (
        poll.schoolId !== kiosk.schoolId ||
        (kiosk.pollIds !== null && !kiosk.pollIds.has(poll.id))
      )
        throw new AppError(
          403,
          "poll_not_allowed",
          `kiosk "${kiosk.id}" may not take register "${poll.id}"`,
          {
            details: { pollId: poll.id },
          },
        );
    } else if (by.actor.kind !== "deployment" && by.actor.schoolId !== poll.schoolId)
      throw missing();
    if (poll.archived)
      throw new ConflictError("poll_archived", `register "${poll.id}" is archived`);
    return poll;
  }
}

function actorId(actor: Actor): string {
  if (actor.kind === "teacher") return actor.teacherId;
  if (actor.kind === "school") return actor.adminId;
  return "admin";
}
