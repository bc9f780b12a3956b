import { createHash } from "node:crypto";

// The identity a dead letter is kept under (dead_letters.msg_id, with item_index): the
// message's Nats-Msg-Id, which names the message wherever and whenever it is stored, or,
// for a message published without one, a digest of its bytes. Never its stream sequence:
// a re-created stream numbers its messages from 1 again.

/** msg_id for a message with this Nats-Msg-Id header (empty or absent: none) and these bytes. */
export function deadLetterMessageId(natsMsgId: string | undefined, data: Uint8Array): string {
  if (natsMsgId) return natsMsgId;
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
