import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { from as copyFrom } from "pg-copy-streams";
import { type Pool, type PoolClient, pgCode } from "../common/postgres.ts";
import type { StoredCompletion } from "../common/register-completion.ts";
import { BUCKET_MS, bucketStartSql } from "../common/rollup-buckets.ts";
import { copyChunks, STAGING_COLUMNS } from "./copy-rows.ts";
import type { DecodedVote, Poison } from "./decode.ts";
import { CLASHES_WITH_STORED, RECORD_CONFLICTS, SAME_VOTE_STORED } from "./event-id-conflicts.ts";
import {
  type RegisterSchool,
  rejectDeletedPollVotes,
  sortByPollIncarnation,
} from "./poll-incarnations.ts";
import { keepPresence, noRegisterEvents, type RegisterEvents } from "./presence-upkeep.ts";
import { keepRegisters } from "./register-upkeep.ts";
import { rejectPastRetention, splitByRetention } from "./votes-retention.ts";

export interface PoisonRow extends Poison {
  streamSeq: number;
  /** The message's identity (dead-letter-id.ts): what the dead letter is keyed by. */
  msgId: string;
  subject: string;
  deliveries: number;
}

export interface StoreResult {
  /** Votes in the batch (after decoding). */
  received: number;
  /** Rows actually inserted into `votes` (and counted in the rollups). */
  inserted: number;
  /** Second votes refused by one-vote-per-voter, kept in rejected_votes. */
  rejected: number;
  /** Votes already stored (redelivery, resend beyond the JetStream window). */
  duplicates: number;
  /** Votes reusing an eventId stored in their poll for another kiosk, option or voter: conflicting_votes. */
  conflicts: number;
  /** Votes for a poll deleted since (poll-incarnations.ts), kept in rejected_votes. */
  pollDeleted: number;
  /** Votes whose event id time is past VOTES_RETENTION_DAYS (votes-retention.ts), kept in rejected_votes. */
  pastRetention: number;
  deadLettered: number;
  /** Person-days of attendance_days recomputed (presence-upkeep.ts), dirty ones included. */
  personDays: number;
  /** How the batch was stored: COPY straight into `votes`, or through the staging table. */
  path: "direct" | "staging";
}

const prepared = new WeakSet<PoolClient>();

// Per connection, once: a staging table emptied at every commit.
const CREATE_STAGING = `
  create temp table if not exists vote_staging (
    event_id uuid not null, poll_id text not null, option_id text not null,
    kiosk_id text not null, voter_id text, cast_at timestamptz not null,
    received_at timestamptz not null, stream_seq bigint not null, temperature_c numeric(4, 1)
  ) on commit delete rows`;

// The first vote (by cast time) of a voter in a one-vote-per-voter poll claims the ballot;
// a claim that already exists wins over anything in this batch. An eventId clash claims
// none. The candidates are materialized so that the clash check (a lookup in votes) runs
// only for votes in such polls, not for every staged row.
const CLAIM_BALLOTS = `
  with candidates as materialized (
    select s.* from vote_staging s join polls p on p.id = s.poll_id and p.one_vote_per_voter
    where s.voter_id is not null
  )
  insert into voter_ballots (poll_id, voter_id, event_id)
  select distinct on (s.poll_id, s.voter_id) s.poll_id, s.voter_id, s.event_id
  from candidates s
  where not ${CLASHES_WITH_STORED}
  order by s.poll_id, s.voter_id, s.cast_at, s.event_id
  on conflict do nothing`;

const REJECT_SECOND_VOTES = `
  with second_votes as materialized (
    select s.* from vote_staging s
    join voter_ballots b on b.poll_id = s.poll_id and b.voter_id = s.voter_id
    where b.event_id <> s.event_id
  )
  insert into rejected_votes (event_id, poll_id, option_id, kiosk_id, voter_id, cast_at,
                              received_at, stream_seq, reason)
  select s.event_id, s.poll_id, s.option_id, s.kiosk_id, s.voter_id, s.cast_at,
         s.received_at, s.stream_seq, 'voter_already_voted'
  from second_votes s
  where not ${CLASHES_WITH_STORED}
  -- No target: rejected_votes' key is each partition's index on (poll_id, event_id) (047).
  on conflict do nothing`;

/**
 * The publisher's log of which polls changed (migrations 048, 053): a row per poll, set to
 * the poll's new change_seq by each batch in its transaction, from a `changed` CTE
 * returning (poll_id, change_seq). The batch already holds the poll's poll_changes row
 * lock, so this row's adds no wait (poll_id order all the same, the writers' lock order);
 * greatest() only guards a row written out of that order (none is). One home for every
 * writer of the log: the writer's two paths, and the tests' and benches' batches
 * (harness/writer-rollups.ts).
 */
