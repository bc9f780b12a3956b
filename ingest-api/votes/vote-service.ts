import { v7 as uuidv7 } from "uuid";
import { isFever } from "../../common/attendance/person-day.ts";
import {
  AppError,
  ConflictError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from "../../common/errors.ts";
import {
  encodeVoteMessage,
  type StoredVote,
  toFieldIssues,
  voteInputSchema,
} from "../../common/vote.ts";
import type { AttendanceState, PresenceEvent } from "../attendance/attendance-state.ts";
import type { IngestMetrics } from "../http/ingest-metrics.ts";
import type { KnownPeople } from "../people/known-people.ts";
import type { CachedPoll, RegistryCache } from "../registry/registry-cache.ts";
import { batchMessageId, sameVoteIdentity, voteMessageId } from "./message-id.ts";
import { splitVoteMessages } from "./vote-messages.ts";
import type { VotePublisher } from "./vote-publisher.ts";
import type { VoterClaim, VoterGuard } from "./voter-guard.ts";

export type VoteStatus = "accepted" | "duplicate";

export interface ItemError {
  status: number;
  code: string;
  message: string;
  details?: unknown;
}

export type BatchItemResult =
  | { index: number; eventId: string; status: VoteStatus; castAtClamped?: true }
  | { index: number; eventId: string | null; status: "rejected"; error: ItemError };

export interface BatchResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: BatchItemResult[];
}

export interface VoteRules {
  castAtMaxSkewMs: number;
  castAtMaxAgeMs: number;
  lateVoteGraceMs: number;
  /** Largest JetStream message payload; a batch's votes are split to stay under it. */
  maxMessageBytes: number;
}

/** Who is voting: the kiosk named by the token, and the polls it may vote in (null = any). */
export interface VotingKiosk {
  id: string;
  /** A kiosk votes only in its school's polls. */
  schoolId: string;
  pollIds: ReadonlySet<string> | null;
  /** A teacher's credential: lesson registers only (403 teacher_not_allowed otherwise). */
  registersOnly?: boolean;
}

/** The one thing the service needs of the publisher (tests give it one that fails for a poll). */
export type PublishVotes = Pick<VotePublisher, "publish">;

// What a rejected item's error may echo of the input: enough to find the mistake, never
// enough to make the answer grow faster than the request.
const ECHOED_EVENT_ID_MAX_LENGTH = 64;

interface Prepared {
  vote: StoredVote;
  claim: VoterClaim | undefined;
  /** The voterId's field name in error details (`votes.3.voterId` in a batch). */
  voterField: string;
  /** castAt was further ahead than the skew allows, and the receive time was stored instead. */
  castAtClamped: boolean;
  /** An attendance register's event: the "already checked in" state it sets once acked. */
  presence: PresenceEvent | undefined;
  /** A register's event as the metrics count it once accepted; undefined for a vote. */
  attendance: { kind: "in" | "out"; fever: boolean } | undefined;
}

/** What the service needs of the attendance state: its write after a publish ack. */
export type RecordPresence = Pick<AttendanceState, "record">;

/**
 * What a castAt further ahead of the server than CAST_AT_MAX_SKEW_MS means. A single vote
 * is answered at once, so its caller hears 400 and can fix its clock before saying thank
 * you. A batch comes from an outbox that already said thank you, maybe days ago: the vote
 * is stored at the receive time (the latest instant it can have been cast) and counted
 * as clamped, never refused for the kiosk's clock.
 */
type FutureCastAt = "refuse" | "clamp";

/**
 * Turns kiosk input into durable JetStream messages. Everything here reads the
 * in-memory registry; the only I/O is Redis (one-vote-per-voter polls) and the publish.
 */
export class VoteService {
  readonly #cache: RegistryCache;
  readonly #people: Pick<KnownPeople, "has" | "memberOf">;
  readonly #publisher: PublishVotes;
  readonly #guard: VoterGuard;
  readonly #metrics: IngestMetrics;
  readonly #rules: VoteRules;
  readonly #presence: RecordPresence | undefined;

  constructor(
    cache: RegistryCache,
    people: Pick<KnownPeople, "has" | "memberOf">,
    publisher: PublishVotes,
    guard: VoterGuard,
    metrics: IngestMetrics,
    rules: VoteRules,
    presence?: RecordPresence,
  ) {
    this.#cache = cache;
    this.#people = people;
    this.#publisher = publisher;
    this.#guard = guard;
    this.#metrics = metrics;
    this.#rules = rules;
    this.#presence = presence;
  }

