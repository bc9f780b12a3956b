import type { JsMsg } from "@nats-io/jetstream";
import type { StoredCompletion } from "../common/register-completion.ts";
import { deadLetterMessageId } from "./dead-letter-id.ts";
import { type DecodedVote, decodeVoteMessage, type Poison } from "./decode.ts";
import type { PoisonRow } from "./store-batch.ts";

/** One fetched message and what decoding made of it: votes to store, poison to dead-letter. */
export interface BatchItem {
  msg: JsMsg;
  votes: DecodedVote[];
  completions: StoredCompletion[];
  poison: Poison[];
}

export function decodeItem(msg: JsMsg): BatchItem {
  return { msg, ...decodeVoteMessage(msg.data, msg.seq) };
}

/** What one transaction stores for these items: their votes, and their poison as dead letters. */
export function batchRows(items: BatchItem[]): {
  votes: DecodedVote[];
  completions: StoredCompletion[];
  poison: PoisonRow[];
} {
  return {
    votes: items.flatMap((i) => i.votes),
    completions: items.flatMap((i) => i.completions),
    poison: items.flatMap((i) => i.poison.map((p) => poisonRow(i.msg, p))),
  };
}

function poisonRow(msg: JsMsg, p: Poison): PoisonRow {
  return {
    ...p,
    streamSeq: msg.seq,
    msgId: deadLetterMessageId(msg.headers?.get("Nats-Msg-Id"), msg.data),
    subject: msg.subject,
    deliveries: msg.info.deliveryCount,
  };
}

/**
 * A message stored only as its own dead letter, nothing of it counted: it is termed rather
 * than acked, telling JetStream it could not be processed.
 */
export function isDeadLetteredWhole(item: BatchItem): boolean {
  return (
    item.votes.length === 0 &&
    item.completions.length === 0 &&
    item.poison.some((p) => p.itemIndex === -1)
  );
}