export const LOG_POLL_CHANGES = `insert into poll_change_log as l (poll_id, change_seq)
    select poll_id, change_seq from changed order by poll_id
    on conflict (poll_id) do update set change_seq = greatest(l.change_seq, excluded.change_seq)`;

// One statement: insert what is new, bump each touched poll's change marker, log it for the
// publisher and fold exactly those rows into the rollups, each stamped with its poll's new
// change_seq (migration 048). The change markers are upserted first (`changed`: the
// rollups join it, and their sorted aggregate reads all of it before the first rollup row
// is written), in poll_id order, then the rollup rows in key order: the same lock order as
// the direct path (MARK_AND_ROLL_UP_ARRAYS), so writers folding into the same polls at once
// wait for each other instead of deadlocking. The marker's row lock, held until commit,
// makes a poll's batches commit in change_seq order: what the publisher's delta read relies
// on. It also hands back the inserted events of the batch's attendance registers ($1),
// whose person-days presence-upkeep.ts keeps (one aggregate, so the arrays are in one order).
const INSERT_AND_ROLL_UP = `
  with inserted as (
    insert into votes (${STAGING_COLUMNS})
    select ${STAGING_COLUMNS} from vote_staging s
    where not exists (
      select 1 from voter_ballots b
      where b.poll_id = s.poll_id and b.voter_id = s.voter_id and b.event_id <> s.event_id)
    -- No target: votes' unique key is each partition's index on (poll_id, event_id) (047).
    on conflict do nothing
    returning event_id, poll_id, option_id, voter_id, cast_at, stream_seq, temperature_c
  ), changed as (
    insert into poll_changes as c (poll_id, change_seq, last_stream_seq, changed_at)
    select poll_id, 1, max(stream_seq), clock_timestamp()
    from inserted group by poll_id order by poll_id
    on conflict (poll_id) do update set
      change_seq = c.change_seq + 1,
      last_stream_seq = greatest(c.last_stream_seq, excluded.last_stream_seq),
      changed_at = excluded.changed_at
    returning poll_id, change_seq
  ), logged as (
    ${LOG_POLL_CHANGES}
  ), rolled as (
    insert into vote_rollups as r (poll_id, option_id, bucket_start, count, change_seq)
    select i.poll_id, i.option_id,
           ${bucketStartSql("i.cast_at")}, count(*), c.change_seq
    from inserted i join changed c on c.poll_id = i.poll_id
    group by 1, 2, 3, 5 order by 1, 2, 3
    on conflict (poll_id, option_id, bucket_start)
      do update set count = r.count + excluded.count, change_seq = excluded.change_seq
    returning 1
  ), not_inserted as materialized (
    -- Staged, not inserted, not a refused second vote (materialized: the lookup below
    -- then runs for these rows only). An event is its poll and event id (migration 047).
    select s.* from vote_staging s
    where not exists (
        select 1 from inserted i where i.event_id = s.event_id and i.poll_id = s.poll_id)
      and not exists (
        select 1 from voter_ballots b
        where b.poll_id = s.poll_id and b.voter_id = s.voter_id and b.event_id <> s.event_id)
  ), duplicate_rows as (
    -- The same vote stored: a duplicate. (A different vote stored under its poll and
    -- event_id is a conflict: RECORD_CONFLICTS.)
    select s.poll_id, s.kiosk_id from not_inserted s where ${SAME_VOTE_STORED}
  ), duplicates as (
    insert into duplicate_counts as d (poll_id, kiosk_id, day, count)
    select poll_id, kiosk_id, (now() at time zone 'UTC')::date, count(*)
    from duplicate_rows
    group by 1, 2, 3 order by 1, 2, 3
    on conflict (poll_id, kiosk_id, day) do update set count = d.count + excluded.count
    returning 1
  ), register_events as (
    select coalesce(array_agg(event_id::text), '{}') as "eventIds",
           coalesce(array_agg(poll_id), '{}') as "pollIds",
           coalesce(array_agg(option_id), '{}') as kinds,
           coalesce(array_agg(voter_id), '{}') as "personIds",
           coalesce(array_agg(cast_at::text), '{}') as "castAts",
           coalesce(array_agg(temperature_c::float8), '{}') as temperatures
    from inserted where voter_id is not null and poll_id = any($1::text[])
  )
  select (select count(*) from inserted) as inserted,
         (select count(*) from duplicate_rows) as stored_duplicates,
         (select count(*) from rolled) as buckets,
         (select count(*) from changed) as polls,
         r.*
  from register_events r`;

