import assert from "node:assert/strict";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import { v7 as uuidv7 } from "uuid";
import { encodeVoteMessage, type StoredVote } from "../common/vote.ts";
import { voteSubject } from "../common/votes-stream.ts";

// Votes as the ingest API publishes them, put straight on JetStream: for the writer's
// tests, which run without the API.

export interface VoteSpec {
  pollId: string;
  optionId: string;
  kioskId?: string;
  voterId?: string;
  /** Default: now. */
  castAt?: Date | string;
  eventId?: string;
  /** A register's check-in or check-out temperature. */
  temperatureC?: number;
}

/** A StoredVote as the ingest API publishes it: UUIDv7 event id, ISO timestamps. */
export function makeVote(spec: VoteSpec): StoredVote {
  const castAt =
    spec.castAt === undefined
      ? new Date().toISOString()
      : typeof spec.castAt === "string"
        ? spec.castAt
        : spec.castAt.toISOString();
  const vote: StoredVote = {
    eventId: spec.eventId ?? uuidv7(),
    pollId: spec.pollId,
    optionId: spec.optionId,
    kioskId: spec.kioskId ?? "kiosk-1",
    castAt,
    receivedAt: new Date().toISOString(),
  };
  if (spec.voterId !== undefined) vote.voterId = spec.voterId;
  if (spec.temperatureC !== undefined) vote.temperatureC = spec.temperatureC;
  return vote;
}

/**
 * Publishes one vote message (all votes of one poll) with JetStream's publish, as the
 * ingest API does. msgID defaults to a fresh UUID, so the same votes can be sent again as
 * a different message (a resend beyond the duplicate window).
 */
export function publishVotes(
  js: JetStreamClient,
  subjectPrefix: string,
  votes: StoredVote[],
  msgId: string = uuidv7(),
): Promise<PubAck> {
  const pollId = votes[0]?.pollId;
  assert.ok(pollId !== undefined, "a vote message needs at least one vote");
  assert.ok(
    votes.every((v) => v.pollId === pollId),
    "a vote message carries the votes of one poll",
  );
  return js.publish(voteSubject(subjectPrefix, pollId), encodeVoteMessage(votes), { msgID: msgId });
}

/** Publishes raw bytes on a poll's subject (poison messages). */
export function publishRaw(
  js: JetStreamClient,
  subjectPrefix: string,
  pollId: string,
  data: Uint8Array | string,
): Promise<PubAck> {
  return js.publish(voteSubject(subjectPrefix, pollId), data, { msgID: uuidv7() });
}

/** Publishes many messages, `concurrency` publishes in flight at a time. */
export async function publishMany(
  js: JetStreamClient,
  subjectPrefix: string,
  messages: StoredVote[][],
  concurrency = 200,
): Promise<void> {
  for (let start = 0; start < messages.length; start += concurrency) {
    const acks = await Promise.all(
      messages
        .slice(start, start + concurrency)
        .map((votes) => publishVotes(js, subjectPrefix, votes)),
    );
    for (const ack of acks) assert.equal(ack.duplicate, false);
  }
}