  async acceptOne(
    kiosk: VotingKiosk,
    body: unknown,
  ): Promise<{ eventId: string; status: VoteStatus }> {
    let prepared: Prepared;
    try {
      const now = Date.now();
      prepared = this.#prepare(kiosk, body, now, new Date(now).toISOString(), "", "refuse");
      await this.#claimVoter(prepared);
    } catch (err) {
      if (err instanceof AppError && err.status < 500)
        this.#metrics.votes.inc({ status: "refused" });
      throw err;
    }
    const { vote, claim } = prepared;
    const started = performance.now();
    try {
      const ack = await this.#publisher.publish(
        vote.pollId,
        encodeVoteMessage([vote]),
        voteMessageId(vote),
      );
      this.#metrics.publishDuration.observe((performance.now() - started) / 1000);
      const status: VoteStatus = ack.duplicate ? "duplicate" : "accepted";
      this.#metrics.votes.inc({ status });
      if (!ack.duplicate) this.#countAttendance([prepared]);
      await this.#recordPresence([prepared]);
      return { eventId: vote.eventId, status };
    } catch (err) {
      if (claim) await this.#guard.release(claim).catch(() => {});
      throw err;
    }
  }

  /**
   * Validates each item on its own; publishes the good ones as messages per poll, split to
   * stay under the message limit (each message id derived from the kiosk and its votes'
   * identities, so resending the same batch is dropped by JetStream message by message).
   * An eventId repeated in the batch for the same poll is a duplicate when the vote is the
   * same, and 409 event_id_conflict when it is not; for another poll it is another event
   * (an event is its poll and eventId, migration 047), published with its poll's votes. If a publish fails the whole request fails with 503:
   * resending it is safe, since what was published is deduplicated. Only the votes of the
   * messages that were not acked give their voter claims back: the others are in the
   * stream, and their voters have voted.
   */
  async acceptBatch(kiosk: VotingKiosk, items: unknown[]): Promise<BatchResult> {
    const kioskId = kiosk.id;
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const results: BatchItemResult[] = new Array(items.length);
    const seen = new Map<string, { index: number; vote: StoredVote }>();
    const good: { index: number; prepared: Prepared }[] = [];
    let conflicts = 0;
    for (let index = 0; index < items.length; index++) {
      try {
        const prepared = this.#prepare(
          kiosk,
          items[index],
          now,
          nowIso,
          `votes.${index}.`,
          "clamp",
        );
        const { eventId } = prepared.vote;
        const key = `${prepared.vote.pollId}\u0000${eventId}`;
        const first = seen.get(key);
        if (first) {
          if (!sameVoteIdentity(first.vote, prepared.vote)) {
            conflicts++;
            throw eventIdConflict(eventId, index, first.index);
          }
          results[index] = { index, eventId, status: "duplicate" };
          continue;
        }
        seen.set(key, { index, vote: prepared.vote });
        good.push({ index, prepared });
      } catch (err) {
        results[index] = rejected(index, items[index], err);
      }
    }

    const claims = await Promise.allSettled(good.map((g) => this.#claimVoter(g.prepared)));
    const unavailable = claims.find(
      (c): c is PromiseRejectedResult => c.status === "rejected" && !isClientError(c.reason),
    );
    if (unavailable) {
      await this.#releaseAll(good.map((g) => g.prepared));
      throw unavailable.reason;
    }
    const publishable = good.filter((g, i) => {
      const claim = claims[i]!;
      if (claim.status === "fulfilled") return true;
      results[g.index] = rejected(g.index, g.prepared.vote, claim.reason);
      return false;
    });

    const byPoll = new Map<string, typeof publishable>();
    for (const g of publishable) {
      const group = byPoll.get(g.prepared.vote.pollId) ?? [];
      group.push(g);
      byPoll.set(g.prepared.vote.pollId, group);
    }
    const messages = [...byPoll].flatMap(([pollId, group]) => {
      const votes = group.map((g) => g.prepared.vote);
      return splitVoteMessages(votes, this.#rules.maxMessageBytes).map((chunk) => ({
        pollId,
        group: group.slice(chunk.start, chunk.end),
        data: chunk.data,
        msgId: batchMessageId(kioskId, votes.slice(chunk.start, chunk.end)),
      }));
    });
    const started = performance.now();
    const published = await Promise.allSettled(
      messages.map(async ({ pollId, group, data, msgId }) => {
        const ack = await this.#publisher.publish(pollId, data, msgId);
        if (!ack.duplicate) this.#countAttendance(group.map((g) => g.prepared));
        await this.#recordPresence(group.map((g) => g.prepared));
        const status: VoteStatus = ack.duplicate ? "duplicate" : "accepted";
        for (const g of group) {
          const result: BatchItemResult = {
            index: g.index,
            eventId: g.prepared.vote.eventId,
            status,
          };
          if (g.prepared.castAtClamped) result.castAtClamped = true;
          results[g.index] = result;
        }
      }),
    );
    this.#metrics.publishDuration.observe((performance.now() - started) / 1000);
    const failed = published.flatMap((p, i) => (p.status === "rejected" ? [i] : []));
    if (failed.length > 0) {
      await this.#releaseAll(failed.flatMap((i) => messages[i]!.group.map((g) => g.prepared)));
      throw (published[failed[0]!] as PromiseRejectedResult).reason;
    }

    const summary: BatchResult = { accepted: 0, duplicates: 0, rejected: 0, results };
    for (const r of results) {
      if (r.status === "accepted") summary.accepted++;
      else if (r.status === "duplicate") summary.duplicates++;
      else summary.rejected++;
    }
    this.#metrics.votes.inc({ status: "accepted" }, summary.accepted);
    this.#metrics.votes.inc({ status: "duplicate" }, summary.duplicates);
    this.#metrics.votes.inc({ status: "conflict" }, conflicts);
    this.#metrics.votes.inc({ status: "refused" }, summary.rejected - conflicts);
    this.#metrics.castAtClamped.inc(results.filter((r) => "castAtClamped" in r).length);
    return summary;
  }

  /** `nowIso` is `now` as ISO text, made once per request: toISOString costs ~1 µs a call. */
  /** Only a register takes a temperature, and only within its school's range. */
  #checkTemperature(poll: CachedPoll, temperatureC: number, fieldPrefix: string): void {
    const field = `${fieldPrefix}temperatureC`;
    if (poll.kind !== "attendance")
      throw new ValidationError([
        { field, message: `is for attendance registers only; poll "${poll.id}" is a vote` },
      ]);
    const school = this.#cache.school(poll.schoolId);
    if (school === undefined) return; // the school went with the poll: the writer drops the vote
    const { temperatureMinC: min, temperatureMaxC: max } = school.attendance;
    if (temperatureC < min || temperatureC > max)
      throw new UnprocessableError(
        "temperature_out_of_range",
        `temperatureC ${temperatureC} is outside the school's range ${min}–${max} °C (check the thermometer)`,
        { field, min, max },
      );
  }

  #prepare(
    kiosk: VotingKiosk,
    body: unknown,
    now: number,
    nowIso: string,
    fieldPrefix: string,
    futureCastAt: FutureCastAt,
  ): Prepared {
    const parsed = voteInputSchema.safeParse(body, { reportInput: true });
    if (!parsed.success)
      throw new ValidationError(toFieldIssues(parsed.error, fieldPrefix.slice(0, -1)));
    const input = parsed.data;
    // Before the poll's existence: a kiosk limited to some polls learns nothing of others.
    if (kiosk.pollIds !== null && !kiosk.pollIds.has(input.pollId))
      throw new AppError(
        403,
        "poll_not_allowed",
        `kiosk "${kiosk.id}" may not vote in poll "${input.pollId}" (its pollIds)`,
        { details: { field: `${fieldPrefix}pollId`, pollId: input.pollId } },
      );
    const poll = this.#cache.poll(input.pollId);
    if (!poll) throw new NotFoundError("poll_not_found", `poll "${input.pollId}" does not exist`);
    // A teacher learns nothing of another school's polls (the admins' rule: actor.ts).
    if (poll.schoolId !== kiosk.schoolId && kiosk.registersOnly)
      throw new NotFoundError("poll_not_found", `poll "${input.pollId}" does not exist`);
    if (poll.schoolId !== kiosk.schoolId)
      throw new AppError(
        403,
        "poll_not_allowed",
        `kiosk "${kiosk.id}" may not vote in poll "${input.pollId}" (another school's)`,
        { details: { field: `${fieldPrefix}pollId`, pollId: input.pollId } },
      );
    if (kiosk.registersOnly && poll.kind !== "register")
      throw new AppError(
        403,
        "teacher_not_allowed",
        `a teacher's token takes lesson registers only; poll "${input.pollId}" is none`,
        { details: { field: `${fieldPrefix}pollId`, pollId: input.pollId } },
      );
    if (poll.archived) throw new ConflictError("poll_archived", `poll "${poll.id}" is archived`);
    if (!poll.optionIds.has(input.optionId))
      throw new UnprocessableError(
        "unknown_option",
        `optionId "${input.optionId}" is not an option of poll "${poll.id}"`,
        // The count, not the list: the answer to a batch stays proportional to the request
        // (listing the options would repeat a 100-option poll's ids for every bad item).
        { field: `${fieldPrefix}optionId`, optionCount: poll.optionIds.size },
      );
    // The id is never echoed: a roster's ids are personal data, and the kiosk sent it anyway.
    if (poll.voters === "roster") {
      if (input.voterId === undefined)
        throw new ValidationError([
          {
            field: `${fieldPrefix}voterId`,
            message: `is required: poll "${poll.id}" takes votes from the people of its school's roster only`,
          },
        ]);
      // A lesson register's voter: the school and the group in one look (one md5).
      const found =
        poll.groupId === undefined
          ? this.#people.has(poll.schoolId, input.voterId)
            ? "member"
            : "unknown"
          : this.#people.memberOf(poll.schoolId, poll.groupId, input.voterId);
      if (found === "unknown")
        throw new UnprocessableError(
          "unknown_person",
          `voterId is not an active person of the school of poll "${poll.id}"`,
          { field: `${fieldPrefix}voterId` },
        );
      if (found === "not_in_group")
        throw new UnprocessableError(
          "not_in_group",
          `voterId is not in group "${poll.groupId}" of lesson register "${poll.id}"`,
          { field: `${fieldPrefix}voterId`, groupId: poll.groupId },
        );
    }
    if (input.temperatureC !== undefined)
      this.#checkTemperature(poll, input.temperatureC, fieldPrefix);

    let castAtMs = input.castAt === undefined ? now : Date.parse(input.castAt);
    const castAtClamped = castAtMs > now + this.#rules.castAtMaxSkewMs && futureCastAt === "clamp";
    if (castAtClamped) castAtMs = now;
    if (castAtMs > now + this.#rules.castAtMaxSkewMs)
      throw new ValidationError([
        {
          field: `${fieldPrefix}castAt`,
          message: "must not be in the future (check the kiosk clock)",
        },
      ]);
    if (castAtMs < now - this.#rules.castAtMaxAgeMs)
      throw new ValidationError([
        {
          field: `${fieldPrefix}castAt`,
          message: `must be within the last ${Math.round(this.#rules.castAtMaxAgeMs / 86_400_000)} days (check the kiosk clock)`,
        },
      ]);
    if (poll.opensAtMs !== null && castAtMs < poll.opensAtMs)
      throw new ConflictError("poll_not_open", `poll "${poll.id}" opens at ${poll.opensAt}`, {
        field: `${fieldPrefix}castAt`,
        opensAt: poll.opensAt,
      });
    if (
      poll.closesAtMs !== null &&
      (castAtMs >= poll.closesAtMs || now >= poll.closesAtMs + this.#rules.lateVoteGraceMs)
    )
      throw new ConflictError("poll_closed", `poll "${poll.id}" closed at ${poll.closesAt}`, {
        field: `${fieldPrefix}castAt`,
        closesAt: poll.closesAt,
      });

    const eventId = input.eventId ?? uuidv7();
    const vote: StoredVote = {
      eventId,
      pollId: poll.id,
      optionId: input.optionId,
      kioskId: kiosk.id,
      castAt: castAtClamped ? nowIso : canonicalInstant(input.castAt, castAtMs, now, nowIso),
      receivedAt: nowIso,
      // The writer stores the vote only into this incarnation of the poll (poll deleted since: dropped).
      pollIncarnation: poll.incarnation,
    };
    if (input.voterId !== undefined) vote.voterId = input.voterId;
    if (input.temperatureC !== undefined) vote.temperatureC = input.temperatureC;
    const claim =
      poll.oneVotePerVoter && input.voterId !== undefined
        ? this.#guard.claimFor(
            { pollId: poll.id, incarnation: poll.incarnation },
            input.voterId,
            eventId,
          )
        : undefined;
    return {
      vote,
      claim,
      voterField: `${fieldPrefix}voterId`,
      castAtClamped,
      presence: this.#presenceOf(poll, vote, castAtMs),
      attendance: this.#attendanceOf(poll, vote),
    };
  }

  #attendanceOf(poll: CachedPoll, vote: StoredVote): Prepared["attendance"] {
    if (poll.kind !== "attendance") return undefined;
    const threshold = this.#cache.school(poll.schoolId)?.attendance.feverThresholdC;
    return {
      kind: vote.optionId === "out" ? "out" : "in",
      fever: threshold !== undefined && isFever(vote.temperatureC, threshold),
    };
  }

  /** Counts accepted register events (a duplicate was counted when first accepted). */
  #countAttendance(prepared: readonly Prepared[]): void {
    for (const { attendance } of prepared) {
      if (attendance === undefined) continue;
      this.#metrics.attendanceEvents.inc({ kind: attendance.kind });
      if (attendance.fever) this.#metrics.feverReadings.inc();
    }
  }

  /** An attendance register's check-in or check-out, for the "already checked in" state. */
  #presenceOf(poll: CachedPoll, vote: StoredVote, castAtMs: number): PresenceEvent | undefined {
    if (poll.kind !== "attendance" || vote.voterId === undefined || this.#presence === undefined)
      return undefined;
    const school = this.#cache.school(poll.schoolId);
    if (school === undefined) return undefined;
    return {
      schoolId: poll.schoolId,
      timeZone: school.timeZone,
      personId: vote.voterId,
      kind: vote.optionId === "out" ? "out" : "in",
      atMs: castAtMs,
    };
  }

  /**
   * After the publish ack (a duplicate too: its first answer may have been lost before the
   * state was written, and writing it again changes nothing). Never throws.
   */
  async #recordPresence(prepared: readonly Prepared[]): Promise<void> {
    if (this.#presence === undefined) return;
    const events = prepared.flatMap((p) => (p.presence === undefined ? [] : [p.presence]));
    if (events.length > 0) await this.#presence.record(events);
  }

  async #claimVoter(prepared: Prepared): Promise<void> {
    if (!prepared.claim) return;
    const result = await this.#guard.claim(prepared.claim);
    if (result === "taken") {
      prepared.claim = undefined; // not ours to release
      throw new ConflictError(
        "already_voted",
        `voter has already voted in poll "${prepared.vote.pollId}"`,
        { field: prepared.voterField },
      );
    }
    if (result === "same_event") prepared.claim = undefined; // an earlier request holds it
  }

  async #releaseAll(prepared: Prepared[]): Promise<void> {
    await Promise.allSettled(
      prepared.flatMap((p) => (p.claim ? [this.#guard.release(p.claim)] : [])),
    );
  }
}

// What toISOString prints: an instant already in this form is its own canonical text.
const CANONICAL_INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** castAt as the canonical ISO text of its instant, computed only when it is not already. */
function canonicalInstant(
  given: string | undefined,
  ms: number,
  now: number,
  nowIso: string,
): string {
  if (given === undefined || ms === now) return nowIso;
  return CANONICAL_INSTANT.test(given) ? given : new Date(ms).toISOString();
}

/** The same eventId and poll as an earlier item of the batch, for another option or voter. */
function eventIdConflict(eventId: string, index: number, firstIndex: number): ConflictError {
  return new ConflictError(
    "event_id_conflict",
    `eventId "${eventId}" is already used by votes.${firstIndex} of this batch for another option or voter of the poll; a retry must resend the same vote, a new vote needs a new eventId`,
    { field: `votes.${index}.eventId`, conflictsWith: `votes.${firstIndex}` },
  );
}

function isClientError(err: unknown): boolean {
  return err instanceof AppError && err.status < 500;
}

function rejected(index: number, item: unknown, err: unknown): BatchItemResult {
  if (!(err instanceof AppError) || err.status >= 500) throw err;
  const eventId =
    typeof item === "object" &&
    item !== null &&
    "eventId" in item &&
    typeof item.eventId === "string" &&
    item.eventId.length <= ECHOED_EVENT_ID_MAX_LENGTH
      ? item.eventId
      : null;
  const error: ItemError = { status: err.status, code: err.code, message: err.message };
  if (err.details !== undefined) error.details = err.details;
  return { index, eventId, status: "rejected", error };
}
