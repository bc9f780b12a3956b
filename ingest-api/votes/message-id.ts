import { createHash, type Hash } from "node:crypto";
import type { StoredVote } from "../../common/vote.ts";

// The JetStream dedupe keys (Nats-Msg-Id) of vote messages.
//
// A vote's identity is its eventId as sent by one kiosk for one content: the kiosk, the
// poll, the option and the voter. A retry repeats all of them, so it gets the same message
// id and JetStream answers "duplicate" inside its window. Another kiosk (or another option
// or voter) reusing the eventId in the same poll is not a retry: its message id differs, it
// reaches the writer, and the writer records it as a conflict (conflicting_votes), never as
// a duplicate. The same eventId in another poll is another event (an event is its poll and
// eventId, migration 047): the poll is in the digest, so JetStream never drops it as a
// repeat of the first poll's vote, and the writer stores it as a vote of its own poll.
//
// castAt is not part of the identity: a vote sent without castAt is stamped with its
// receive time, which differs on every retry, and a kiosk resending with a corrected clock
// is still resending the same vote. The first stored castAt wins. receivedAt is per
// request for the same reason.

/** The identity of a vote, in a form two votes can be compared by. */
export function sameVoteIdentity(a: StoredVote, b: StoredVote): boolean {
  return (
    a.eventId === b.eventId &&
    a.kioskId === b.kioskId &&
    a.pollId === b.pollId &&
    a.optionId === b.optionId &&
    a.voterId === b.voterId
  );
}

/** Message id of a single vote: a digest of its identity. */
export function voteMessageId(vote: StoredVote): string {
  const hash = createHash("sha256").update(vote.kioskId);
  addIdentity(hash, vote);
  return `vote-${hash.digest("base64url")}`;
}

/** Message id of one poll's votes from a batch: resending the same batch is dropped whole. */
export function batchMessageId(kioskId: string, votes: readonly StoredVote[]): string {
  const hash = createHash("sha256").update(kioskId);
  for (const v of votes) addIdentity(hash, v);
  return `batch-${hash.digest("base64url")}`;
}

// Ids are [A-Za-z0-9_-] and voter ids have no control characters (common/vote.ts), so
// "\n" and "\t" separate fields unambiguously and "\u0000" marks a vote without a voter.
function addIdentity(hash: Hash, v: StoredVote): void {
  hash.update(`\n${v.eventId}\t${v.pollId}\t${v.optionId}\t${v.voterId ?? "\u0000"}`);
}
