import type { Pool } from "./postgres.ts";

// Dead letters (the writer's `dead_letters`: migrations 002, 007, 015) as the operator reads
// and replays them: one home for `npm run dlq` and the console's routes
// (ingest-api/dead-letters/), so both list the same rows and replay the same way.

/** Why the writer set a message aside (migration 007). */
export const DEAD_LETTER_REASONS = ["invalid", "store_failed", "max_deliveries"] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** Which dead letters a listing keeps: not yet replayed (the default), replayed, or both. */
export const DEAD_LETTER_STATES = ["pending", "replayed", "all"] as const;
export type DeadLetterState = (typeof DEAD_LETTER_STATES)[number];

export interface DeadLetter {
  id: number;
  stream: string;
  streamSeq: number;
  /** -1: the whole message; n >= 0: the n-th vote of a batch message (raw is that vote). */
  itemIndex: number;
  subject: string;
  /** Its bytes: all of them, or their first `rawPrefixBytes` when the listing asked so. */
  raw: Buffer;
  /** The length of all its bytes (raw may hold only a prefix of them). */
  rawBytes: number;
  error: string;
  reason: DeadLetterReason;
  deliveries: number;
  firstSeen: Date;
  /** Set again each time the same message (msg_id, item_index: migration 015) is dead-lettered. */
  lastSeen: Date;
  replayedAt: Date | null;
}

export interface DeadLetterFilter {
  state?: DeadLetterState;
  reason?: DeadLetterReason;
  /** Only the messages of this subject (a poll's: `<SUBJECT_PREFIX>.<pollId>`). */
  subject?: string;
  /** Keyset: only ids above this one. */
  after?: number;
}

interface Row {
  id: string;
  stream: string;
  stream_seq: string;
  item_index: number;
  subject: string;
  raw: Buffer;
  raw_bytes: number;
  error: string;
  reason: DeadLetterReason;
  deliveries: number;
  first_seen: Date;
  last_seen: Date;
  replayed_at: Date | null;
}

const COLUMNS =
  "id, stream, stream_seq, item_index, subject, octet_length(raw) as raw_bytes, error, reason, deliveries, first_seen, last_seen, replayed_at";

const fromRow = (r: Row): DeadLetter => ({
  id: Number(r.id),
  stream: r.stream,
  streamSeq: Number(r.stream_seq),
  itemIndex: r.item_index,
  subject: r.subject,
  raw: r.raw,
  rawBytes: r.raw_bytes,
  error: r.error,
  reason: r.reason,
  deliveries: r.deliveries,
  firstSeen: r.first_seen,
  lastSeen: r.last_seen,
  replayedAt: r.replayed_at,
});

/**
 * Oldest first by id; `limit` undefined: every row the filter keeps (the CLI's listing).
 * `rawPrefixBytes`: only the first bytes of each raw (a preview): a message may be as large
 * as the stream's max payload (1 MiB), and a page of 500 whole ones would be held in memory
 * at once, twice (pg's rows and the answer).
 */
export async function listDeadLetters(
  pool: Pool,
  filter: DeadLetterFilter,
  limit?: number,
  options: { rawPrefixBytes?: number } = {},
): Promise<DeadLetter[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const raw =
    options.rawPrefixBytes === undefined
      ? "raw"
      : `substring(raw from 1 for $${params.push(options.rawPrefixBytes)}) as raw`;
  const state = filter.state ?? "pending";
  if (state === "pending") where.push("replayed_at is null");
  if (state === "replayed") where.push("replayed_at is not null");
  if (filter.reason !== undefined) where.push(`reason = $${params.push(filter.reason)}`);
  if (filter.subject !== undefined) where.push(`subject = $${params.push(filter.subject)}`);
  if (filter.after !== undefined) where.push(`id > $${params.push(filter.after)}`);
  const { rows } = await pool.query<Row>(
    `select ${COLUMNS}, ${raw} from dead_letters ${where.length > 0 ? `where ${where.join(" and ")}` : ""}
      order by id ${limit === undefined ? "" : `limit $${params.push(limit)}`}`,
    params,
  );
  return rows.map(fromRow);
}