// Keyed by the message's identity (dead-letter-id.ts), never by its stream sequence. The
// same message dead-lettered again (a resend past the duplicate window) takes its latest
// bytes and is listed for replay again, whatever month it was first seen in; two copies in
// one batch (the same bytes with no message id) are one dead letter (record_dead_letters,
// migration 044: the upsert's one home, which max-deliveries.ts calls too).
const INSERT_DEAD_LETTERS = `
  select record_dead_letters($1, $2::bigint[], $3::text[], $4::int[], $5::text[], $6::bytea[],
                             $7::text[], $8::int[], $9::text[])`;

// The direct path's change markers, their log and rollups (aggregated in Node from the
// batch) in one statement, in INSERT_AND_ROLL_UP's lock order: the markers in poll_id
// order, then the rollup rows in key order (their sort reads all of `changed` first), each
// rollup stamped with its poll's new change_seq.
const MARK_AND_ROLL_UP_ARRAYS = `
  with changed as (
    insert into poll_changes as c (poll_id, change_seq, last_stream_seq, changed_at)
    select p, 1, s, clock_timestamp()
    from unnest($5::text[], $6::bigint[]) as u(p, s)
    order by p
    on conflict (poll_id) do update set
      change_seq = c.change_seq + 1,
      last_stream_seq = greatest(c.last_stream_seq, excluded.last_stream_seq),
      changed_at = excluded.changed_at
    returning poll_id, change_seq
  ), logged as (
    ${LOG_POLL_CHANGES}
  )
  insert into vote_rollups as r (poll_id, option_id, bucket_start, count, change_seq)
  select u.p, u.o, u.b, u.n, c.change_seq
  from unnest($1::text[], $2::text[], $3::timestamptz[], $4::bigint[]) as u(p, o, b, n)
  join changed c on c.poll_id = u.p
  order by u.p, u.o, u.b
  on conflict (poll_id, option_id, bucket_start)
    do update set count = r.count + excluded.count, change_seq = excluded.change_seq`;

const ENFORCING_POLLS = "select id from polls where one_vote_per_voter and id = any($1)";

// The direct path's ballots: one per voter of a one-vote-per-voter poll in the batch, each
// naming its vote, in key order (the staging path's CLAIM_BALLOTS order: writers claiming
// the same ballots wait for each other, and take them before the change markers, as it
// does). A ballot already there (the voter voted before, or this very vote was stored and
// is redelivered) inserts nothing: the caller then takes the staging path, which rejects
// the second vote or counts the duplicate.
const CLAIM_BALLOTS_ARRAYS = `
  insert into voter_ballots (poll_id, voter_id, event_id)
  select u.poll_id, u.voter_id, u.event_id
  from unnest($1::text[], $2::text[], $3::uuid[]) as u(poll_id, voter_id, event_id)
  order by u.poll_id, u.voter_id
  on conflict do nothing`;

/**
 * Stores one batch in one transaction; the caller acks the messages only after this
 * resolves. Two paths, the same guarantees:
 * - direct (the common case): COPY straight into `votes`. The unique key on (poll_id,
 *   event_id) (migration 047), in the partition the event id's time names (migration 033: a
 *   resend lands in the same one), makes the whole COPY fail if any vote is already stored,
 *   so a success means every row is new, and the rollups are folded from the batch itself.
 *   It runs near a plain COPY into the table; the staging path below runs at about half
 *   that rate (bench:writer measures both against the same COPY).
 *   In a one-vote-per-voter poll it claims each voter's ballot first (claimBallots).
 * - staging (redeliveries, resends, a voter's second vote or a voter twice in the batch in
 *   a one-vote-per-voter poll, an event (poll and id) repeated in the batch): COPY into a
 *   staging table, then INSERT … ON CONFLICT DO NOTHING and rollups counting only the rows
 *   actually inserted.
 * On both, the person-days of the attendance events inserted are kept, and up to
 * `dirtyLimit` dirty ones (presence-upkeep.ts; the writer passes ATTENDANCE_DIRTY_BATCH).
 * With `keepDays` (VOTES_RETENTION_DAYS), votes whose event id time is older than that are
 * refused into rejected_votes on both paths (votes-retention.ts).
 */