export async function findDeadLetter(pool: Pool, id: number): Promise<DeadLetter | undefined> {
  const { rows } = await pool.query<Row>(`select ${COLUMNS}, raw from dead_letters where id = $1`, [
    id,
  ]);
  return rows[0] === undefined ? undefined : fromRow(rows[0]);
}

/** Publishes one message to the votes stream and answers JetStream's ack. */
export type PublishMessage = (
  subject: string,
  data: Uint8Array,
  msgId: string,
) => Promise<{ seq: number; duplicate: boolean }>;

export interface Replayed {
  id: number;
  /** The stream sequence JetStream stored it at (or had stored it at, when a duplicate). */
  seq: number;
  /** JetStream had it already: an earlier replay of this same sighting. */
  duplicate: boolean;
  replayedAt: Date;
}

/**
 * The message a dead letter is published again as: a whole message as it was; a single vote
 * of a batch message wrapped in a message of its own (the writer's batch format, v1).
 */
export function replayData(letter: Pick<DeadLetter, "itemIndex" | "raw">): Buffer {
  return letter.itemIndex >= 0
    ? Buffer.from(`{"v":1,"votes":[${letter.raw.toString("utf8")}]}`)
    : letter.raw;
}

/**
 * One message id per dead letter and sighting: a repeated replay (two operators at once, or a
 * crash before replayed_at was set) is dropped by JetStream's duplicate window, and the votes
 * inside carry their own poll and event ids, which Postgres keeps unique for good (the key
 * (poll_id, event_id), migration 047: a replay meets its vote's first copy); the same message
 * dead-lettered again (last_seen moved) is published anew. Not the original Nats-Msg-Id: the
 * stream still holds the original within its window and would drop the replay unseen.
 */
export function replayMsgId(letter: Pick<DeadLetter, "id" | "lastSeen">): string {
  return `dlq-${letter.id}-${letter.lastSeen.getTime()}`;
}

/** Publishes the dead letter again, then marks it replayed (after the ack: never before). */
export async function replayDeadLetter(
  pool: Pool,
  publish: PublishMessage,
  letter: DeadLetter,
): Promise<Replayed> {
  const ack = await publish(letter.subject, replayData(letter), replayMsgId(letter));
  const { rows } = await pool.query<{ replayed_at: Date }>(
    "update dead_letters set replayed_at = now() where id = $1 returning replayed_at",
    [letter.id],
  );
  return {
    id: letter.id,
    seq: ack.seq,
    duplicate: ack.duplicate,
    replayedAt: rows[0]?.replayed_at ?? new Date(),
  };
}

/**
 * Dead letters a replay reads from Postgres at once: each may be up to the stream's max
 * payload (1 MiB), so a backlog is read a page at a time (at most this many MiB held),
 * never whole.
 */
export const REPLAY_PAGE_ROWS = 50;

/**
 * Replays the pending dead letters the filter keeps, oldest first, at most `max` of them
 * (undefined: every one); stops at the first publish that fails, those before it replayed.
 */
export async function replayPending(
  pool: Pool,
  publish: PublishMessage,
  filter: Omit<DeadLetterFilter, "state" | "after">,
  max?: number,
): Promise<Replayed[]> {
  const out: Replayed[] = [];
  let after: number | undefined;
  for (;;) {
    const want = Math.min(REPLAY_PAGE_ROWS, max === undefined ? Infinity : max - out.length);
    if (want <= 0) return out;
    const page = await listDeadLetters(pool, { ...filter, state: "pending", after }, want);
    for (const letter of page) out.push(await replayDeadLetter(pool, publish, letter));
    if (page.length < want) return out;
    after = page.at(-1)!.id;
  }
}