export async function storeBatch(
  pool: Pool,
  stream: string,
  votes: readonly DecodedVote[],
  poison: readonly PoisonRow[],
  dirtyLimit = 0,
  completions: readonly StoredCompletion[] = [],
  keepDays: number | undefined = undefined,
): Promise<StoreResult> {
  const { kept, expired } = splitByRetention(votes, keepDays);
  // The same event id in two polls is two events (migration 047): the COPY stores both.
  if (kept.length > 0 && new Set(kept.map(eventKey)).size === kept.length) {
    const direct = await storeDirect(pool, stream, kept, expired, poison, dirtyLimit, completions);
    if (direct !== undefined) return direct;
  }
  return storeViaStaging(pool, stream, kept, expired, poison, dirtyLimit, completions);
}

/** An event's identity in a batch: its poll and event id (migration 047). */
const eventKey = (v: DecodedVote) => `${v.pollId}\u0000${v.eventId}`;

/** The events of `registers` among votes that were all inserted (the direct path). */
function registerEvents(
  votes: readonly DecodedVote[],
  registers: ReadonlyMap<string, RegisterSchool>,
): RegisterEvents {
  const events = noRegisterEvents();
  if (registers.size === 0) return events;
  for (const v of votes)
    if (v.voterId !== undefined && registers.has(v.pollId)) {
      events.pollIds.push(v.pollId);
      events.personIds.push(v.voterId);
      events.kinds.push(v.optionId);
      events.castAts.push(v.castAt);
      events.eventIds.push(v.eventId);
      events.temperatures.push(v.temperatureC ?? null);
    }
  return events;
}

/**
 * The ballots of the batch's votes in one-vote-per-voter polls, claimed in the caller's
 * transaction. False when the batch needs the staging path: a voter twice in the batch (the
 * earlier cast counts, which the staging path sorts out) or a ballot already taken. A batch
 * of first votes, the common case even in such polls, stays on the direct path: until
 * 2026-12-08 any vote with a voter in such a poll sent its whole batch through staging
 * (every batch of `npm run bench`'s day, whose check-in poll enforces it).
 */
async function claimBallots(
  client: PoolClient,
  votes: readonly DecodedVote[],
  votersIn: readonly string[],
): Promise<boolean> {
  const { rows } = await client.query<{ id: string }>(ENFORCING_POLLS, [votersIn]);
  if (rows.length === 0) return true;
  const enforcing = new Set(rows.map((r) => r.id));
  const claims = votes.filter((v) => v.voterId !== undefined && enforcing.has(v.pollId));
  if (new Set(claims.map((v) => `${v.pollId}\u0000${v.voterId}`)).size !== claims.length)
    return false;
  const { rowCount } = await client.query(CLAIM_BALLOTS_ARRAYS, [
    claims.map((v) => v.pollId),
    claims.map((v) => v.voterId),
    claims.map((v) => v.eventId),
  ]);
  return rowCount === claims.length;
}

/** Returns undefined when the batch needs the staging path (nothing was written then). */
async function storeDirect(
  pool: Pool,
  stream: string,
  batch: readonly DecodedVote[],
  expired: readonly DecodedVote[],
  poison: readonly PoisonRow[],
  dirtyLimit: number,
  completions: readonly StoredCompletion[],
): Promise<StoreResult | undefined> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("begin");
    const { kept: votes, deleted, registers } = await sortByPollIncarnation(client, batch);
    const votersIn = [
      ...new Set(votes.filter((v) => v.voterId !== undefined).map((v) => v.pollId)),
    ];
    if (votersIn.length > 0 && !(await claimBallots(client, votes, votersIn))) {
      await client.query("rollback");
      return undefined;
    }
    if (votes.length > 0)
      await pipeline(
        Readable.from(copyChunks(votes)),
        client.query(copyFrom(`copy votes (${STAGING_COLUMNS}) from stdin`)),
      );
    const buckets = new Map<string, { p: string; o: string; b: number; n: number }>();
    const polls = new Map<string, number>();
    for (const v of votes) {
      const b = Math.floor(Date.parse(v.castAt) / BUCKET_MS) * BUCKET_MS;
      const key = `${v.pollId}\u0000${v.optionId}\u0000${b}`;
      const entry = buckets.get(key);
      if (entry) entry.n++;
      else buckets.set(key, { p: v.pollId, o: v.optionId, b, n: 1 });
      polls.set(v.pollId, Math.max(polls.get(v.pollId) ?? 0, v.streamSeq));
    }
    const rows = [...buckets.values()];
    if (rows.length > 0)
      await client.query(MARK_AND_ROLL_UP_ARRAYS, [
        rows.map((r) => r.p),
        rows.map((r) => r.o),
        rows.map((r) => new Date(r.b)),
        rows.map((r) => r.n),
        [...polls.keys()],
        [...polls.values()],
      ]);
    const presence = await keepPresence(client, registerEvents(votes, registers), dirtyLimit);
    await keepRegisters(client, votes, completions);
    await rejectDeletedPollVotes(client, deleted);
    await rejectPastRetention(client, expired);
    await insertDeadLetters(client, stream, poison);
    await client.query("commit");
    return {
      received: batch.length + expired.length,
      inserted: votes.length,
      rejected: 0,
      duplicates: 0,
      conflicts: 0,
      pollDeleted: deleted.length,
      pastRetention: expired.length,
      deadLettered: poison.length,
      personDays: presence.personDays,
      path: "direct",
    };
  } catch (err) {
    broken = true;
    await client.query("rollback").catch(() => {});
    // 23505 unique_violation: some vote is already stored; the staging path sorts it out.
    if (pgCode(err) === "23505") return undefined;
    throw err;
  } finally {
    client.release(broken);
  }
}

async function insertDeadLetters(
  client: PoolClient,
  stream: string,
  poison: readonly PoisonRow[],
): Promise<void> {
  if (poison.length === 0) return;
  await client.query(INSERT_DEAD_LETTERS, [
    stream,
    poison.map((p) => p.streamSeq),
    poison.map((p) => p.msgId),
    poison.map((p) => p.itemIndex),
    poison.map((p) => p.subject),
    poison.map((p) => Buffer.from(p.raw)),
    poison.map((p) => p.error),
    poison.map((p) => p.deliveries),
    poison.map((p) => p.reason ?? "invalid"),
  ]);
}

async function storeViaStaging(
  pool: Pool,
  stream: string,
  batch: readonly DecodedVote[],
  expired: readonly DecodedVote[],
  poison: readonly PoisonRow[],
  dirtyLimit: number,
  completions: readonly StoredCompletion[],
): Promise<StoreResult> {
  const client = await pool.connect();
  let broken = false;
  try {
    if (!prepared.has(client)) {
      await client.query(CREATE_STAGING);
      prepared.add(client);
    }
    await client.query("begin");
    const { kept: votes, deleted, registers } = await sortByPollIncarnation(client, batch);
    let inserted = 0;
    let rejected = 0;
    let conflicts = 0;
    let events = noRegisterEvents();
    if (votes.length > 0) {
      await pipeline(
        Readable.from(copyChunks(votes)),
        client.query(copyFrom(`copy vote_staging (${STAGING_COLUMNS}) from stdin`)),
      );
      if (votes.some((v) => v.voterId !== undefined)) {
        await client.query(CLAIM_BALLOTS);
        rejected = (await client.query(REJECT_SECOND_VOTES)).rowCount ?? 0;
      }
      const { rows } = await client.query<
        { inserted: number; stored_duplicates: number } & RegisterEvents
      >(INSERT_AND_ROLL_UP, [[...registers.keys()]]);
      const r = rows[0]!;
      inserted = r.inserted;
      events = {
        pollIds: r.pollIds,
        personIds: r.personIds,
        kinds: r.kinds,
        castAts: r.castAts,
        eventIds: r.eventIds,
        temperatures: r.temperatures,
      };
      // A row neither inserted, refused nor a duplicate of a stored vote clashes with a
      // stored vote or repeats an id of this batch: look for conflicts only then, so a
      // redelivered batch (all duplicates) costs no conflict lookup at all.
      if (votes.length > inserted + rejected + rows[0]!.stored_duplicates)
        conflicts = (await client.query<{ conflicts: number }>(RECORD_CONFLICTS)).rows[0]!
          .conflicts;
    }
    const presence = await keepPresence(client, events, dirtyLimit);
    await keepRegisters(client, votes, completions);
    await rejectDeletedPollVotes(client, deleted);
    await rejectPastRetention(client, expired);
    await insertDeadLetters(client, stream, poison);
    await client.query("commit");
    return {
      received: batch.length + expired.length,
      inserted,
      rejected,
      duplicates: votes.length - inserted - rejected - conflicts,
      conflicts,
      pollDeleted: deleted.length,
      pastRetention: expired.length,
      deadLettered: poison.length,
      personDays: presence.personDays,
      path: "staging",
    };
  } catch (err) {
    broken = true;
    await client.query("rollback").catch(() => {});
    throw err;
  } finally {
    // A client that failed mid-COPY may be unusable: discard it rather than reuse it.
    client.release(broken);
  }
}
